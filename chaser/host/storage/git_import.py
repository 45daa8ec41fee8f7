"""Import a git repository into a detached workspace disk, on the host.

`url` is `owner/repo` (under the host's git base URL, `https://github.com` unless configured;
tests point it at a loopback git server) or a full `https://`, `http://` or `git://` URL. Other
schemes (file://, ssh, local paths) are refused: the clone runs on the host.

The clone never touches the live image: the disk is copied (a reflink on the pool) to a staged
image, the staged image is loop-mounted privately, git runs there as uid/gid 1000 (the
workspace's owner), and the staged image replaces the disk only if the disk is still detached
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
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from chaser.host.disks import unmount_path
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


async def _git(argv: list[str], cwd: Path, env: dict[str, str], hide: list[str]) -> str:
    """Run git as the workspace user; ImportFailed with git's (redacted) message on failure."""
    proc = await asyncio.create_subprocess_exec(
        "setpriv", f"--reuid={WORKSPACE_UID}", f"--regid={WORKSPACE_UID}", "--clear-groups",
        "git", *argv,
        cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLONE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ImportFailed(f"git {argv[0]} took longer than {CLONE_TIMEOUT_S:.0f}s") from None
    if proc.returncode != 0:
        message = _redact(err.decode(errors="replace") or out.decode(errors="replace"), hide)
        raise ImportFailed(f"git {argv[0]} failed: {message}")
    return out.decode(errors="replace").strip()


async def _mount(image: Path, point: Path) -> None:
    point.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        "mount", "-t", "ext4", "-o", "loop,noinit_itable,discard", str(image), str(point),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise DaemonError(f"mount of the staged disk failed: {out.decode(errors='replace').strip()}")


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
    point = vms.layout.mnt / f".import-{disk_id}"
    home = Path(tempfile.mkdtemp(prefix="chaser-git-"))
    hide = [t for t in (token, spec.token) if t]
    hide += [base64.b64encode(f"{user or 'x-access-token'}:{t}".encode()).decode() for t in hide]
    hide += [quote(t, safe="") for t in list(hide)]
    try:
        os.chown(home, WORKSPACE_UID, WORKSPACE_UID)
        await copy_image(image, staged, snapshots.storage.reflink)
        await _mount(staged, point)
        workdir = point / f".chaser-import-{secrets.token_hex(4)}"
        workdir.mkdir()
        os.chown(workdir, WORKSPACE_UID, WORKSPACE_UID)
        env = _git_env(home, url, user, token)
        if spec.ref is not None and _COMMIT.match(spec.ref):
            await _git(["clone", "-q", "--no-checkout", "--", url, "."], workdir, env, hide)
            await _git(["checkout", "-q", spec.ref, "--"], workdir, env, hide)
        else:
            branch = ["--branch", spec.ref] if spec.ref else []
            await _git(["clone", "-q", "--depth", "1", *branch, "--", url, "."], workdir, env, hide)
        commit = await _git(["rev-parse", "HEAD"], workdir, env, hide)
        for entry in workdir.iterdir():
            if (point / entry.name).exists() and entry.name != "lost+found":
                raise ImportFailed(f"the workspace already has {entry.name!r}; import into an empty disk")
            entry.rename(point / entry.name)
        workdir.rmdir()
        await unmount_path(point)
        async with vms._claim_lock:
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
        with contextlib.suppress(DaemonError):
            await unmount_path(point)
        with contextlib.suppress(OSError):
            point.rmdir()
        staged.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
    return GitImportResult(disk=vms.disk_info(disk_id), commit=commit, ref=spec.ref)
