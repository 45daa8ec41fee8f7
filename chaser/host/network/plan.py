"""Pure: the names, addresses and rules of a VM's network; no side effects, unit-tested.

Every VM gets its own network namespace, joined to the host by a veth pair:

    guest ── (gVisor: the netns' eth0 itself | QEMU: tap0, NATed in the netns) ── eth0 ══ chv<slot> ── host

- Each VM owns a /30 of `SUBNET` (its *slot*): the host end `chv<slot>` is .1, the netns' `eth0`
  is .2. The root namespace routes and filters by these addresses.
- QEMU guests all use the same inside address (`GUEST_ADDR` behind `GUEST_GATEWAY` on `tap0`):
  they are restored from one template snapshot, whose network config is frozen in it. The netns
  masquerades them to its slot address, so the host still tells them apart.
- One nftables table `inet chaser` in the root namespace holds the policy for every VM of every
  daemon on the host: forwarded traffic from a VM is accepted only if its (interface, address) pair
  is in the set `vm_egress` (its session has `internet_access`; the pair, so that a guest that
  takes another VM's address gains nothing), never towards another VM or link-local/metadata
  addresses; nothing from a VM reaches the host itself (its APIs) except replies.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

SUBNET = ipaddress.IPv4Network("10.231.0.0/16")
SLOTS = SUBNET.num_addresses // 4 - 1  # slot 0 is kept out (its .0/.1 look like the network's)
HOST_PREFIX = "chv"  # host-side veth names: chv<slot in hex>, at most 15 characters
NS_PREFIX = "chaser-"
INSIDE_IF = "eth0"
TAP_IF = "tap0"
GUEST_ADDR = "10.0.2.15/24"  # QEMU guests, the same in every VM (frozen in the template)
GUEST_GATEWAY = "10.0.2.2"
GATEWAY_MAC = "02:ca:5e:00:00:01"  # tap0's MAC in every netns, so the template's ARP entry holds
GUEST_MAC = "52:54:00:ca:5e:01"
TABLE = "chaser"
EGRESS_SET = "vm_egress"
BLOCKED_DESTINATIONS = ("169.254.0.0/16",)  # link-local: cloud metadata services live here


@dataclass(frozen=True)
class Slot:
    index: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= SLOTS:
            raise ValueError(f"slot {self.index} out of range 1..{SLOTS}")

    @property
    def _base(self) -> int:
        return int(SUBNET.network_address) + 4 * self.index

    @property
    def host_addr(self) -> str:
        return str(ipaddress.IPv4Address(self._base + 1))

    @property
    def vm_addr(self) -> str:
        """The address the VM's traffic carries when it reaches the host (its netns' eth0)."""
        return str(ipaddress.IPv4Address(self._base + 2))

    @property
    def host_if(self) -> str:
        return f"{HOST_PREFIX}{self.index:x}"


def scope(state_dir: Path) -> str:
    """A short tag of one daemon's state dir: two daemons may both run a VM called `x`."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


def netns_name(scope_tag: str, sandbox_id: str) -> str:
    return f"{NS_PREFIX}{scope_tag}-{sandbox_id}"


def root_commands(slot: Slot, netns: str) -> list[str]:
    """`ip -batch` lines, run in the root namespace: the veth pair, the host end's address."""
    return [
        f"link add {slot.host_if} type veth peer name {INSIDE_IF} netns {netns}",
        f"addr add {slot.host_addr}/30 dev {slot.host_if}",
        f"link set {slot.host_if} up",
    ]


def netns_commands(slot: Slot, tap: bool) -> list[str]:
    """`ip -n <netns> -batch` lines: loopback, eth0 with the slot address, default route; with
    `tap`, the QEMU guest's tap0 as its gateway."""
    lines = [
        "link set lo up",
        f"addr add {slot.vm_addr}/30 dev {INSIDE_IF}",
        f"link set {INSIDE_IF} up",
        f"route add default via {slot.host_addr}",
    ]
    if tap:
        gateway_prefix = GUEST_ADDR.split("/")[1]
        lines += [
            f"tuntap add {TAP_IF} mode tap",
            f"link set {TAP_IF} address {GATEWAY_MAC}",
            f"addr add {GUEST_GATEWAY}/{gateway_prefix} dev {TAP_IF}",
            f"link set {TAP_IF} up",
        ]
    return lines


def netns_ruleset() -> str:
    """nftables inside a QEMU VM's netns: masquerade the guest to the slot address."""
    return (
        "table ip chaser_vm {\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    oifname "{INSIDE_IF}" masquerade\n'
        "  }\n"
        "}\n"
    )


def host_ruleset() -> str:
    """The root namespace's table, for `nft -f`. Idempotent: chains are flushed and refilled;
    the egress set is created if missing and never flushed (other daemons' VMs are in it)."""
    vms = f'"{HOST_PREFIX}*"'
    blocked = ", ".join(BLOCKED_DESTINATIONS)
    return "\n".join(
        [
            f"add table inet {TABLE}",
            f"add set inet {TABLE} {EGRESS_SET} {{ type ifname . ipv4_addr; }}",
            _chain("input", "filter", "input", "filter - 10"),
            _chain("forward", "filter", "forward", "filter - 10"),
            _chain("postrouting", "nat", "postrouting", "srcnat - 10"),
            f"flush chain inet {TABLE} input",
            f"flush chain inet {TABLE} forward",
            f"flush chain inet {TABLE} postrouting",
            # The host's own services: a VM gets replies to nothing it did not start, and starts nothing.
            f"add rule inet {TABLE} input iifname {vms} ct state established,related accept",
            f"add rule inet {TABLE} input iifname {vms} drop",
            f"add rule inet {TABLE} forward iifname {vms} oifname {vms} drop",
            f"add rule inet {TABLE} forward iifname {vms} ip daddr {{ {blocked} }} drop",
            f"add rule inet {TABLE} forward iifname . ip saddr @{EGRESS_SET} accept",
            f"add rule inet {TABLE} forward iifname {vms} drop",
            f"add rule inet {TABLE} forward oifname {vms} ct state established,related accept",
            f"add rule inet {TABLE} forward oifname {vms} drop",
            f"add rule inet {TABLE} postrouting ip saddr {SUBNET} oifname != {vms} masquerade",
            "",
        ]
    )


def _chain(name: str, kind: str, hook: str, priority: str) -> str:
    return f"add chain inet {TABLE} {name} {{ type {kind} hook {hook} priority {priority}; policy accept; }}"


def egress_command(slot: Slot, allowed: bool) -> str:
    verb = "add" if allowed else "delete"
    return f'{verb} element inet {TABLE} {EGRESS_SET} {{ "{slot.host_if}" . {slot.vm_addr} }}'
