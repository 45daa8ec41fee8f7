"""Extension archives: accepted shapes come out as a plain tar without the wrapper folder; each
bad archive is refused with a message naming the problem."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile

import pytest

from chaser.domain.errors import InvalidRequest, TooLarge
from chaser.domain.extensions import MAX_ARCHIVE_BYTES, extension_name, read_archive

MANIFEST = json.dumps({"manifest_version": 3, "name": "t", "version": "1.0"}).encode()


def make_zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return out.getvalue()


def make_tar(entries: dict[str, bytes], gz: bool = False, link: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as t:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(info)
    return out.getvalue()


def names(tar: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return {m.name for m in t.getmembers() if m.isfile()}


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("ext.zip", make_zip({"manifest.json": MANIFEST, "js/c.js": b"1"})),
        ("ext.zip", make_zip({"wrap/manifest.json": MANIFEST, "wrap/js/c.js": b"1"})),
        ("ext.tar", make_tar({"manifest.json": MANIFEST, "js/c.js": b"1"})),
        ("ext.tar.gz", make_tar({"./wrap/manifest.json": MANIFEST, "./wrap/js/c.js": b"1"}, gz=True)),
    ],
)
def test_accepted_shapes(filename: str, data: bytes) -> None:
    ext = read_archive(filename, data)
    assert ext.name == "ext" and names(ext.tar) == {"manifest.json", "js/c.js"}


@pytest.mark.parametrize(
    ("filename", "data", "words"),
    [
        ("ext.zip", make_zip({"manifest.json": MANIFEST}, symlink="evil"), "symlink"),
        ("ext.tar", make_tar({"manifest.json": MANIFEST}, link="evil"), "symlink"),
        ("ext.tar", make_tar({"manifest.json": MANIFEST, "/etc/x": b"1"}), "absolute"),
        ("ext.zip", make_zip({"manifest.json": MANIFEST, "../x": b"1"}), "'..'"),
        ("ext.tar.gz", make_tar({"manifest.json": MANIFEST, "a/../../x": b"1"}, gz=True), "'..'"),
        ("ext.zip", make_zip({"readme.txt": b"hi"}), "manifest.json"),
        ("ext.zip", make_zip({"a/manifest.json": MANIFEST, "b/x.js": b"1"}), "manifest.json"),
        ("ext.zip", make_zip({"manifest.json": b"{not json"}), "json"),
        ("ext.rar", b"whatever", ".zip"),
        ("ext.zip", b"not a zip at all", "zip"),
        ("ext.tar.gz", b"not gzip", "tar.gz"),
    ],
)
def test_refused(filename: str, data: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_archive(filename, data)
    assert words in caught.value.message


def test_too_large() -> None:
    with pytest.raises(TooLarge):
        read_archive("ext.zip", b"0" * (MAX_ARCHIVE_BYTES + 1))


def test_names() -> None:
    assert extension_name("My Ext v1.tar.gz") == "My-Ext-v1"
    assert extension_name("../../x.zip") == "x"
    assert extension_name(".zip") == "extension"
