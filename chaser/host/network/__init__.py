"""VM networking: a network namespace per VM, NAT egress by session, isolation between VMs."""

from chaser.host.network.manager import HostNetwork, VmNetwork, network_missing

__all__ = ["HostNetwork", "VmNetwork", "network_missing"]
