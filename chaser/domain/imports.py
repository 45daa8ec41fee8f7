"""GitHub (or any git server) imports into a new sandbox workspace, and re-bootstrap.

`POST /v1/workspaces/import` is asynchronous: the workspace row and its empty disk are made at
once (quota and name checked first) with status `importing`; a background task asks the host to
clone into the detached disk, then sets `ready` (status `idle`) or `import_failed` with git's
message (token redacted by the host). A server that dies mid-import leaves `importing` rows,
which start-up turns into `import_failed` ("interrupted").

`github_repo` is the selector as given (`owner/repo` or a URL without credentials); `owner/repo`
resolves under the server's `git_base_url`. A token is passed to the host for the clone and kept
only sealed (see `sealing`), for re-bootstrap: when a session starts on a workspace with a
selector and its `/workspace` is empty, the VM is stopped, the repository cloned into the disk
again, and the VM started anew before the session is handed out.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chaser.domain import quotas, sealing
from chaser.domain.errors import ChaserError, InvalidField
from chaser.domain.host import Host
from chaser.domain.principal import Principal
from chaser.domain.quotas import StoragePolicy
from chaser.domain.workspaces import create
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.host.wire import ExecRequest, VmInfo, VmSpec
from chaser.store import workspaces as ws_store
from chaser.store.models import Workspace

log = logging.getLogger("chaser.imports")

OWNER_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
REF = re.compile(r"[A-Za-z0-9_./+-]{1,255}")
IMPORT_TIMEOUT_S = 900.0
EMPTY_CHECK = "ls -A /workspace | grep -vx 'lost+found' | head -n 1"


def check_selector(repo: str, ref: str | None) -> None:
    repo = repo.strip()
    if not OWNER_REPO.fullmatch(repo):
        parts = urlsplit(repo)
        if parts.scheme not in ("https", "http", "git") or not parts.hostname:
            raise InvalidField("github_repo: use `owner/repo` or an https://, http:// or git:// URL")
        if parts.username or parts.password:
            raise InvalidField(
                "github_repo: the URL must not carry credentials; pass the token in `token` "
                "(it is never stored in plain text)"
            )
    if ref is not None and (not REF.fullmatch(ref) or ref.startswith("-")):
        raise InvalidField("ref: a branch, tag or commit id (letters, digits, '_', '.', '/', '+', '-')")


def clone_url(policy: StoragePolicy, repo: str) -> str:
    repo = repo.strip()
    if OWNER_REPO.fullmatch(repo):
        return f"{policy.git_base_url.rstrip('/')}/{repo.removesuffix('.git')}.git"
    return repo


async def start(
    db: AsyncSession,
    host: Host,
    who: Principal,
    policy: StoragePolicy,
    *,
    github_repo: str,
    ref: str | None,
    name: str | None,
    token: str | None,
    image: str | None,
) -> Workspace:
    """The new workspace, `importing`; the caller schedules `run` (see the routes)."""
    check_selector(github_repo, ref)
    sealed = sealing.seal(policy.seal_secret, token) if token else None
    return await create(
        db,
        host,
        who,
        policy,
        name=name,
        session_type="sandbox",
        image=image,
        state="importing",
        github=(github_repo.strip(), ref, sealed),
    )


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    host: Host,
    policy: StoragePolicy,
    ws_id: str,
    token: str | None,
) -> None:
    """Clone into the workspace's disk and settle its state; never raises."""
    async with sessionmaker() as db:
        ws = await ws_store.get_any(db, ws_id)
        await db.commit()
        if ws is None or ws.github_repo is None:
            return
        state, message = "ready", None
        try:
            result = await asyncio.wait_for(
                host.slow.import_git(ws.disk_id, clone_url(policy, ws.github_repo), ws.github_ref, token),
                IMPORT_TIMEOUT_S,
            )
            usage = await quotas.account_usage(db, host, ws.account_id)
            quotas.check_workspace(policy, result.disk.allocated_bytes, "import")
            if usage.total > policy.account_quota_bytes:
                quotas.check_account(policy, usage, 0, "import")
            log.info("workspace %s: imported %s at %s", ws.id, ws.github_repo, result.commit)
        except HostError as exc:
            state, message = "import_failed", exc.message
        except ClientUnavailable:
            state, message = "import_failed", "the host daemon could not be reached; delete and import again"
        except TimeoutError:
            state, message = "import_failed", f"the import took longer than {IMPORT_TIMEOUT_S:.0f}s"
        except ChaserError as exc:  # a quota refusal
            state, message = "import_failed", exc.message
        except Exception:  # anything unexpected: recorded, not lost
            log.exception("workspace %s: import failed", ws_id)
            state, message = "import_failed", "internal error during the import; the server log has details"
        ws = await ws_store.get_any(db, ws_id)
        if ws is not None:  # deleted meanwhile (force): nothing to record
            ws.state, ws.state_message = state, message
        await db.commit()


async def recover_interrupted(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """At start-up: imports a previous server process left running will never finish."""
    async with sessionmaker() as db:
        stuck = await ws_store.list_in_state(db, "importing")
        for ws in stuck:
            ws.state = "import_failed"
            ws.state_message = "the import was interrupted by a server restart; delete and import again"
        await db.commit()
    return len(stuck)


async def rebootstrap_if_empty(
    db: AsyncSession, host: Host, policy: StoragePolicy, ws: Workspace, spec: VmSpec, vm: VmInfo
) -> VmInfo:
    """After a VM booted on a workspace with an import selector: an empty /workspace is cloned
    again (VM stopped, clone into the detached disk, VM started). Best effort: a failed clone
    leaves the session on the empty disk and the reason in the workspace's `status_message`."""
    try:
        probe = await host.client.exec(vm.vm_id, ExecRequest(command=EMPTY_CHECK, timeout_ms=15_000))
    except (HostError, ClientUnavailable):
        return vm
    if probe.exit_code != 0 or probe.output.strip():
        return vm
    token = sealing.unseal(policy.seal_secret, ws.github_token_sealed) if ws.github_token_sealed else None
    assert ws.github_repo is not None
    await host.client.stop_vm(vm.vm_id)
    message = None
    try:
        await host.slow.import_git(ws.disk_id, clone_url(policy, ws.github_repo), ws.github_ref, token)
        log.info("workspace %s: /workspace was empty; re-bootstrapped from %s", ws.id, ws.github_repo)
    except (HostError, ClientUnavailable) as exc:
        message = f"re-bootstrap from {ws.github_repo} failed: {getattr(exc, 'message', exc)}"
        log.warning("workspace %s: %s", ws.id, message)
    ws.state_message = message
    await db.commit()
    return await host.client.create_vm(spec)
