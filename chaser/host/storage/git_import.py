"""Import a git repository into a detached workspace disk, on the host.

`url` is `owner/repo` (under the host's git base URL, `https://github.com` unless configured;
tests point it at a loopback git server) or a full `https://`, `http://` or `git://` URL. Other
schemes (file://, ssh, local paths) are refused: the clone runs on the host.

The clone never touches the live image: the disk is copied (a reflink on the pool) to a staged
image, the staged image is loop-mounted in a worker's private mount namespace (`unshare -m`,
so the mount cannot outlive the worker even if the daemon dies), git runs there as uid/gid 1000
(the workspace's owner), and the staged image replaces the disk only if the disk is still detached
and unchanged. A failed import leaves the disk as it was.

The token is handed to git only through its environment, as `GIT_CONFIG_KEY_0=http.<base>.extraHeader`
`GIT_CONFIG_VALUE_0=Authorization: Basic base64(x-access-token:<token>)` (git >= 2.31 reads config
from the environment), scoped to the repository's scheme://host. It is not on any command line,
in any file, nor in the disk's `.git/config` (the remote URL there carries no credentials), and
it is redacted from git's messages. `--depth 1` unless `ref` looks like a commit id (then the full
history is fetched, since a short id can only be resolved locally).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from chaser.host.errors import DaemonError, DiskBusy, InvalidRequest
from chaser.host.storage.copy import copy_image
from chaser.host.storage.snapshots import Snapshots
from chaser.host.wire import GitImportResult, GitImportSpec

DEFAULT_GIT_BASE_URL = "https://github.com"
WORKSPACE_UID = 1000
CLONE_TIMEOUT_S = 600.0
_OWNER_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")
_REF = re.compile(r"^[A-Za-z0-9_./+-]{1,255}$")


class ImportFailed(DaemonError):
    """git could not clone: bad URL, unknown ref, or refused credentials."""

    code = "import_failed"
    status = 400


def clone_url(url: str, base_url: str) -> tuple[str, str | None, str | None]:
    """(URL without credentials, user, password embedded in the URL)."""
    url = url.strip()
    if _OWNER_REPO.match(url):
        repo = url if url.endswith(".git") else f"{url}.git"
        return f"{base_url.rstrip('/')}/{repo}", None, None
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "git") or not parts.hostname:
        raise InvalidRequest(f"git url {url!r}: use owner/repo or an https://, http:// or git:// URL")
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), parts.username, parts.password


def _git_env(home: Path, url: str, user: str | None, token: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "GIT_ALLOW_PROTOCOL": "http:https:git",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "0",
    }
    if token:
        parts = urlsplit(url)
        scope = f"{parts.scheme}://{parts.netloc}/"
        basic = base64.b64encode(f"{user or 'x-access-token'}:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{scope}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


def _redact(text: str, secrets_: list[str]) -> str:
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    return text.strip()[-2000:]


def _git(argv: list[str], cwd: Path, env: dict[str, str], hide: list[str]) -> str:
    """Run git as the workspace user; ImportFailed with git's (redacted) message on failure."""
    try:
        done = subprocess.run(
            ["setpriv", f"--reuid={WORKSPACE_UID}", f"--regid={WORKSPACE_UID}", "--clear-groups",
             "git", *argv],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=CLONE_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ImportFailed(f"git {argv[0]} took longer than {CLONE_TIMEOUT_S:.0f}s") from None
    if done.returncode != 0:
        message = _redact(done.stderr.decode(errors="replace") or done.stdout.decode(errors="replace"), hide)
        raise ImportFailed(f"git {argv[0]} failed: {message}")
    return done.stdout.decode(errors="replace").strip()


def _clone_into(job: dict[str, Any]) -> str:
    """In the worker's own mount namespace: mount the staged image, clone as uid 1000, move the
    checkout to the filesystem's root. Returns the commit."""
    point, staged = Path(job["point"]), job["staged"]
    done = subprocess.run(
        ["mount", "-t", "ext4", "-o", "loop,noinit_itable,discard", staged, str(point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise DaemonError(f"mount of the staged disk failed: {(done.stdout + done.stderr).strip()}")
    workdir = point / f".chaser-import-{secrets.token_hex(4)}"
    workdir.mkdir()
    os.chown(workdir, WORKSPACE_UID, WORKSPACE_UID)
    env, hide, ref, url = job["env"], job["hide"], job["ref"], job["url"]
    if ref is not None and _COMMIT.match(ref):
        _git(["clone", "-q", "--no-checkout", "--", url, "."], workdir, env, hide)
        _git(["checkout", "-q", ref, "--"], workdir, env, hide)
    else:
        branch = ["--branch", ref] if ref else []
        _git(["clone", "-q", "--depth", "1", *branch, "--", url, "."], workdir, env, hide)
    commit = _git(["rev-parse", "HEAD"], workdir, env, hide)
    for entry in workdir.iterdir():
        if (point / entry.name).exists():
            raise ImportFailed(f"the workspace already has {entry.name!r}; import into an empty disk")
        entry.rename(point / entry.name)
    workdir.rmdir()
    return commit


def _worker_main() -> None:
    """`unshare -m python -m chaser.host.storage.git_import`: the job as JSON on stdin (so the
    token is on no command line); prints the commit, or exits 2 (import failed) / 3 with a message.
    The mount lives only in this process's namespace: it is gone when the process is, even if the
    daemon dies meanwhile."""
    job = json.loads(sys.stdin.read())
    try:
        print(_clone_into(job))
    except ImportFailed as exc:
        sys.stderr.write(exc.message)
        sys.exit(2)
    except (DaemonError, OSError) as exc:
        sys.stderr.write(exc.message if isinstance(exc, DaemonError) else repr(exc))
        sys.exit(3)


async def import_git(
    snapshots: Snapshots, disk_id: str, spec: GitImportSpec, base_url: str
) -> GitImportResult:
    vms = snapshots.vms
    url, user, password = clone_url(spec.url, base_url)
    token = spec.token or password
    if spec.ref is not None and (not _REF.match(spec.ref) or spec.ref.startswith("-")):
        raise InvalidRequest(f"invalid git ref {spec.ref!r}")
    image = snapshots._disk_image(disk_id)
    owner = vms.attached_to(disk_id)
    if owner is not None:
        raise DiskBusy(f"disk {disk_id!r} is attached to vm {owner!r}; import into a detached disk")
    before = image.stat()
    staged = image.with_name(f".{image.name}.importing")
    home = Path(tempfile.mkdtemp(prefix="chaser-git-"))
    # Traversable by uid 1000 (the state dir may not be): git resolves its absolute path.
    point = Path(tempfile.mkdtemp(prefix="chaser-import-"))
    hide = [t for t in (token, spec.token) if t]
    hide += [base64.b64encode(f"{user or 'x-access-token'}:{t}".encode()).decode() for t in hide]
    hide += [quote(t, safe="") for t in list(hide)]
    job = {
        "point": str(point),
        "staged": str(staged),
        "url": url,
        "ref": spec.ref,
        "env": _git_env(home, url, user, token),
        "hide": hide,
    }
    try:
        os.chown(home, WORKSPACE_UID, WORKSPACE_UID)
        point.chmod(0o711)
        await copy_image(image, staged, snapshots.storage.reflink)
        proc = await asyncio.create_subprocess_exec(
            "unshare", "--mount", "--propagation", "private",
            sys.executable, "-m", "chaser.host.storage.git_import",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate(json.dumps(job).encode())
        message = _redact(err.decode(errors="replace"), hide)
        if proc.returncode == 2:
            raise ImportFailed(message)
        if proc.returncode != 0:
            raise DaemonError(f"git import of disk {disk_id!r} failed: {message}")
        commit = out.decode().strip()
        async with vms.claims:
            owner = vms.attached_to(disk_id)
            now = image.stat()
            if owner is not None or (now.st_ino, now.st_mtime_ns, now.st_size) != (
                before.st_ino,
                before.st_mtime_ns,
                before.st_size,
            ):
                raise DiskBusy(f"disk {disk_id!r} changed during the import; try again")
            staged.replace(image)
    finally:
        staged.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
        with contextlib.suppress(OSError):
            point.rmdir()
    return GitImportResult(disk=vms.disk_info(disk_id), commit=commit, ref=spec.ref)


if __name__ == "__main__":
    _worker_main()
