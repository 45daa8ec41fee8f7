"""Pure: the termination reason a session gets from its stopped VM."""

from __future__ import annotations

import pytest

from chaser.domain.sessions import termination_reason
from chaser.host.wire import VmInfo, VmState


def vm(cause: str | None) -> VmInfo:
    return VmInfo(
        vm_id="v", state=VmState.STOPPED, runtime="qemu", accel="tcg", image="base", disk_id=None,
        created_at=0.0, exit_cause=cause,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("info", "reason"),
    [(vm("memory_limit"), "memory_limit_exceeded"), (vm(None), "vm_exited"), (None, "vm_exited")],
)
def test_termination_reason(info: VmInfo | None, reason: str) -> None:
    assert termination_reason(info) == reason
