"""Workspace storage: snapshot, restore and clone of a disk holding 1 GiB of written data.

Each operation goes through a real host daemon's internal API (the client the control plane
uses), on its storage pool (a reflink XFS pool unless `--pool off`). Beside it, in the same run,
a plain `cp --sparse=always` of the same disk image on the data directory's own filesystem
(timed with a `sync` of the copy, as in docs vm-lab §9).

Extra bytes: for pool operations, the growth of the pool filesystem's used blocks (statvfs,
after `sync -f`); for the plain copy, the copy's own allocation (st_blocks * 512).
Also measured: a forced (frozen) snapshot of the same disk attached to a running sandbox.

Usage (root, runsc): .venv/bin/python bench/storage.py [--runs 5] [--data-mib 1024] [--pool auto|off]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _harness import REPO, percentiles, report

sys.path.insert(0, str(REPO))
from chaser.host.client import HostClient
from chaser.host.wire import DiskSpec, VmSpec

TOKEN = "bench-token"
MiB = 1024**2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def host_daemon(pool: str) -> Iterator[tuple[str, Path]]:
    state = Path(tempfile.mkdtemp(prefix="chb-", dir="/tmp"))
    port = _free_port()
    env = {
        **os.environ,
        "CHASER_HOST_STATE_DIR": str(state),
        "CHASER_HOST_PORT": str(port),
        "CHASER_HOST_TOKEN": TOKEN,
        "CHASER_HOST_WARM_POOL_SIZE": "0",
        "CHASER_HOST_STORAGE_POOL": pool,
    }
    log = open(state.parent / f"{state.name}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "chaser.host"], cwd=REPO, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["curl", "-sf", "-H", f"Authorization: Bearer {TOKEN}", f"{url}/info"], capture_output=True
        ).returncode:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"host daemon did not start; see {log.name}")
            time.sleep(0.1)
        yield url, state
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        out = subprocess.run(
            ["runsc", f"--root={state / 'runsc-root'}", "list", "-q"], capture_output=True, text=True
        )
        for vm in out.stdout.split():
            subprocess.run(["runsc", f"--root={state / 'runsc-root'}", "delete", "--force", vm], check=False)
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(f"{state}/")]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(state, ignore_errors=True)
        Path(log.name).unlink(missing_ok=True)


def used_bytes(path: Path) -> int:
    subprocess.run(["sync", "-f", str(path)], check=True)
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def fill(image: Path, data_mib: int) -> None:
    """Write `data_mib` of random data into the (detached) disk, from the host."""
    with tempfile.TemporaryDirectory(prefix="chb-fill-") as point:
        subprocess.run(["mount", "-o", "loop", str(image), point], check=True)
        try:
            subprocess.run(
                ["dd", "if=/dev/urandom", f"of={point}/data", "bs=1M", f"count={data_mib}", "status=none"],
                check=True,
            )
            for i in range(200):
                Path(point, f"small-{i}").write_text(f"file {i}\n" * 100)
        finally:
            subprocess.run(["umount", point], check=True)


async def timed(samples: list[float], extra: list[int], fs: Path, op) -> None:  # type: ignore[no-untyped-def]
    before = used_bytes(fs)
    start = time.perf_counter()
    await op()
    samples.append((time.perf_counter() - start) * 1000)
    extra.append(used_bytes(fs) - before)


async def run(args: argparse.Namespace) -> None:
    with host_daemon(args.pool) as (url, state):
        client = HostClient(url, TOKEN)
        info = await client.info()
        disk = await client.create_disk(DiskSpec(disk_id="ws", size_bytes=(args.data_mib + 1024) * MiB))
        image = (state / "disks" / "ws.ext4").resolve()
        fill(image, args.data_mib)
        disk = await client.get_disk("ws")
        fs = image.parent
        rows: dict[str, tuple[list[float], list[int]]] = {
            k: ([], []) for k in ("snapshot", "restore", "clone", "snapshot, attached (frozen)", "cp")
        }
        for i in range(args.runs):
            await timed(*rows["snapshot"], fs, lambda i=i: client.create_snapshot("ws", f"s{i}"))
            await timed(*rows["restore"], fs, lambda i=i: client.restore_snapshot("ws", f"s{i}"))
            await timed(*rows["clone"], fs, lambda i=i: client.clone_disk("ws", f"c{i}"))
        await client.create_vm(VmSpec(vm_id="live", disk_id="ws"))
        for i in range(args.runs):
            await timed(
                *rows["snapshot, attached (frozen)"], fs,
                lambda i=i: client.create_snapshot("ws", f"live{i}", force=True),
            )  # fmt: skip
        await client.stop_vm("live")
        plain_dir = Path(tempfile.mkdtemp(prefix="chb-cp-", dir=REPO / "bench"))
        try:
            for i in range(args.runs):
                copy = plain_dir / f"copy{i}.ext4"
                start = time.perf_counter()
                subprocess.run(["cp", "--sparse=always", str(image), str(copy)], check=True)
                subprocess.run(["sync", str(copy)], check=True)
                rows["cp"][0].append((time.perf_counter() - start) * 1000)
                rows["cp"][1].append(copy.stat().st_blocks * 512)
                copy.unlink()
        finally:
            shutil.rmtree(plain_dir, ignore_errors=True)
        await client.aclose()

    labels = {
        "snapshot": f"snapshot (detached, {'reflink' if info.reflink else 'sparse copy'})",
        "restore": "restore",
        "clone": "clone",
        "snapshot, attached (frozen)": "snapshot of an attached disk (sync + fsfreeze + copy)",
        "cp": "baseline: cp --sparse=always + sync (data dir fs)",
    }
    table = [(labels[k], percentiles(ms)) for k, (ms, _) in rows.items()]
    extra_mib = {labels[k]: round(max(b) / MiB, 3) for k, (_, b) in rows.items()}
    report(
        "storage",
        table,
        {
            "reflink": info.reflink,
            "pool": args.pool,
            "disk_size_bytes": disk.size_bytes,
            "disk_allocated_bytes": disk.allocated_bytes,
            "extra_mib_on_disk_max": extra_mib,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-mib", type=int, default=1024)
    parser.add_argument("--pool", choices=("auto", "off"), default="auto")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
