"""Git imports from a loopback git server (never the internet): public `owner/repo` under the
server's git base URL, a private repository with a token (which ends up nowhere in the
workspace's `.git/` nor in the database in plain text), a failed import, and re-bootstrap of an
emptied workspace."""

from __future__ import annotations

import time
from typing import Any

from tests.factories import User, create_session, expect, expect_error, new_name, run, terminate
from tests.integration.conftest import Server
from tests.integration.workspaces.conftest import GIT_TOKEN, GitServer

IMPORT_TIMEOUT_S = 120


def wait_imported(api: Any, ws: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + IMPORT_TIMEOUT_S
    while time.monotonic() < deadline:
        got = expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)
        if got["status"] != "importing":
            return dict(got)
        time.sleep(0.3)
    raise AssertionError(f"import still running after {IMPORT_TIMEOUT_S}s")


def test_public_owner_repo_import(owner: User, git_server: GitServer) -> None:
    repo = new_name("repo")
    commit = git_server.make_repo(
        f"public/acme/{repo}.git", {"README.md": "hello import\n", "src/a.py": "x = 1\n"}
    )
    api = owner.api
    ws = expect(
        api.post("/v1/workspaces/import", json={"github_repo": f"acme/{repo}", "name": new_name("imp")}), 202
    )
    assert (
        ws["status"] == "importing"
        and ws["github_repo"] == f"acme/{repo}"
        and ws["session_type"] == "sandbox"
    )
    expect_error(api.post("/v1/sessions", json={"workspace": ws["id"]}), 409, "workspace_busy")
    done = wait_imported(api, ws)
    assert done["status"] == "idle", done
    s = create_session(api, workspace=ws["id"])
    assert run(api, s["id"], "cat /workspace/README.md")["output"] == "hello import\n"
    assert run(api, s["id"], "git -C /workspace rev-parse HEAD", user="user")["output"].strip() == commit
    assert run(api, s["id"], "stat -c %u /workspace/src/a.py")["output"].strip() == "1000"
    terminate(api, s["id"])


def test_private_import_with_token_leaves_no_token_behind(
    owner: User, git_server: GitServer, storage_server: Server
) -> None:
    repo = new_name("secret")
    git_server.make_repo(f"private/{repo}.git", {"SECRET.md": "private stuff\n"}, branch="trunk")
    url = f"{git_server.url}/private/{repo}.git"
    api = owner.api

    failed = expect(api.post("/v1/workspaces/import", json={"github_repo": url, "token": "wrong-token"}), 202)
    failed = wait_imported(api, failed)
    assert failed["status"] == "import_failed" and failed["status_message"], failed
    assert "wrong-token" not in failed["status_message"]

    ws = expect(
        api.post("/v1/workspaces/import", json={"github_repo": url, "ref": "trunk", "token": GIT_TOKEN}), 202
    )
    done = wait_imported(api, ws)
    assert done["status"] == "idle", done
    assert done["github_repo"] == url and done["github_ref"] == "trunk"
    s = create_session(api, workspace=ws["id"])
    assert run(api, s["id"], "cat /workspace/SECRET.md")["output"] == "private stuff\n"
    grep = run(api, s["id"], f"grep -rl -e '{GIT_TOKEN}' /workspace/.git; echo exit=$?")
    assert grep["output"].strip() == "exit=1", grep
    config = run(api, s["id"], "git -C /workspace config --list --show-origin", user="user")["output"]
    assert GIT_TOKEN not in config and "extraheader" not in config.lower(), config
    assert run(api, s["id"], "git -C /workspace remote get-url origin", user="user")["output"].strip() == url
    terminate(api, s["id"])
    db_bytes = b"".join(p.read_bytes() for p in storage_server.data_dir.glob("chaser.db*"))
    assert GIT_TOKEN.encode() not in db_bytes, "the token is stored sealed, never in plain text"


def test_import_rules(owner: User) -> None:
    api = owner.api
    for bad in ("not a repo", "file:///etc", "ssh://git@host/x.git"):
        expect_error(api.post("/v1/workspaces/import", json={"github_repo": bad}), 400, "invalid_field")
    expect_error(
        api.post("/v1/workspaces/import", json={"github_repo": "https://user:pw@example.test/o/r.git"}),
        400,
        "invalid_field",
    )
    expect_error(
        api.post("/v1/workspaces/import", json={"github_repo": "o/r", "ref": "--upload-pack=x"}),
        400,
        "invalid_field",
    )


def test_emptied_workspace_rebootstraps_on_the_next_session(owner: User, git_server: GitServer) -> None:
    repo = new_name("boot")
    git_server.make_repo(f"private/{repo}.git", {"app.txt": "v1\n"})
    api = owner.api
    ws = expect(
        api.post(
            "/v1/workspaces/import",
            json={"github_repo": f"{git_server.url}/private/{repo}.git", "token": GIT_TOKEN},
        ),
        202,
    )
    assert wait_imported(api, ws)["status"] == "idle"
    s = create_session(api, workspace=ws["id"])
    run(api, s["id"], "rm -rf /workspace/* /workspace/.[!.]* && ls -A /workspace")
    terminate(api, s["id"])

    s = create_session(api, workspace=ws["id"])
    assert run(api, s["id"], "cat /workspace/app.txt")["output"] == "v1\n", "cloned again on boot"
    # a workspace with files is left alone
    run(api, s["id"], "echo mine > /workspace/app.txt")
    terminate(api, s["id"])
    s = create_session(api, workspace=ws["id"])
    assert run(api, s["id"], "cat /workspace/app.txt")["output"] == "mine\n"
    terminate(api, s["id"])
