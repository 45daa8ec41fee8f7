"""Pure: slot addressing, names and rule text of chaser/host/network/plan.py."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from chaser.agent.guest_net import parse
from chaser.host.network import plan
from chaser.host.network.plan import Slot


def test_slots_are_disjoint_30s_inside_the_subnet() -> None:
    seen: set[str] = set()
    for index in (1, 2, 3, 1000, plan.SLOTS):
        slot = Slot(index)
        net = ipaddress.IPv4Network(f"{slot.host_addr}/30", strict=False)
        assert net.subnet_of(plan.SUBNET)
        assert {slot.host_addr, slot.vm_addr} <= {str(a) for a in net.hosts()}
        assert not seen & {slot.host_addr, slot.vm_addr}
        seen |= {slot.host_addr, slot.vm_addr}


@pytest.mark.parametrize("index", [0, -1, plan.SLOTS + 1])
def test_slot_out_of_range_is_refused(index: int) -> None:
    with pytest.raises(ValueError):
        Slot(index)


def test_interface_names_fit_the_kernels_limit() -> None:
    assert len(Slot(plan.SLOTS).host_if) <= 15
    assert Slot(255).host_if == "chvff"


def test_namespace_names_are_scoped_by_state_dir(tmp_path: Path) -> None:
    a, b = plan.scope(tmp_path / "a"), plan.scope(tmp_path / "b")
    assert a != b and len(a) == 8
    assert plan.netns_name(a, "vm1") != plan.netns_name(b, "vm1")
    assert plan.netns_name(a, "vm1").startswith(plan.netns_name(a, ""))


def test_netns_commands_add_a_tap_only_for_qemu() -> None:
    gvisor = plan.netns_commands(Slot(5), tap=False)
    qemu = plan.netns_commands(Slot(5), tap=True)
    assert not any("tap" in line for line in gvisor)
    assert f"route add default via {Slot(5).host_addr}" in gvisor
    assert f"link set {plan.TAP_IF} address {plan.GATEWAY_MAC}" in qemu


def test_host_ruleset_never_flushes_the_egress_set() -> None:
    rules = plan.host_ruleset()
    assert "flush set" not in rules and "flush table" not in rules
    assert "iifname . ip saddr @vm_egress accept" in rules
    # VM-to-VM is dropped before egress is considered.
    assert rules.index('oifname "chv*" drop') < rules.index("@vm_egress accept")


def test_egress_command() -> None:
    assert plan.egress_command(Slot(1), True) == 'add element inet chaser vm_egress { "chv1" . 10.231.0.6 }'
    assert plan.egress_command(Slot(1), False).startswith("delete element")


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ("console=ttyS0 chaser.net=10.0.2.15/24,10.0.2.2 quiet", ("10.0.2.15/24", "10.0.2.2")),
        ("console=ttyS0 quiet", None),
        ("chaser.net=10.0.2.15/24", None),
    ],
)
def test_guest_reads_its_address_from_the_kernel_command_line(
    cmdline: str, expected: tuple[str, str] | None
) -> None:
    assert parse(cmdline) == expected
