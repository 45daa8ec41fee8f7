"""Chaser's Python SDK: `AsyncClient` (the implementation) and `Client` (its blocking face).

    from chaser.sdk import Client
    with Client() as chaser:                       # CHASER_API_URL, CHASER_API_KEY, CHASER_ACCOUNT
        box = chaser.sessions.create()             # an ephemeral sandbox
        print(chaser.exec(box["id"], "uname -a")["output"])
        chaser.sessions.terminate(box["id"])

Errors are raised from the server's `error.code`: `NotFound`, `Conflict`, `Unauthorized`, ...,
all subclasses of `ChaserError`, whose message is the server's own (it names the fix).
"""

from chaser.sdk._client import AsyncClient, Client
from chaser.sdk._errors import (
    ChaserError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    HostUnavailable,
    InsufficientScope,
    InvalidRequest,
    NotFound,
    PaymentRequired,
    PortUnreachable,
    RateLimited,
    ServerError,
    StreamClosed,
    TooLarge,
    Unauthorized,
)
from chaser.sdk._exec import CommandEvent
from chaser.sdk._http import DEFAULT_API_URL
from chaser.sdk._pty import AsyncPty, AsyncTunnel

__all__ = [
    "DEFAULT_API_URL",
    "AsyncClient",
    "AsyncPty",
    "AsyncTunnel",
    "ChaserError",
    "Client",
    "CommandEvent",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "HostUnavailable",
    "InsufficientScope",
    "InvalidRequest",
    "NotFound",
    "PaymentRequired",
    "PortUnreachable",
    "RateLimited",
    "ServerError",
    "StreamClosed",
    "TooLarge",
    "Unauthorized",
]
