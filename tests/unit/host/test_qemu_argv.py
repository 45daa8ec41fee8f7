"""The qemu command line: pure settings in, argv out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chaser.host.runtimes.qemu.argv import MachineConfig, build_argv, kernel_cmdline, workspace_hotplug

BASE = MachineConfig(
    accel="tcg",
    machine="q35",
    vcpus=2,
    memory_mib=256,
    kernel=Path("/img/vmlinuz"),
    initrd=Path("/img/initramfs.cpio.gz"),
    root_disk=Path("/run/vm/root.qcow2"),
    agent_disk=Path("/t/agent.ext4"),
    qmp_socket=Path("/run/vm/qmp.sock"),
    agent_socket=Path("/run/vm/agent.sock"),
    console_log=Path("/run/vm/console.log"),
    pidfile=Path("/run/vm/qemu.pid"),
    agent_token="tok",
)


def _opt(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_tcg_uses_q35_with_a_bounded_translation_cache() -> None:
    argv = build_argv(BASE)
    assert _opt(argv, "-machine") == ["q35"]
    assert _opt(argv, "-accel") == ["tcg,tb-size=16"]
    assert _opt(argv, "-cpu") == ["max"]
    assert _opt(argv, "-smp") == ["2"] and _opt(argv, "-m") == ["256M"]
    assert "-no-reboot" in argv and "-nodefaults" in argv
    assert "virtio-blk-pci,drive=root" in _opt(argv, "-device")
    assert "pcie-root-port,id=hp0,chassis=1,slot=1" in _opt(argv, "-device")
    assert "-incoming" not in argv


def test_kvm_uses_microvm_with_mmio_devices_and_the_pvm_cpu_workaround() -> None:
    argv = build_argv(replace(BASE, accel="kvm", machine="microvm"))
    assert _opt(argv, "-accel") == ["kvm"]
    assert _opt(argv, "-cpu") == ["host,-arch-capabilities"]
    assert _opt(argv, "-machine")[0].startswith("microvm")
    devices = _opt(argv, "-device")
    assert "virtio-blk-device,drive=root" in devices and "virtio-serial-device,id=vser" in devices
    assert not any(d.startswith("pcie-root-port") for d in devices)


def test_agent_channel_is_a_virtio_serial_port_on_a_listening_socket() -> None:
    argv = build_argv(BASE)
    assert "socket,id=agent,path=/run/vm/agent.sock,server=on,wait=off" in _opt(argv, "-chardev")
    assert "virtserialport,bus=vser.0,chardev=agent,name=agent0" in _opt(argv, "-device")
    assert "id=agent,file=/t/agent.ext4,format=raw,if=none,readonly=on" in _opt(argv, "-drive")
    cmdline = kernel_cmdline(BASE)
    assert "chaser.port=agent0" in cmdline and "chaser.token=tok" in cmdline


def test_template_shares_its_ram_file_and_restores_map_it_privately() -> None:
    template = build_argv(replace(BASE, memory_file=Path("/t/mem.ram"), memory_shared=True))
    assert _opt(template, "-machine") == ["q35,memory-backend=mem"]
    assert "memory-backend-file,id=mem,size=256M,mem-path=/t/mem.ram,share=on" in _opt(template, "-object")
    restored = build_argv(replace(BASE, memory_file=Path("/t/mem.ram"), memory_shared=False, incoming=True))
    assert "memory-backend-file,id=mem,size=256M,mem-path=/t/mem.ram,share=off" in _opt(restored, "-object")
    assert _opt(restored, "-incoming") == ["defer"]


def test_only_a_cold_boot_carries_the_kernel() -> None:
    # A restored VM's guest already runs; QEMU would hold the kernel in memory for nothing.
    cold = build_argv(BASE)
    assert _opt(cold, "-kernel") == ["/img/vmlinuz"] and _opt(cold, "-initrd") == ["/img/initramfs.cpio.gz"]
    assert _opt(cold, "-append") == [kernel_cmdline(BASE)]
    restored = build_argv(replace(BASE, memory_file=Path("/t/mem.ram"), memory_shared=False, incoming=True))
    assert not {"-kernel", "-initrd", "-append"} & set(restored)


def test_workspace_disk_at_boot_or_hot_plugged() -> None:
    argv = build_argv(replace(BASE, workspace_disk=Path("/d/ws.ext4")))
    assert any(d.startswith("id=ws,file=/d/ws.ext4,format=raw") for d in _opt(argv, "-drive"))
    (add, node), (dev, device) = workspace_hotplug(Path("/d/ws.ext4"))
    assert (add, dev) == ("blockdev-add", "device_add")
    assert node["file"] == {"driver": "file", "filename": "/d/ws.ext4"}
    assert device["bus"] == "hp0" and device["drive"] == "ws"


def test_rejects_unknown_accel_and_machine() -> None:
    with pytest.raises(ValueError):
        build_argv(replace(BASE, accel="hvf"))
    with pytest.raises(ValueError):
        build_argv(replace(BASE, machine="pc"))
