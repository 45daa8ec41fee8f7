"""The `chaser` command line (typer + rich)."""
