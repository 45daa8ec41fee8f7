"""`chaser` command line. Heavy imports (FastAPI, SQLAlchemy, uvicorn, the SDK's httpx and
websockets, rich) happen inside commands so `chaser --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaser.cli import admin, exec, files, forward, sessions, shell, workspaces
from chaser.cli._client import Globals

RUNTIME_HELP = "auto | gvisor | qemu (auto: qemu when a KVM probe boots, else gvisor)"

app = typer.Typer(
    name="chaser",
    help="Chaser: sessions as microVMs, on your own machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(admin.app, name="admin")
app.add_typer(sessions.app, name="sessions")
app.add_typer(workspaces.app, name="workspaces")
app.command("sandbox")(sessions.sandbox)
app.command("shell")(shell.shell)
app.command("exec")(exec.exec_)
app.command("upload")(files.upload)
app.command("download")(files.download)
app.command("forward")(forward.forward)


@app.callback()
def main(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Machine output (JSON) everywhere")] = False,
    account: Annotated[
        str | None,
        typer.Option("--account", envvar="CHASER_ACCOUNT", help="Account id, exact name or `personal`"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", envvar="CHASER_API_URL", help="[default: http://127.0.0.1:8000]"),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="CHASER_API_KEY", help="An API key (sk_...)")
    ] = None,
) -> None:
    """Chaser: sessions as microVMs, on your own machine."""
    ctx.obj = Globals(json=json_, account=account, api_url=api_url, api_key=api_key)


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database and host state live [default: .chaser]")
]


@app.command()
def server(
    data_dir: DataDir = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on [default: 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on [default: 8000]")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help=RUNTIME_HELP)] = None,
) -> None:
    """Run the whole platform on this machine: API server plus a supervised host daemon."""
    from chaser.cli.server import run_server

    run_server(data_dir=data_dir, host=host, port=port, runtime=runtime)


@app.command("host")
def host_daemon(
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Host daemon state directory")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port of the internal API")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help=RUNTIME_HELP)] = None,
) -> None:
    """Run one host daemon (started by `chaser server`; token in CHASER_HOST_TOKEN)."""
    from chaser.host.daemon import serve  # type: ignore[import-not-found,unused-ignore]
    from chaser.settings import HostSettings

    overrides: dict[str, object] = {}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if port is not None:
        overrides["port"] = port
    if runtime is not None:
        overrides["runtime"] = runtime
    serve(HostSettings(**overrides))  # type: ignore[arg-type]


if __name__ == "__main__":
    app()
