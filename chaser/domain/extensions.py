"""Browser extension archives (pure, no I/O): `.zip`, `.tar`, `.tar.gz` of one unpacked extension,
`manifest.json` at the root or under one wrapper folder. Refused, each with a message naming the
entry: symlinks and hard links, absolute paths, `..`, devices and other special files, a missing
or unreadable manifest, more than 16 MiB of archive or 64 MiB unpacked. Accepted archives come
out as a plain tar of the extension's files with the wrapper folder stripped."""

from __future__ import annotations

import io
import json
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass

from chaser.domain.errors import InvalidRequest, TooLarge

MAX_ARCHIVE_BYTES = 16 * 1024 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_ENTRIES = 10_000
SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar")
NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Entry:
    path: str  # relative, "/"-separated, no trailing slash
    is_dir: bool
    data: bytes = b""


@dataclass(frozen=True)
class Extension:
    name: str  # the folder it gets under the extensions dir: from the file name
    manifest: dict[str, object]
    tar: bytes


def extension_name(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    name = NAME_RE.sub("-", base).strip(".-")[:64]
    return name or "extension"


def _check_path(raw: str) -> str:
    path = raw.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise InvalidRequest(f"archive entry {raw!r}: absolute paths are not allowed")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidRequest(f"archive entry {raw!r}: '..' is not allowed in paths")
    return "/".join(parts)


def _zip_entries(data: bytes) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidRequest(f"file: not a readable zip archive ({exc})") from exc
    entries = []
    total = 0
    with archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidRequest(f"archive entry {info.filename!r}: symlinks are not allowed")
            path = _check_path(info.filename)
            if info.is_dir():
                entries.append(Entry(path, True))
                continue
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise TooLarge(f"file: more than {MAX_UNPACKED_BYTES} bytes unpacked")
            entries.append(Entry(path, False, archive.read(info)))
    return entries


def _tar_entries(data: bytes, compressed: bool) -> list[Entry]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz" if compressed else "r:")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        kind = "tar.gz" if compressed else "tar"
        raise InvalidRequest(f"file: not a readable {kind} archive ({exc})") from exc
    entries = []
    total = 0
    with archive:
        try:
            for member in archive:
                if member.issym() or member.islnk():
                    raise InvalidRequest(
                        f"archive entry {member.name!r}: symlinks and hard links are not allowed"
                    )
                path = _check_path(member.name)
                if member.isdir():
                    entries.append(Entry(path, True))
                    continue
                if not member.isfile():
                    raise InvalidRequest(f"archive entry {member.name!r}: only files and folders are allowed")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise TooLarge(f"file: more than {MAX_UNPACKED_BYTES} bytes unpacked")
                extracted = archive.extractfile(member)
                entries.append(Entry(path, False, extracted.read() if extracted else b""))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InvalidRequest(f"file: a broken archive ({exc})") from exc
    return entries


def _strip_wrapper(entries: list[Entry]) -> list[Entry]:
    files = {e.path for e in entries if not e.is_dir}
    if "manifest.json" in files:
        return [e for e in entries if e.path]
    tops = {e.path.split("/", 1)[0] for e in entries if e.path}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/manifest.json" in files:
            inner = [
                Entry(e.path[len(top) + 1 :], e.is_dir, e.data)
                for e in entries
                if e.path.startswith(top + "/")
            ]
            return [e for e in inner if e.path]
    raise InvalidRequest("file: no manifest.json at the archive's root or under one wrapper folder")


def read_archive(filename: str, data: bytes) -> Extension:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise TooLarge(f"file: at most {MAX_ARCHIVE_BYTES} bytes per extension archive")
    lower = filename.lower()
    if lower.endswith(".zip"):
        entries = _zip_entries(data)
    elif lower.endswith((".tar.gz", ".tgz")):
        entries = _tar_entries(data, compressed=True)
    elif lower.endswith(".tar"):
        entries = _tar_entries(data, compressed=False)
    else:
        raise InvalidRequest(f"file: {filename!r} must be a .zip, .tar or .tar.gz archive")
    if len(entries) > MAX_ENTRIES:
        raise InvalidRequest(f"file: more than {MAX_ENTRIES} entries")
    entries = _strip_wrapper(entries)
    manifest_data = next(e.data for e in entries if e.path == "manifest.json")
    try:
        manifest = json.loads(manifest_data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"file: manifest.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or "manifest_version" not in manifest:
        raise InvalidRequest("file: manifest.json must be an object with a manifest_version")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            if e.is_dir:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(e.data), 0o644
                tar.addfile(info, io.BytesIO(e.data))
    return Extension(name=extension_name(filename), manifest=manifest, tar=out.getvalue())
