"""Browser ops: `browser_start`, `browser_stop`, `browser_status`, `browser_extension_add`."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from typing import Any

from ..channel import Channel
from ..errors import BadRequest, Cancelled
from ..protocol import FrameType
from .supervisor import SUPERVISOR, Config

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _config(args: dict[str, Any]) -> Config:
    try:
        return Config(
            profile_dir=str(args["profile_dir"]),
            extensions_dir=str(args["extensions_dir"]),
            port=int(args.get("port", 9222)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRequest(f"browser_start needs profile_dir, extensions_dir, port: {exc}") from exc


def browser_start(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    try:
        return SUPERVISOR.start(_config(args), wait=bool(args.get("wait", True)))
    except TimeoutError as exc:
        raise BadRequest(str(exc), code="browser_unavailable") from exc


def browser_stop(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    return SUPERVISOR.stop()


def browser_status(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    return SUPERVISOR.status()


def browser_extension_add(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    """stdin: a tar of one unpacked extension (manifest.json at its root, checked by the control
    plane; checked again here). Unpacked under `<extensions_dir>/<name>`, then Chromium restarts
    with every extension there loaded."""
    name = str(args.get("name", ""))
    if not name or not set(name) <= NAME_CHARS or name.startswith("."):
        raise BadRequest(f"extension name {name!r}: letters, digits, '.', '_', '-' only")
    status = SUPERVISOR.status()
    config = status.get("config")
    if not config:
        raise BadRequest("the browser was never started", code="browser_unavailable")
    payload = bytearray()
    while True:
        frame = channel.read_input()
        if frame is None:
            continue
        if frame.type is FrameType.DATA:
            payload += frame.payload
        elif frame.type is FrameType.EOF:
            break
        else:
            raise Cancelled("extension upload cancelled by the host")
    dest = os.path.join(config["extensions_dir"], name)
    tmp = dest + ".chaser-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(fileobj=io.BytesIO(bytes(payload)), mode="r:") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
                shutil.rmtree(tmp, ignore_errors=True)
                raise BadRequest(
                    f"{member.name}: only plain relative files and folders", code="invalid_archive"
                )
        tar.extractall(tmp)  # every member checked above
    if not os.path.isfile(os.path.join(tmp, "manifest.json")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadRequest("no manifest.json at the extension's root", code="invalid_archive")
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    cfg = Config(**config)
    return SUPERVISOR.start(cfg, wait=True)
