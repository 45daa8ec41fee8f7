"""`chaser shell`: a real terminal, driven through tmux (send-keys to type, capture-pane to read)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.integration.conftest import CHASER

SCREEN_TIMEOUT_S = 60


class Tmux:
    """One detached tmux session on a private socket, running one command."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"chaser-e2e-{uuid.uuid4().hex[:8]}"
        self.name = "t"
        self.tmp = tmp

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, (args, proc.stderr)
        return proc.stdout

    def start(
        self, env: dict[str, str], argv: list[str], rc_file: Path, cols: int = 100, rows: int = 30
    ) -> None:
        """Runs `argv` in a terminal of cols x rows; its exit code lands in `rc_file`."""
        script = self.tmp / "run.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.startswith("CHASER_"))
        script.write_text(f"{exports}{shlex.join(argv)}\necho $? > {shlex.quote(str(rc_file))}\nsleep 600\n")
        self.tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(cols),
            "-y",
            str(rows),
            f"bash {shlex.quote(str(script))}",
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)
        self.tmux("send-keys", "-t", self.name, "Enter")

    def resize(self, cols: int, rows: int) -> None:
        self.tmux("resize-window", "-t", self.name, "-x", str(cols), "-y", str(rows))

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + SCREEN_TIMEOUT_S
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"screen never showed {what}:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (scripts/test.sh installs it)")
    t = Tmux(tmp_path)
    yield t
    t.kill()


def _lines(screen: str) -> list[str]:
    return [line.rstrip() for line in screen.splitlines()]


def _wait_prompt(tmux: Tmux) -> None:
    tmux.wait_for(lambda s: any(line.endswith(("#", "$")) for line in _lines(s)), "a shell prompt")


def _wait_rc(rc_file: Path) -> int:
    deadline = time.monotonic() + SCREEN_TIMEOUT_S
    while time.monotonic() < deadline:
        if rc_file.exists() and rc_file.read_text().strip():
            return int(rc_file.read_text().strip())
        time.sleep(0.2)
    raise AssertionError("chaser shell did not exit")


def test_interactive_shell_arithmetic_resize_and_exit_code(
    cli: Cli, sandbox: str, tmux: Tmux, tmp_path: Path
) -> None:
    rc_file = tmp_path / "rc"
    tmux.start(cli.env, [str(CHASER), "shell", sandbox], rc_file, cols=100, rows=30)
    _wait_prompt(tmux)

    tmux.type("echo $((6*7))")
    tmux.wait_for(lambda s: "42" in _lines(s), "42 on a line of its own")

    tmux.type("stty size")
    tmux.wait_for(lambda s: "30 100" in _lines(s), "the initial size 30 100")

    tmux.resize(120, 40)
    time.sleep(0.5)  # SIGWINCH → resize message → the remote pty
    tmux.type("clear; stty size")
    tmux.wait_for(lambda s: "40 120" in _lines(s), "the new size 40 120")

    tmux.type("exit 3")
    assert _wait_rc(rc_file) == 3


def test_ctrl_c_reaches_the_remote_shell(cli: Cli, sandbox: str, tmux: Tmux, tmp_path: Path) -> None:
    rc_file = tmp_path / "rc"
    tmux.start(cli.env, [str(CHASER), "shell", sandbox], rc_file)
    _wait_prompt(tmux)
    tmux.type("sleep 300")
    time.sleep(1)
    tmux.tmux("send-keys", "-t", tmux.name, "C-c")
    tmux.type("echo after-$((1+1))")
    tmux.wait_for(lambda s: "after-2" in _lines(s), "the shell alive after Ctrl+C")
    tmux.type("exit")
    assert _wait_rc(rc_file) == 0


def test_command_mode_exit_code(cli: Cli, sandbox: str) -> None:
    proc = cli("shell", sandbox, "-c", "echo from-pty; exit 5")
    assert proc.returncode == 5, proc.stderr
    assert "from-pty" in proc.stdout


def test_without_id_an_ephemeral_sandbox_is_made_and_removed(cli: Cli) -> None:
    proc = cli("shell", "-c", "echo inside")
    assert proc.returncode == 0, proc.stderr
    assert "inside" in proc.stdout
    page = cli.json("sessions", "list")
    assert page["count"] == 1
    assert page["data"][0]["status"] == "terminated"


def test_unknown_session_is_a_clean_error(cli: Cli) -> None:
    proc = cli("shell", "00000000-0000-0000-0000-000000000000", "-c", "true")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
