"""Upload and download (`/v1/sessions/{id}/upload`, `/download`): binary round trips and the 16 MiB
limit per operation (decisions.md, HTTP and Sessions). The tests share one sandbox."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import (
    Api,
    User,
    create_session,
    download,
    expect,
    expect_error,
    make_user,
    run,
    terminate,
    upload,
)

pytestmark = pytest.mark.gvisor
LIMIT = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def box(runtime_module: None, sqlite_server: Any) -> Iterator[tuple[Api, str]]:
    api = make_user(sqlite_server).api
    session = create_session(api, ephemeral=True)
    yield api, session["id"]
    terminate(api, session["id"])


def test_binary_round_trip(box: tuple[Api, str]) -> None:
    api, sid = box
    content = bytes(range(256)) * 4096 + os.urandom(12345)
    assert expect(upload(api, sid, "/tmp/blob.bin", content), 200) == {
        "path": "/tmp/blob.bin",
        "size": len(content),
    }
    resp = download(api, sid, "/tmp/blob.bin")
    assert resp.status_code == 200, resp.text
    assert resp.content == content
    digest = run(api, sid, "sha256sum /tmp/blob.bin")["output"].split()[0]
    assert digest == hashlib.sha256(content).hexdigest()


def test_download_of_a_file_written_by_exec(box: tuple[Api, str]) -> None:
    api, sid = box
    run(api, sid, "printf 'made inside' > /tmp/inside.txt")
    assert download(api, sid, "/tmp/inside.txt").content == b"made inside"


def test_exactly_16_mib_passes_both_ways(box: tuple[Api, str]) -> None:
    api, sid = box
    content = os.urandom(LIMIT)
    assert expect(upload(api, sid, "/tmp/limit.bin", content), 200)["size"] == LIMIT
    resp = download(api, sid, "/tmp/limit.bin")
    assert resp.status_code == 200 and resp.content == content


def test_upload_above_16_mib_is_413(box: tuple[Api, str]) -> None:
    api, sid = box
    expect_error(upload(api, sid, "/tmp/too-big.bin", b"\0" * (LIMIT + 1)), 413, "too_large")
    assert run(api, sid, "test -e /tmp/too-big.bin")["exit_code"] == 1


def test_download_above_16_mib_is_413(box: tuple[Api, str]) -> None:
    api, sid = box
    assert run(api, sid, f"head -c {LIMIT + 1} /dev/zero > /tmp/big.bin")["exit_code"] == 0
    expect_error(download(api, sid, "/tmp/big.bin"), 413, "too_large")


def test_download_missing_file_is_404(box: tuple[Api, str]) -> None:
    api, sid = box
    expect_error(download(api, sid, "/tmp/definitely-not-here"), 404, "file_not_found")


def test_download_directory_is_400(box: tuple[Api, str]) -> None:
    api, sid = box
    expect_error(download(api, sid, "/tmp"), 400, "invalid_request")


@pytest.mark.parametrize("path", ["relative.txt", "tmp/x", "../etc/passwd", ""])
def test_relative_paths_are_400(box: tuple[Api, str], path: str) -> None:
    api, sid = box
    expect_error(upload(api, sid, path, b"x"), 400, "invalid_field")
    expect_error(download(api, sid, path), 400, "invalid_field")


def test_upload_without_file_part_is_400(box: tuple[Api, str]) -> None:
    api, sid = box
    resp = api.post(f"/v1/sessions/{sid}/upload", data={"path": "/tmp/x"}, files={"other": ("x", b"x")})
    expect_error(resp, 400, "invalid_field")


def test_files_on_a_terminated_session_are_409(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    terminate(sandbox_user.api, session["id"])
    expect_error(upload(sandbox_user.api, session["id"], "/tmp/x", b"x"), 409, "session_not_open")
    expect_error(download(sandbox_user.api, session["id"], "/etc/hostname"), 409, "session_not_open")


@pytest.mark.parametrize("path", ["/tmp/a\u0000b", "/tmp", "/proc/self/nope/x", "/" + "a" * 5000])
def test_odd_upload_paths_are_client_errors(box: tuple[Api, str], path: str) -> None:
    """A path the sandbox can't take is the caller's mistake: a 4xx error body, never a 5xx."""
    api, sid = box
    resp = upload(api, sid, path, b"x")
    assert resp.status_code in (200, 400, 403, 404, 409), resp.text[:400]
    if resp.status_code != 200:
        assert set(resp.json()) == {"error"}, resp.text[:400]


def test_upload_creates_missing_parent_directories_or_says_why(box: tuple[Api, str]) -> None:
    api, sid = box
    resp = upload(api, sid, "/tmp/new/deeper/file.txt", b"nested")
    if resp.status_code == 200:
        assert download(api, sid, "/tmp/new/deeper/file.txt").content == b"nested"
    else:
        assert resp.status_code in (400, 404) and resp.json()["error"]["code"] != "internal", resp.text
