from __future__ import annotations

import os
from pathlib import Path

from chaser.agent.protocol import DATA_CHUNK, FrameType

from .harness import FakeHost


def test_write_then_read_round_trip_with_parents(host: FakeHost, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.bin"
    content = os.urandom(3 * DATA_CHUNK + 17)
    channel = host.open("write_file", {"path": str(target)})
    for start in range(0, len(content), DATA_CHUNK):
        host.send(FrameType.DATA, channel, content[start : start + DATA_CHUNK])
    host.send(FrameType.EOF, channel)
    assert host.collect(channel).result == {"path": str(target), "size": len(content)}
    assert target.read_bytes() == content
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"], "temp file left behind"

    reply = host.call("read_file", {"path": str(target), "max_bytes": 1 << 20}, stdin=None)
    assert reply.events == [{"type": "stat", "size": len(content)}]
    assert reply.data == content


def test_write_empty_file_and_overwrite(host: FakeHost, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    assert host.call("write_file", {"path": str(target)}, stdin=b"").result["size"] == 0
    assert target.read_bytes() == b""


def test_write_cancelled_leaves_nothing(host: FakeHost, tmp_path: Path) -> None:
    channel = host.open("write_file", {"path": str(tmp_path / "f")})
    host.send(FrameType.DATA, channel, b"partial")
    host.send(FrameType.CLOSE, channel)
    assert host.collect(channel).error_code == "cancelled"
    assert list(tmp_path.iterdir()) == []


def test_write_errors(host: FakeHost, tmp_path: Path) -> None:
    assert host.call("write_file", {"path": str(tmp_path)}).error_code == "is_a_directory"
    assert host.call("write_file", {"path": "relative"}).error_code == "invalid_path"
    (tmp_path / "file").write_text("x")
    assert host.call("write_file", {"path": str(tmp_path / "file" / "x")}).error_code == "not_a_directory"


def test_read_errors(host: FakeHost, tmp_path: Path) -> None:
    def code(path: str, max_bytes: int = 100) -> str | None:
        return host.call("read_file", {"path": path, "max_bytes": max_bytes}, stdin=None).error_code

    assert code(str(tmp_path / "missing")) == "file_not_found"
    assert code(str(tmp_path)) == "is_a_directory"
    (tmp_path / "big").write_bytes(b"x" * 101)
    assert code(str(tmp_path / "big")) == "too_large"
    assert code(str(tmp_path / "big"), max_bytes=101) is None


def test_write_as_user_owns_file_and_created_dirs(host: FakeHost, tmp_path: Path) -> None:
    target = tmp_path / "d" / "f"
    host.call("write_file", {"path": str(target), "user": "nobody"}, stdin=b"x")
    assert target.stat().st_uid == 65534
    assert target.parent.stat().st_uid == 65534
