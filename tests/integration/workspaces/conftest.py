"""Fixtures for workspace storage tests: servers started with extra settings (tiny quotas, a git
base URL) and a loopback git server (`git http-backend` behind Basic auth for private repos).

The shared `sqlite_server` can't take settings, so these start their own `chaser server` with the
shared `Server` class and its clean-up (`reap`)."""

from __future__ import annotations

import base64
import contextlib
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.factories import User, make_user
from tests.integration.conftest import Server, mounts_under, reap

MiB = 1024 * 1024
WORKSPACE_QUOTA = 24 * MiB
ACCOUNT_QUOTA = 40 * MiB
GIT_TOKEN = "ghp_loopbackSecretToken0123456789abcdef"
GIT_USER = "x-access-token"


@contextlib.contextmanager
def server_with(env: dict[str, str]) -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="chaser-ws-it-"))
    server = Server(root)
    server.env.update(env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        reap(server.data_dir)
        if not mounts_under(server.data_dir):
            shutil.rmtree(root, ignore_errors=True)


# ---- a git server on loopback


class GitServer:
    """`git http-backend` as CGI: `/public/...` for anyone, `/private/...` with Basic auth
    (any user, password = GIT_TOKEN). Records the Authorization headers it saw."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen_auth: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        git = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                auth = self.headers.get("Authorization", "")
                if auth:
                    git.seen_auth.append(auth)
                if path.startswith("/private/") and not _token_ok(auth):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "GIT_PROJECT_ROOT": str(git.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "REMOTE_ADDR": "127.0.0.1",
                    "PATH": "/usr/bin:/bin",
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                out = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60
                ).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = out.partition(b"\n\n")
                status = 200
                headers = []
                for line in head.decode(errors="replace").splitlines():
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def make_repo(self, path: str, files: dict[str, str], branch: str = "main") -> str:
        """A bare repository at `<root>/<path>` with one commit of `files`; returns its commit id."""
        bare = self.root / path
        work = Path(tempfile.mkdtemp(prefix="chaser-git-work-"))
        run = lambda *a, cwd=work: subprocess.run(  # noqa: E731
            ["git", *a], cwd=cwd, check=True, capture_output=True, text=True
        ).stdout.strip()
        run("init", "-q", "-b", branch)
        for name, content in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(content)
        run("add", ".")
        run("-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "first")
        commit = run("rev-parse", "HEAD")
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
        shutil.rmtree(work, ignore_errors=True)
        return commit


def _token_ok(auth: str) -> bool:
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        _, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return False
    return password == GIT_TOKEN


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    root = Path(tempfile.mkdtemp(prefix="chaser-git-srv-"))
    server = GitServer(root)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        shutil.rmtree(root, ignore_errors=True)


# ---- servers


@pytest.fixture(scope="session")
def storage_server(git_server: GitServer) -> Iterator[Server]:
    """Default quotas; `owner/repo` imports clone from the loopback git server's `/public/`."""
    with server_with({"CHASER_GIT_BASE_URL": f"{git_server.url}/public"}) as server:
        yield server


@pytest.fixture(scope="session")
def quota_server() -> Iterator[Server]:
    with server_with(
        {
            "CHASER_WORKSPACE_QUOTA_BYTES": str(WORKSPACE_QUOTA),
            "CHASER_ACCOUNT_QUOTA_BYTES": str(ACCOUNT_QUOTA),
        }
    ) as server:
        yield server


@pytest.fixture
def owner(runtime: None, storage_server: Server) -> User:
    return make_user(storage_server)


@pytest.fixture
def quota_owner(runtime: None, quota_server: Server) -> User:
    return make_user(quota_server)


# ---- looking at the host's files


def disk_id_of(server: Server, workspace_id: str) -> str:
    with contextlib.closing(sqlite3.connect(server.data_dir / "chaser.db")) as db:
        row = db.execute("SELECT disk_id FROM workspaces WHERE id = ?", (workspace_id,)).fetchone()
    assert row is not None, workspace_id
    return str(row[0])


def disk_image(server: Server, workspace_id: str) -> Path:
    """The workspace's ext4 image on the host (in the reflink pool when there is one)."""
    disk_id = disk_id_of(server, workspace_id)
    for folder in ("pool/disks", "disks"):
        path = server.data_dir / "host" / folder / f"{disk_id}.ext4"
        if path.exists():
            return path
    raise AssertionError(f"no image for disk {disk_id}")


def snapshot_files(server: Server, workspace_id: str) -> list[Path]:
    disk_id = disk_id_of(server, workspace_id)
    found: list[Path] = []
    for folder in ("pool/snapshots", "snapshots"):
        found += (server.data_dir / "host" / folder / disk_id).glob("*.ext4")
    return sorted({p.resolve() for p in found})


def disk_files(server: Server) -> list[Path]:
    found: list[Path] = []
    for folder in ("pool/disks", "disks"):
        found += (server.data_dir / "host" / folder).glob("*.ext4")
    return sorted({p.resolve() for p in found})
