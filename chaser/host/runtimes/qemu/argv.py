"""Pure: a VM's machine settings in, the qemu-system-x86_64 command line out.

- Machine: `microvm` under KVM (virtio-mmio, no firmware); `q35` under TCG, where microvm's timer
  calibration hangs in about half of the boots (vm-lab §4.2). q35 also carries a PCIe root port so
  a workspace disk can be hot-plugged into a VM restored from a template that had none.
- TCG always gets an explicit `tb-size`: the default translation cache is hundreds of MB per VM.
- Guest RAM can live in a file: the template writes its RAM through a shared mapping (`share=on`),
  and restored VMs map that file privately (`share=off`), so idle VMs share the template's pages
  copy-on-write, and with migration capability `x-ignore-shared` the state file carries no RAM.
- The agent channel is a virtio-serial port backed by a unix socket QEMU listens on.
- With a network namespace, QEMU starts inside it (`nsenter --net`) and opens the namespace's
  `tap0`; the guest's address comes from the kernel command line (`chaser.net=`), the same in every
  VM, since all of a template's VMs share its frozen network config (see chaser/host/network).
- A restored VM (`incoming`) gets no `-kernel`/`-initrd`: its guest is already running, and QEMU
  would keep the whole kernel in fw_cfg memory for the VM's lifetime (13.5 MiB of the Debian cloud
  kernel, a fifth of an idle VM). fw_cfg's files are not in the migration stream, so the template
  (booted with them) restores the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaser.host.network import plan as net_plan

AGENT_PORT = "agent0"
HOTPLUG_BUS = "hp0"


@dataclass(frozen=True)
class MachineConfig:
    accel: str  # "tcg" | "kvm"
    machine: str  # "q35" | "microvm"
    vcpus: int
    memory_mib: int
    kernel: Path
    initrd: Path
    root_disk: Path  # qcow2 overlay (per VM, or the template's)
    agent_disk: Path  # raw ext4 holding chaser/agent, attached read-only
    qmp_socket: Path
    agent_socket: Path
    console_log: Path
    pidfile: Path
    hostname: str = "chaser"
    agent_token: str = ""
    memory_file: Path | None = None
    memory_shared: bool = True  # True: the template (writes RAM to the file); False: a restored VM
    incoming: bool = False  # wait for `migrate-incoming` over QMP (`-incoming defer`)
    workspace_disk: Path | None = None  # raw ext4 attached at boot (cold boots only)
    tb_size_mib: int = 16
    netns: Path | None = None  # run inside this network namespace, with a NIC on its tap0


def kernel_cmdline(cfg: MachineConfig) -> str:
    args = [
        "console=ttyS0",
        "panic=-1",
        "quiet",
        "chaser.init=/sbin/chaser-init",
        f"chaser.hostname={cfg.hostname}",
        f"chaser.port={AGENT_PORT}",
    ]
    if cfg.agent_token:
        args.append(f"chaser.token={cfg.agent_token}")
    if cfg.netns is not None:
        args.append(f"chaser.net={net_plan.GUEST_ADDR},{net_plan.GUEST_GATEWAY}")
    if cfg.machine == "microvm":
        args.append("reboot=t")
    return " ".join(args)


def build_argv(cfg: MachineConfig, binary: str = "qemu-system-x86_64") -> list[str]:
    if cfg.accel not in ("tcg", "kvm"):
        raise ValueError(f"unknown accel {cfg.accel!r}")
    if cfg.machine not in ("q35", "microvm"):
        raise ValueError(f"unknown machine {cfg.machine!r}")
    mmio = cfg.machine == "microvm"
    blk, serial, rng, nic = (
        ("virtio-blk-device", "virtio-serial-device", "virtio-rng-device", "virtio-net-device")
        if mmio
        else ("virtio-blk-pci", "virtio-serial-pci", "virtio-rng-pci", "virtio-net-pci")
    )
    machine = "microvm,pit=off,pic=off,rtc=on,isa-serial=on" if mmio else "q35"
    if cfg.memory_file is not None:
        machine += ",memory-backend=mem"
    argv = [
        binary,
        "-name", "chaser",
        "-machine", machine,
        "-accel", f"tcg,tb-size={cfg.tb_size_mib}" if cfg.accel == "tcg" else "kvm",
        # PVM hosts reject the arch-capabilities MSR (vm-lab §4.1); TCG emulates everything.
        "-cpu", "host,-arch-capabilities" if cfg.accel == "kvm" else "max",
        "-smp", str(cfg.vcpus),
        "-m", f"{cfg.memory_mib}M",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-chardev", f"file,id=con,path={cfg.console_log}",
        "-serial", "chardev:con",
        "-drive", f"id=root,file={cfg.root_disk},format=qcow2,if=none,cache=writeback,discard=unmap",
        "-device", f"{blk},drive=root",
        "-drive", f"id=agent,file={cfg.agent_disk},format=raw,if=none,readonly=on",
        "-device", f"{blk},drive=agent",
        "-device", f"{serial},id=vser",
        "-chardev", f"socket,id=agent,path={cfg.agent_socket},server=on,wait=off",
        "-device", f"virtserialport,bus=vser.0,chardev=agent,name={AGENT_PORT}",
        "-object", "rng-random,id=rng,filename=/dev/urandom",
        "-device", f"{rng},rng=rng",
        "-qmp", f"unix:{cfg.qmp_socket},server=on,wait=off",
        "-pidfile", str(cfg.pidfile),
    ]  # fmt: skip
    if not cfg.incoming:
        argv += ["-kernel", str(cfg.kernel), "-initrd", str(cfg.initrd), "-append", kernel_cmdline(cfg)]
    if cfg.memory_file is not None:
        share = "on" if cfg.memory_shared else "off"
        argv += [
            "-object",
            f"memory-backend-file,id=mem,size={cfg.memory_mib}M,mem-path={cfg.memory_file},share={share}",
        ]
    if cfg.netns is not None:
        argv = ["nsenter", f"--net={cfg.netns}", "--", *argv]
        argv += [
            "-netdev", f"tap,id=net0,ifname={net_plan.TAP_IF},script=no,downscript=no",
            "-device", f"{nic},netdev=net0,mac={net_plan.GUEST_MAC}",
        ]  # fmt: skip
    if not mmio:
        argv += ["-device", f"pcie-root-port,id={HOTPLUG_BUS},chassis=1,slot=1"]
    if cfg.workspace_disk is not None:
        argv += [
            "-drive", f"id=ws,file={cfg.workspace_disk},format=raw,if=none,cache=writeback,discard=unmap",
            "-device", f"{blk},drive=ws",
        ]  # fmt: skip
    if cfg.incoming:
        argv += ["-incoming", "defer"]
    return argv


def workspace_hotplug(image: Path) -> list[tuple[str, dict[str, object]]]:
    """The QMP commands that attach a workspace disk to a running q35 VM."""
    return [
        (
            "blockdev-add",
            {
                "node-name": "ws",
                "driver": "raw",
                "discard": "unmap",
                "file": {"driver": "file", "filename": str(image)},
            },
        ),
        ("device_add", {"driver": "virtio-blk-pci", "drive": "ws", "id": "ws-dev", "bus": HOTPLUG_BUS}),
    ]
