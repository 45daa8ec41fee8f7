"""Commands: run to completion (`exec`), or in the background with a resumable SSE output stream,
stdin and signals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from chaser.sdk._errors import ConnectionFailed
from chaser.sdk._http import Http

__all__ = ["AsyncCommands", "CommandEvent", "exec_body", "parse_sse"]

Json = dict[str, Any]

# How often a broken background-command stream is resumed (with Last-Event-ID) before giving up.
STREAM_RESUME_TRIES = 5


@dataclass(frozen=True)
class CommandEvent:
    """One event of a background command: `event` is `stdout`, `stderr`, `exit` or `dropped`.
    `id` is the resume point (pass it as `after=`)."""

    id: int | None
    event: str
    data: str = ""
    exit_code: int | None = None
    raw: Json | None = None


def exec_body(
    command: str,
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout_ms: int | None = None,
    user: str | None = None,
    background: bool = False,
) -> Json:
    body: Json = {"command": command}
    for key, value in (
        ("cwd", cwd),
        ("env", env),
        ("stdin", stdin),
        ("timeout_ms", timeout_ms),
        ("user", user),
    ):
        if value is not None:
            body[key] = value
    if background:
        body["background"] = True
    return body


def parse_sse(lines: list[str]) -> CommandEvent | None:
    """One SSE block (the lines up to a blank one) → a `CommandEvent`; comments/keep-alives → None."""
    event = "message"
    event_id: int | None = None
    data_lines: list[str] = []
    for line in lines:
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "id":
            try:
                event_id = int(value)
            except ValueError:
                event_id = None
        elif field == "data":
            data_lines.append(value)
    if not data_lines and event == "message":
        return None
    raw_text = "\n".join(data_lines)
    try:
        payload = json.loads(raw_text) if raw_text else {}
    except ValueError:
        payload = {"data": raw_text}
    if not isinstance(payload, dict):
        payload = {"data": str(payload)}
    data = payload.get("data")
    code = payload.get("exit_code")
    return CommandEvent(
        id=event_id,
        event=event,
        data=data if isinstance(data, str) else "",
        exit_code=code if isinstance(code, int) else None,
        raw=payload,
    )


class AsyncCommands:
    """`client.commands`: background commands of a session."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def list(self, session_id: str) -> Json:
        result: Json = await self._http.request("GET", f"/v1/sessions/{session_id}/commands")
        return result

    async def get(self, session_id: str, command_id: str) -> Json:
        result: Json = await self._http.request("GET", f"/v1/sessions/{session_id}/commands/{command_id}")
        return result

    async def stdin(self, session_id: str, command_id: str, data: str = "", *, eof: bool = False) -> Json:
        result: Json = await self._http.request(
            "POST",
            f"/v1/sessions/{session_id}/commands/{command_id}/stdin",
            json_body={"data": data, "eof": eof},
        )
        return result

    async def kill(self, session_id: str, command_id: str, signal: str | int = "TERM") -> Json:
        result: Json = await self._http.request(
            "POST", f"/v1/sessions/{session_id}/commands/{command_id}/kill", json_body={"signal": signal}
        )
        return result

    async def stream(
        self, session_id: str, command_id: str, *, after: int | None = None, resume: bool = True
    ) -> AsyncIterator[CommandEvent]:
        """Yields the command's output events until `exit`. A stream that breaks is resumed from the
        last event id (`Last-Event-ID`), so nothing is repeated or lost, up to a few times."""
        last = after
        tries = 0
        while True:
            headers = {"Last-Event-ID": str(last)} if last is not None else None
            params = {"after": last} if last is not None else None
            try:
                async with self._http.stream(
                    "GET",
                    f"/v1/sessions/{session_id}/commands/{command_id}/stream",
                    params=params,
                    headers=headers,
                ) as resp:
                    block: list[str] = []
                    async for line in resp.aiter_lines():
                        if line:
                            block.append(line)
                            continue
                        event = parse_sse(block)
                        block = []
                        if event is None:
                            continue
                        if event.id is not None:
                            last = event.id
                        tries = 0
                        yield event
                        if event.event == "exit":
                            return
                    if block and (event := parse_sse(block)) is not None:
                        yield event
                        if event.event == "exit":
                            return
            except ConnectionFailed:
                if not resume or tries >= STREAM_RESUME_TRIES:
                    raise
            else:
                if not resume or tries >= STREAM_RESUME_TRIES:
                    return
            tries += 1
            await asyncio.sleep(min(0.2 * 2**tries, 3.0))
