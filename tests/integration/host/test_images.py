"""OCI images from a real registry on loopback (Debian's docker-registry) holding images these
tests build and push themselves through the registry HTTP API; plus OCI layout dirs and archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zstandard

from chaser.host.client import HostError
from chaser.host.wire import ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """entries: (kind, name, data|linkname) with kind file|dir|sym|link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                assert isinstance(data, bytes)
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind in ("sym", "link"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = str(data)
            tar.addfile(info)
    return buf.getvalue()


class Registry:
    def __init__(self, url: str, root: Path) -> None:
        self.url, self.root = url, root
        self.host = url.removeprefix("http://")
        self.http = httpx.Client(base_url=url, timeout=120)

    def blob(self, repo: str, data: bytes) -> dict[str, object]:
        digest = _digest(data)
        location = self.http.post(f"/v2/{repo}/blobs/uploads/").raise_for_status().headers["location"]
        location += ("&" if "?" in location else "?") + f"digest={digest}"
        self.http.put(location, content=data,
                      headers={"Content-Type": "application/octet-stream"}).raise_for_status()  # fmt: skip
        return {"digest": digest, "size": len(data)}

    def image(self, repo: str, tag: str, layers: list[tuple[bytes, str]], push: bool = True) -> bytes:
        """layers: (blob, media type). Pushes config, layers and the manifest; returns the manifest."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **self.blob(repo, config)},
            "layers": [{"mediaType": media, **self.blob(repo, data)} for data, media in layers],
        }).encode()  # fmt: skip
        if push:
            self.manifest(repo, tag, manifest, OCI_MANIFEST)
        return manifest

    def manifest(self, repo: str, tag: str, body: bytes, media: str) -> None:
        self.http.put(f"/v2/{repo}/manifests/{tag}", content=body,
                      headers={"Content-Type": media}).raise_for_status()  # fmt: skip

    def blob_file(self, digest: str) -> Path:
        hexa = digest.split(":")[1]
        return self.root / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("needs docker-registry (apt-get install docker-registry)")
    root = Path(tempfile.mkdtemp(prefix="chaser-registry-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "docker-registry did not start"
            time.sleep(0.1)
        yield Registry(url, root)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daemon(image_cache: Path) -> Iterator[Daemon]:
    """A daemon whose image cache is a fresh temporary directory (pulls never touch the shared one)."""
    d = Daemon(Path(tempfile.mkdtemp(prefix="chaser-oci-cache-")))
    d.base_rootfs = (image_cache / "base" / "rootfs").resolve()  # type: ignore[attr-defined]
    try:
        d.start()
        yield d
    finally:
        d.destroy()
        shutil.rmtree(d.image_cache, ignore_errors=True)


def _tiny_layers() -> list[tuple[bytes, str]]:
    lower = _tar([
        ("dir", "usr", b""), ("dir", "usr/bin", b""), ("file", "usr/bin/python3", b"#!/bin/false\n"),
        ("file", "gone", b"lower"), ("dir", "d", b""), ("file", "d/x", b"x"), ("file", "d/y", b"y"),
        ("sym", "link", "d/x"), ("link", "hard", "d/x"),
    ])  # fmt: skip
    upper = _tar([("file", ".wh.gone", b""), ("file", "d/.wh..wh..opq", b""), ("file", "d/z", b"z")])
    return [
        (gzip.compress(lower), "application/vnd.oci.image.layer.v1.tar+gzip"),
        (zstandard.ZstdCompressor().compress(upper), "application/vnd.oci.image.layer.v1.tar+zstd"),
    ]


async def test_pull_unpack_whiteouts_index_and_cache(daemon: Daemon, registry: Registry) -> None:
    client = daemon.client()
    manifest = registry.image("tests/tiny", "v1", _tiny_layers())
    info = await client.pull_image(f"{registry.host}/tests/tiny:v1")
    assert info.digest == _digest(manifest)
    rootfs = Path(info.rootfs)
    assert rootfs == daemon.image_cache / f"oci-{info.digest.split(':')[1]}" / "rootfs"
    assert sorted(p.name for p in (rootfs / "d").iterdir()) == ["z"], "the opaque whiteout hid x and y"
    assert not (rootfs / "gone").exists(), "the whiteout removed the lower file"
    assert (rootfs / "hard").read_bytes() == b"x" and (rootfs / "link").is_symlink()
    assert (rootfs / "usr/bin/tini").read_text().startswith("#!/usr/bin/python3"), "tini stand-in"
    mtime = rootfs.stat().st_mtime_ns
    again = await client.pull_image(f"{registry.host}/tests/tiny@{info.digest}")
    assert again.rootfs == info.rootfs and rootfs.stat().st_mtime_ns == mtime, "unpacked once"

    arm_layer = gzip.compress(_tar([("file", "arm", b"")]))
    arm = registry.image(
        "tests/tiny", "arm", [(arm_layer, "application/vnd.oci.image.layer.v1.tar+gzip")], push=False
    )
    registry.manifest("tests/tiny", _digest(arm), arm, OCI_MANIFEST)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": _digest(arm), "size": len(arm),
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": OCI_MANIFEST, "digest": _digest(manifest), "size": len(manifest),
         "platform": {"os": "linux", "architecture": "amd64"}},
    ]}).encode()  # fmt: skip
    registry.manifest("tests/tiny", "multi", index, OCI_INDEX)
    multi = await client.pull_image(f"{registry.host}/tests/tiny:multi")
    assert multi.digest == info.digest, "the index resolved to the linux/amd64 manifest"

    with pytest.raises(HostError) as missing:
        await client.pull_image(f"{registry.host}/tests/tiny:nope")
    assert missing.value.code == "image_not_found"
    await client.aclose()


async def test_refused_images(daemon: Daemon, registry: Registry) -> None:
    client = daemon.client()
    gz = "application/vnd.oci.image.layer.v1.tar+gzip"
    registry.image("tests/nopy", "v1", [(gzip.compress(_tar([("file", "hello", b"hi")])), gz)])
    with pytest.raises(HostError) as nopy:
        await client.pull_image(f"{registry.host}/tests/nopy:v1")
    assert (nopy.value.code, nopy.value.status) == (
        "image_unsupported",
        400,
    ) and "python3" in nopy.value.message

    registry.image("tests/escape", "v1", [(gzip.compress(_tar([("file", "../../etc/evil", b"x")])), gz)])
    with pytest.raises(HostError) as escape:
        await client.pull_image(f"{registry.host}/tests/escape:v1")
    assert escape.value.code == "image_invalid"
    through = _tar([("sym", "etc", "/etc"), ("file", "etc/chaser-evil", b"x")])
    registry.image("tests/symlink", "v1", [(gzip.compress(through), gz)])
    with pytest.raises(HostError) as via_link:
        await client.pull_image(f"{registry.host}/tests/symlink:v1")
    assert via_link.value.code == "image_invalid" and not Path("/etc/chaser-evil").exists()

    layer = gzip.compress(_tar([("file", "usr/bin/python3", b"")]))
    registry.image("tests/corrupt", "v1", [(layer, gz)])
    registry.blob_file(_digest(layer)).write_bytes(
        gzip.compress(_tar([("file", "usr/bin/python3", b"evil")]))
    )
    with pytest.raises(HostError) as corrupt:
        await client.pull_image(f"{registry.host}/tests/corrupt:v1")
    assert corrupt.value.code == "image_invalid" and "digest" in corrupt.value.message
    assert not list(daemon.image_cache.glob(".oci-2*")), "no half-unpacked image is left"
    await client.aclose()


def _layout(root: Path, layers: list[tuple[bytes, str]]) -> None:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        (blobs / _digest(data).split(":")[1]).write_bytes(data)
        return {"digest": _digest(data), "size": len(data)}

    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                           "layers": [{"mediaType": m, **put(d)} for d, m in layers]}).encode()  # fmt: skip
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {"mediaType": OCI_MANIFEST, **put(manifest), "platform": {"os": "linux", "architecture": "amd64"}}
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


async def test_layout_directory_and_archive(daemon: Daemon, tmp_path: Path) -> None:
    client = daemon.client()
    _layout(tmp_path / "layout", _tiny_layers())
    from_dir = await client.pull_image(str(tmp_path / "layout"))
    with tarfile.open(tmp_path / "image.tar", "w") as tar:
        tar.add(tmp_path / "layout", arcname=".")
    from_tar = await client.pull_image(str(tmp_path / "image.tar"))
    assert from_dir.digest == from_tar.digest and (Path(from_tar.rootfs) / "d" / "z").read_text() == "z"
    await client.aclose()


async def test_boot_a_registry_image(daemon: Daemon, registry: Registry) -> None:
    """One real image: the base root filesystem as a single uncompressed layer, without tini
    (so the stand-in runs as PID 1), plus a marker file."""
    base = daemon.base_rootfs  # type: ignore[attr-defined]
    buf = io.BytesIO()
    started = time.monotonic()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(
            base, arcname=".", filter=lambda m: None if m.name in ("./usr/bin/tini", "usr/bin/tini") else m
        )
        marker = tarfile.TarInfo("etc/chaser-oci-marker")
        marker.size = 3
        tar.addfile(marker, io.BytesIO(b"oci"))
    registry.image("tests/base", "v1", [(buf.getvalue(), "application/vnd.oci.image.layer.v1.tar")])
    build_s = time.monotonic() - started
    client = daemon.client()
    started = time.monotonic()
    ref = f"{registry.host}/tests/base:v1"
    await client.pull_image(ref)
    pull_s = time.monotonic() - started
    print(f"\nbase image as one layer: {len(buf.getvalue()) / 1e6:.0f} MB, build+push {build_s:.1f}s, "
          f"pull+unpack {pull_s:.1f}s")  # fmt: skip
    await client.create_vm(VmSpec(vm_id="oci", image=ref))
    out = await client.exec("oci", ExecRequest(command="cat /etc/chaser-oci-marker; head -c 2 /usr/bin/tini"))
    assert out.output == "oci#!"
    assert (await client.get_vm("oci")).image == ref
    await client.stop_vm("oci")
    await client.aclose()
