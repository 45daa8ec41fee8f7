"""`chaser upload` / `chaser download`: byte-exact round trips and clean errors."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.conftest import Cli, assert_clean_error


def test_round_trip_binary(cli: Cli, sandbox: str, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    up = cli.json("upload", sandbox, str(src), "/tmp/blob.bin")
    assert up == {"path": "/tmp/blob.bin", "size": len(data)}
    assert cli.ok("exec", sandbox, "--", "stat -c %s /tmp/blob.bin").strip() == str(len(data))
    dest = tmp_path / "back.bin"
    cli.ok("download", sandbox, "/tmp/blob.bin", str(dest))
    assert dest.read_bytes() == data


def test_download_into_a_directory_and_to_stdout(cli: Cli, sandbox: str, tmp_path: Path) -> None:
    cli.ok("exec", sandbox, "--", "printf 'line\\n' > /tmp/note.txt")
    out_dir = tmp_path / "d"
    out_dir.mkdir()
    cli.ok("download", sandbox, "/tmp/note.txt", str(out_dir))
    assert (out_dir / "note.txt").read_text() == "line\n"
    assert cli.ok("download", sandbox, "/tmp/note.txt", "-") == "line\n"


def test_missing_remote_file_is_a_clean_error(cli: Cli, sandbox: str, tmp_path: Path) -> None:
    proc = cli("download", sandbox, "/nope/missing.txt", str(tmp_path / "x"))
    assert_clean_error(proc)
    assert not (tmp_path / "x").exists()


def test_missing_local_file_is_a_clean_error(cli: Cli, sandbox: str, tmp_path: Path) -> None:
    proc = cli("upload", sandbox, str(tmp_path / "absent"), "/tmp/x")
    assert_clean_error(proc, "no such file")


def test_relative_remote_path_is_refused_by_the_server(cli: Cli, sandbox: str, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("a")
    assert_clean_error(cli("upload", sandbox, str(src), "relative/a.txt"))
