"""The SDK's public surface: nothing appears or disappears by accident (update both lists on purpose)."""

from __future__ import annotations

import chaser.sdk

EXPECTED = {
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
}


def test_all_is_the_expected_surface() -> None:
    assert set(chaser.sdk.__all__) == EXPECTED
    assert len(chaser.sdk.__all__) == len(set(chaser.sdk.__all__))


def test_every_public_name_is_in_all() -> None:
    public = {name for name in vars(chaser.sdk) if not name.startswith("_")}
    assert public == set(chaser.sdk.__all__)


def test_exports_come_from_private_modules() -> None:
    for name in chaser.sdk.__all__:
        value = getattr(chaser.sdk, name)
        module = getattr(value, "__module__", "chaser.sdk._")
        assert module.startswith("chaser.sdk._"), (name, module)


def test_errors_share_one_base() -> None:
    for name in chaser.sdk.__all__:
        value = getattr(chaser.sdk, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, chaser.sdk.ChaserError), name
