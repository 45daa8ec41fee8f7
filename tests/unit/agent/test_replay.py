from __future__ import annotations

from chaser.agent.process.replay import ReplayBuffer


def test_offsets_count_every_byte_and_since_returns_the_rest() -> None:
    buf = ReplayBuffer(limit=100)
    buf.append(b"hello ")
    buf.append(b"world")
    assert (buf.start, buf.end) == (0, 11)
    assert buf.since(6) == (6, b"world")
    assert buf.since(0) == (0, b"hello world")
    assert buf.since(11) == (11, b"")
    assert buf.since(50) == (11, b"")  # past the end: nothing


def test_old_bytes_are_dropped_and_replay_never_exceeds_the_limit() -> None:
    buf = ReplayBuffer(limit=100)
    for i in range(50):
        buf.append(bytes([65 + i % 26]) * 10)  # 500 bytes in all
    assert buf.end == 500
    assert buf.start > 0
    start, data = buf.since(0)  # asked for bytes long gone: get what is left, at most the limit
    assert start == 400 and len(data) == 100 and start + len(data) == buf.end
    assert buf.since(450) == (450, buf.since(0)[1][50:])


def test_one_huge_chunk_is_trimmed_at_once() -> None:
    buf = ReplayBuffer(limit=10)
    buf.append(b"x" * 1000)
    assert (buf.start, buf.end) == (990, 1000)
    assert buf.since(0) == (990, b"x" * 10)
