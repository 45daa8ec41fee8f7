"""OCI images: references, sources (registry, layout directory, archive), pull and unpack once.

A reference is `registry/name:tag`, `registry/name@sha256:...` (`name:tag` and `owner/name` mean
Docker Hub), an absolute path to an OCI layout directory (holding `oci-layout`, `index.json`,
`blobs/`), or an absolute path to a `.tar` of one. Plain names such as `base` are not references:
they are images built locally (see `cache.py`).

Pulled images are unpacked once into `<cache>/oci-<manifest hex>/rootfs` (built under a temporary
name, then renamed), and `<cache>/.oci-refs/` remembers which digest a reference resolved to, so
later resolves need no network. Index/manifest lists pick linux/amd64. Every blob's digest is
checked; a mismatch refuses the image.

What the sandbox needs from an image: `/usr/bin/python3` (the agent is Python, bind-mounted at
/opt/chaser at boot); an image without it is refused with `image_unsupported`. If the image has
no `/usr/bin/tini` (PID 1 in the gVisor spec), a small Python stand-in is written there that
runs the agent, forwards signals and reaps orphans.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chaser.host.errors import DaemonError, ImageNotFound
from chaser.host.images.registry import Registry, verify
from chaser.host.images.unpack import ImageInvalid, apply_layer

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
PLATFORM = ("linux", "amd64")
DOCKER_HUB = "registry-1.docker.io"

TINI_STANDIN = """#!/usr/bin/python3
# chaser: PID 1 for an image without tini. Runs the command after "--", forwards signals to it,
# reaps orphans, and exits with its status.
import os, signal, sys
args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
child = os.fork()
if child == 0:
    os.execvp(args[0], args)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(sig, lambda n, _f: os.kill(child, n))
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        sys.exit(0)
    if pid == child:
        code = os.waitstatus_to_exitcode(status)
        sys.exit(128 - code if code < 0 else code)
"""


class ImageUnsupported(DaemonError):
    """The image cannot run as a sandbox (e.g. it has no python3 for the agent)."""

    code = "image_unsupported"
    status = 400


def is_reference(name: str) -> bool:
    return name.startswith("/") or any(c in name for c in "/:@")


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    reference: str  # a tag or a digest

    @classmethod
    def parse(cls, text: str) -> Reference:
        name, digest = text, None
        if "@" in text:
            name, digest = text.split("@", 1)
        tag = None
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, tag = name.rsplit(":", 1)
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = DOCKER_HUB, name if "/" in name else f"library/{name}"
        if not repository or (digest is not None and not digest.startswith("sha256:")):
            raise ImageNotFound(f"invalid image reference {text!r}")
        return cls(registry, repository, digest or tag or "latest")


class Source(Protocol):
    def manifest(self, reference: str) -> tuple[bytes, str, str]: ...
    def blob(self, digest: str, dest: Path) -> None: ...


class RegistrySource:
    def __init__(self, ref: Reference, auth: tuple[str, str] | None = None) -> None:
        self.ref = ref
        self.registry = Registry(ref.registry, *(auth or (None, None)))

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        return self.registry.manifest(self.ref.repository, reference)

    def blob(self, digest: str, dest: Path) -> None:
        self.registry.blob(self.ref.repository, digest, dest)


class LayoutSource:
    """An OCI image layout directory. `manifest("")` is the image index."""

    def __init__(self, root: Path) -> None:
        if not (root / "oci-layout").is_file() or not (root / "index.json").is_file():
            raise ImageNotFound(f"{root} is not an OCI image layout (no oci-layout / index.json)")
        self.root = root

    def _path(self, digest: str) -> Path:
        algo, _, hexa = digest.partition(":")
        if algo != "sha256" or len(hexa) != 64 or not all(c in "0123456789abcdef" for c in hexa):
            raise ImageInvalid(f"bad digest {digest!r}")
        return self.root / "blobs" / "sha256" / hexa

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        if reference == "":
            body = (self.root / "index.json").read_bytes()
            return body, INDEX_TYPES[0], "sha256:" + hashlib.sha256(body).hexdigest()
        body = self._path(reference).read_bytes()
        verify(body, reference)
        return body, json.loads(body).get("mediaType", ""), reference

    def blob(self, digest: str, dest: Path) -> None:
        hasher = hashlib.sha256()
        with open(self._path(digest), "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(1024 * 1024):
                hasher.update(chunk)
                out.write(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            dest.unlink()
            raise ImageInvalid(f"blob {digest} in {self.root} does not match its digest")


def _pick_platform(index: dict[str, Any]) -> str:
    manifests = index.get("manifests") or []
    for entry in manifests:
        platform = entry.get("platform") or {}
        if (platform.get("os"), platform.get("architecture")) == PLATFORM:
            return str(entry["digest"])
    plain = [m for m in manifests if not m.get("platform")]
    if len(plain) == 1:
        return str(plain[0]["digest"])
    raise ImageUnsupported("the image has no linux/amd64 manifest")


def _platform_manifest(source: Source, reference: str) -> tuple[dict[str, Any], str]:
    body, media, digest = source.manifest(reference)
    for _ in range(3):  # an index may point at another index
        doc = json.loads(body)
        if media in INDEX_TYPES or doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
            body, media, digest = source.manifest(_pick_platform(doc))
            continue
        return doc, digest
    raise ImageInvalid("image index nesting is too deep")


def _finish_rootfs(rootfs: Path) -> None:
    python = rootfs / "usr" / "bin" / "python3"
    if not os.path.lexists(python):
        raise ImageUnsupported("the image has no /usr/bin/python3, which the chaser agent needs")
    tini = rootfs / "usr" / "bin" / "tini"
    if not os.path.lexists(tini):
        tini.write_text(TINI_STANDIN)
        tini.chmod(0o755)


def unpack(source: Source, reference: str, cache: Path) -> tuple[str, Path]:
    """Pull (if new) and unpack the image; returns (manifest digest, rootfs)."""
    manifest, digest = _platform_manifest(source, reference)
    final = cache / f"oci-{digest.split(':', 1)[1]}"
    if (final / "rootfs").is_dir():
        return digest, final / "rootfs"
    blobs = cache / ".oci-blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    work = cache / f".oci-{digest.split(':', 1)[1][:16]}.{secrets.token_hex(4)}"
    rootfs = work / "rootfs"
    try:
        rootfs.mkdir(parents=True)
        config = manifest.get("config", {})
        if config.get("digest"):
            source.blob(config["digest"], work / "config.json")
        for layer in manifest.get("layers", []):
            media = layer.get("mediaType", "")
            if "foreign" in media or "nondistributable" in media:
                raise ImageUnsupported(f"layer type {media} is not supported")
            path = blobs / layer["digest"].replace(":", "-")
            if not path.exists():
                source.blob(layer["digest"], path)
            apply_layer(rootfs, path)
        _finish_rootfs(rootfs)
        (work / "manifest.json").write_text(json.dumps(manifest))
        try:
            work.rename(final)
        except OSError:
            if not (final / "rootfs").is_dir():  # not a concurrent pull that won
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return digest, final / "rootfs"


def _open_archive(path: Path, into: Path) -> LayoutSource:
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isreg() or m.isdir()]
        tar.extractall(into, members=members, filter="data")
    return LayoutSource(into)


def pull(text: str, cache: Path, auth: dict[str, tuple[str, str]] | None = None) -> tuple[str, Path]:
    """Resolve any reference to (digest, rootfs), pulling and unpacking what is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    if text.startswith("/"):
        path = Path(text)
        if path.is_dir():
            return unpack(LayoutSource(path), "", cache)
        if path.is_file():
            with tempfile.TemporaryDirectory(prefix=".oci-archive-", dir=cache) as tmp:
                return unpack(_open_archive(path, Path(tmp)), "", cache)
        raise ImageNotFound(f"no OCI layout or archive at {text}")
    ref = Reference.parse(text)
    source = RegistrySource(ref, (auth or {}).get(ref.registry))
    try:
        digest, rootfs = unpack(source, ref.reference, cache)
    finally:
        source.registry.close()
    refs = cache / ".oci-refs"
    refs.mkdir(exist_ok=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    (refs / f".{key}.tmp").write_text(digest)
    (refs / f".{key}.tmp").replace(refs / key)
    return digest, rootfs


def cached(text: str, cache: Path) -> Path | None:
    """The rootfs a registry reference resolved to before, without the network."""
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    try:
        digest = (cache / ".oci-refs" / key).read_text().strip()
    except OSError:
        return None
    rootfs = cache / f"oci-{digest.split(':', 1)[1]}" / "rootfs"
    return rootfs if rootfs.is_dir() else None
