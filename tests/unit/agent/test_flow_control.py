"""The agent's side of flow control (Channel.data against a window of credit), with a list as
the link: pure logic and threads, no host."""

from __future__ import annotations

import threading

import pytest

from chaser.agent.channel import Channel
from chaser.agent.protocol import DATA_CHUNK, HEADER, WINDOW, WINDOW_INITIAL, Frame, FrameType, ProtocolError


def sent_data(frames: list[bytes]) -> int:
    return sum(len(f) - HEADER.size for f in frames if f[0] == FrameType.DATA)


def start_sending(channel: Channel, size: int) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(channel.data(b"x" * size)), daemon=True)
    thread.start()
    return thread, result


def test_data_waits_for_credit_beyond_the_window() -> None:
    frames: list[bytes] = []
    channel = Channel(1, frames.append)
    thread, result = start_sending(channel, WINDOW_INITIAL + 3 * DATA_CHUNK)
    thread.join(0.3)
    assert thread.is_alive(), "blocked once the window is used up"
    assert sent_data(frames) == WINDOW_INITIAL
    channel.deliver(Frame(FrameType.WINDOW, 1, WINDOW.pack(3 * DATA_CHUNK)))
    thread.join(2)
    assert result == [True] and sent_data(frames) == WINDOW_INITIAL + 3 * DATA_CHUNK


@pytest.mark.parametrize("stop", ["cancel", "stop_data"])
def test_a_cancelled_or_stopped_channel_releases_the_sender(stop: str) -> None:
    frames: list[bytes] = []
    channel = Channel(1, frames.append)
    thread, result = start_sending(channel, 2 * WINDOW_INITIAL)
    thread.join(0.3)
    assert thread.is_alive()
    getattr(channel, stop)()
    thread.join(2)
    assert result == [False], "the rest is dropped: nobody reads it"
    assert sent_data(frames) == WINDOW_INITIAL


def test_window_frames_never_reach_the_ops_inbox() -> None:
    channel = Channel(1, lambda frame: None)
    channel.deliver(Frame(FrameType.WINDOW, 1, WINDOW.pack(10)))
    assert channel.inbox.empty()


def test_a_malformed_window_frame_is_a_protocol_error() -> None:
    channel = Channel(1, lambda frame: None)
    with pytest.raises(ProtocolError):
        channel.deliver(Frame(FrameType.WINDOW, 1, b"\x01"))
