"""Heavy dependencies stay unloaded where they are not needed (each check in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHASER = REPO / ".venv" / "bin" / "chaser"
HELP_BUDGET_S = 2.0


def _loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(json.loads(out.stdout))


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_sdk_loads_neither_fastapi_nor_sqlalchemy() -> None:
    tops = _top(_loaded_after("import chaser.sdk"))
    for heavy in ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "pydantic", "typer"):
        assert heavy not in tops, f"import chaser.sdk loaded {heavy}"
    server_side = {n for n in _loaded_after("import chaser.sdk") if n.startswith("chaser.")}
    assert all(n.startswith("chaser.sdk") for n in server_side), server_side


def test_agent_loads_only_the_standard_library() -> None:
    before = _loaded_after("pass")
    after = _loaded_after("import chaser.agent")
    foreign = {n for n in _top(after - before) if n != "chaser" and n not in sys.stdlib_module_names}
    assert not foreign, f"import chaser.agent loaded non-stdlib modules: {sorted(foreign)}"


def test_cli_help_is_fast() -> None:
    subprocess.run([str(CHASER), "--help"], capture_output=True, check=True)  # warm the bytecode cache
    started = time.monotonic()
    proc = subprocess.run([str(CHASER), "--help"], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "sessions" in proc.stdout and "server" in proc.stdout
    assert elapsed < HELP_BUDGET_S, f"chaser --help took {elapsed:.2f}s"


def test_cli_help_loads_no_server_or_sdk_code() -> None:
    tops = _top(_loaded_after("import chaser.cli.main"))
    for heavy in ("fastapi", "sqlalchemy", "uvicorn", "httpx", "websockets"):
        assert heavy not in tops, f"import chaser.cli.main loaded {heavy}"
