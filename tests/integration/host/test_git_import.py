"""Git import into a workspace disk from a real git server on loopback (git http-backend behind a
small HTTP server; /private/ needs Basic auth with the token as password), never the internet."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaser.host.client import HostError
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

TOKEN = "ghp_s3cret-T0ken-value"
MiB = 1024**2


class GitHttp(BaseHTTPRequestHandler):
    """CGI bridge to `git http-backend` for the repositories under `server.root`."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/private/"):
            expected = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        if self.headers.get("Content-Encoding") == "gzip":
            env["HTTP_CONTENT_ENCODING"] = "gzip"
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve


class _Server(ThreadingHTTPServer):
    root: Path


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def git_server() -> Iterator[tuple[str, dict[str, str]]]:
    root = Path(tempfile.mkdtemp(prefix="chaser-git-"))
    work = root / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", cwd=work)
    (work / "README.md").write_text("hello from main\n")
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "first", cwd=work)
    first = _git("rev-parse", "HEAD", cwd=work).strip()
    _git("tag", "v1", cwd=work)
    (work / "second.txt").write_text("second\n")
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "second", cwd=work)
    _git("checkout", "-qb", "feature", cwd=work)
    (work / "feature.txt").write_text("feature branch\n")
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "feature", cwd=work)
    _git("checkout", "-q", "main", cwd=work)
    for repo in ("public/octo/demo.git", "private/octo/secret.git"):
        (root / repo).parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "-q", "--bare", str(work), str(root / repo), cwd=root)
    server = _Server(("127.0.0.1", 0), GitHttp)
    server.root = root
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", {"first": first}
    finally:
        server.shutdown()
        subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.fixture(scope="module")
def git_daemon(image_cache: Path, git_server: tuple[str, dict[str, str]]) -> Iterator[Daemon]:
    d = Daemon(image_cache, env={"CHASER_HOST_GIT_BASE_URL": f"{git_server[0]}/public"})
    try:
        d.start()
        yield d
    finally:
        d.destroy()


async def test_public_import_by_owner_repo(git_daemon: Daemon) -> None:
    client = git_daemon.client()
    await client.create_disk(DiskSpec(disk_id="pub", size_bytes=64 * MiB))
    result = await client.import_git("pub", "octo/demo")
    assert len(result.commit) == 40 and result.disk.disk_id == "pub"
    await client.create_vm(VmSpec(vm_id="pub-vm", disk_id="pub"))
    out = await client.exec(
        "pub-vm",
        ExecRequest(
            command="cat README.md second.txt; stat -c %U README.md .git; git rev-parse --abbrev-ref HEAD; "
            "git rev-list --count HEAD; git remote get-url origin",
            cwd="/workspace",
            user="user",
        ),
    )
    lines = out.output.splitlines()
    assert lines[:4] == ["hello from main", "second", "user", "user"], out.output
    assert lines[4:6] == ["main", "1"], "the default branch, shallow (--depth 1)"
    assert lines[6].endswith("/public/octo/demo.git")
    await client.stop_vm("pub-vm")
    await client.aclose()


async def test_private_import_with_a_token_that_is_never_stored(
    git_daemon: Daemon, git_server: tuple[str, dict[str, str]]
) -> None:
    client = git_daemon.client()
    url = f"{git_server[0]}/private/octo/secret.git"
    await client.create_disk(DiskSpec(disk_id="priv", size_bytes=64 * MiB))
    with pytest.raises(HostError) as denied:
        await client.import_git("priv", url)
    assert (denied.value.status, denied.value.code) == (400, "import_failed")
    with pytest.raises(HostError) as wrong:
        await client.import_git("priv", url, token="wrong-" + TOKEN)
    assert wrong.value.code == "import_failed" and TOKEN not in wrong.value.message
    assert (await client.get_disk("priv")).allocated_bytes < 16 * MiB, "failed imports left the disk alone"

    await client.import_git("priv", url, ref="feature", token=TOKEN)
    image = (git_daemon.state_dir / "disks" / "priv.ext4").read_bytes()
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode())
    assert TOKEN.encode() not in image and encoded not in image, "the token is nowhere on the disk"
    await client.create_vm(VmSpec(vm_id="priv-vm", disk_id="priv"))
    out = await client.exec(
        "priv-vm", ExecRequest(command="cat feature.txt; cat .git/config", cwd="/workspace", user="user")
    )
    assert out.output.startswith("feature branch\n") and TOKEN not in out.output
    await client.stop_vm("priv-vm")
    await client.aclose()


async def test_refs_tags_commits_and_errors(
    git_daemon: Daemon, git_server: tuple[str, dict[str, str]]
) -> None:
    client = git_daemon.client()
    first = git_server[1]["first"]
    for disk_id, ref in (("tag", "v1"), ("sha", first[:10])):
        await client.create_disk(DiskSpec(disk_id=disk_id, size_bytes=64 * MiB))
        result = await client.import_git(disk_id, "octo/demo", ref=ref)
        assert result.commit == first, ref
    await client.create_disk(DiskSpec(disk_id="bad", size_bytes=64 * MiB))
    with pytest.raises(HostError) as bad_ref:
        await client.import_git("bad", "octo/demo", ref="no-such-branch")
    assert bad_ref.value.code == "import_failed" and "no-such-branch" in bad_ref.value.message
    with pytest.raises(HostError) as missing:
        await client.import_git("bad", "octo/nothing-here")
    assert missing.value.code == "import_failed"
    for url in ("file:///etc", "/etc", "ssh://git@host/x.git", "--upload-pack=x"):
        with pytest.raises(HostError) as refused:
            await client.import_git("bad", url)
        assert refused.value.code == "invalid_request", url
    with pytest.raises(HostError) as no_disk:
        await client.import_git("nope", "octo/demo")
    assert no_disk.value.code == "disk_not_found"

    await client.create_vm(VmSpec(vm_id="holder", disk_id="bad"))
    with pytest.raises(HostError) as busy:
        await client.import_git("bad", "octo/demo")
    assert (busy.value.status, busy.value.code) == (409, "disk_busy")
    await client.stop_vm("holder")
    assert git_daemon.mounts() == [], "no staged image stays mounted"
    await client.aclose()
