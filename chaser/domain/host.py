"""The control plane's handle on the host daemon, and the one boundary where host-client
exceptions become domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chaser.domain import errors
from chaser.host.client import HostClient, HostError
from chaser.host.client import HostUnavailable as ClientUnavailable

EXEC_TIMEOUT_S = 3_700.0  # the longest exec (1 h) plus margin


@dataclass
class Host:
    """Three clients to the same daemon, differing only in how long they wait: `client` for
    ordinary calls, `fast` for reads on the request path (a hung daemon must not stall a
    `GET /v1/sessions`), `slow` for exec."""

    client: HostClient
    fast: HostClient
    slow: HostClient

    @classmethod
    def connect(cls, base_url: str, token: str) -> Host:
        return cls(
            client=HostClient(base_url, token, timeout_s=120.0),
            fast=HostClient(base_url, token, timeout_s=5.0),
            slow=HostClient(base_url, token, timeout_s=EXEC_TIMEOUT_S),
        )

    async def aclose(self) -> None:
        for c in (self.client, self.fast, self.slow):
            await c.aclose()


def translate(exc: HostError) -> errors.ChaserError:
    """By the daemon's code first, then by its status: a 4xx about the request (a directory
    where a file was expected, an unknown user, ...) is the caller's `invalid_request`; anything
    else is the host's failure (502)."""
    if exc.code == "agent_unavailable":
        return errors.HostUnavailable(f"the session's guest agent is not reachable: {exc.message}")
    if exc.code.startswith("image_"):  # image_not_found, image_invalid, image_pull_failed, ...
        return errors.InvalidField(
            f"image: {exc.message} (use the local image `base` or an OCI reference this host can pull)"
        )
    if exc.code == "disk_busy":
        return errors.WorkspaceBusy(f"the workspace disk is attached to a running session: {exc.message}")
    if exc.code == "snapshot_not_found":
        return errors.SnapshotNotFound(exc.message)
    if exc.code == "import_failed":
        return errors.InvalidRequest(f"git import failed: {exc.message}")
    if exc.code == "file_not_found":
        return errors.FileNotFound(exc.message)
    if exc.code == "command_not_found":
        return errors.CommandNotFound(exc.message)
    if exc.code == "pty_not_found":
        return errors.PtyNotFound(exc.message)
    if exc.code in ("port_refused", "port_unreachable"):
        return errors.PortUnreachable(exc.message)
    if exc.code == "too_large" or exc.status == 413:
        return errors.TooLarge(exc.message)
    if exc.code == "concurrency_limit" or exc.status == 429:
        return errors.ConcurrencyLimit(exc.message)
    if exc.code == "no_space" or exc.status == 507:
        return errors.InvalidRequest(f"no space left on the disk: {exc.message}")
    if exc.status == 400:
        return errors.InvalidRequest(exc.message)
    if exc.status == 403:
        return errors.Forbidden(f"permission denied inside the session: {exc.message}")
    return errors.HostFailure(f"host daemon error {exc.code}: {exc.message}")


@contextmanager
def host_errors(action: str = "") -> Iterator[None]:
    """Wrap host calls: unreachable → `HostUnavailable` (503), error bodies → domain errors."""
    try:
        yield
    except ClientUnavailable as exc:
        raise errors.HostUnavailable() from exc
    except HostError as exc:
        err = translate(exc)
        if action and isinstance(err, errors.HostFailure):
            err = errors.HostFailure(f"{action} failed: {err.message}")
        raise err from exc
