from __future__ import annotations

import socket

import pytest

from chaser.agent.protocol import (
    HEADER,
    MAX_PAYLOAD,
    Decoder,
    FrameType,
    ProtocolError,
    encode,
    encode_json,
    read_frame,
)


def test_header_is_nine_bytes_big_endian() -> None:
    assert HEADER.size == 9
    assert encode(FrameType.DATA, 7, b"hi") == b"\x03\x00\x00\x00\x07\x00\x00\x00\x02hi"


def test_decoder_handles_split_and_joined_frames() -> None:
    wire = (
        encode(FrameType.DATA, 1, b"abc")
        + encode_json(FrameType.EVENT, 2, {"a": 1})
        + encode(FrameType.EOF, 3)
    )
    decoder = Decoder()
    frames = []
    for i in range(len(wire)):
        frames += decoder.feed(wire[i : i + 1])
    assert [(f.type, f.channel) for f in frames] == [
        (FrameType.DATA, 1),
        (FrameType.EVENT, 2),
        (FrameType.EOF, 3),
    ]
    assert frames[0].payload == b"abc"
    assert frames[1].json() == {"a": 1}
    assert Decoder().feed(wire) == frames


def test_rejects_unknown_type_and_oversized_frames() -> None:
    with pytest.raises(ProtocolError):
        Decoder().feed(b"\x63" + b"\x00" * 8)
    with pytest.raises(ProtocolError):
        Decoder().feed(HEADER.pack(FrameType.DATA, 1, MAX_PAYLOAD + 1))
    with pytest.raises(ProtocolError):
        encode(FrameType.DATA, 1, b"x" * (MAX_PAYLOAD + 1))


def test_read_frame_blocking_and_end_of_stream() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(encode(FrameType.DATA, 5, b"payload"))
        frame = read_frame(b)
        assert frame is not None and frame.channel == 5 and frame.payload == b"payload"
        a.sendall(encode(FrameType.DATA, 5, b"xyz")[:6])
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(ProtocolError):
            read_frame(b)


def test_read_frame_returns_none_on_clean_close() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.close()
        assert read_frame(b) is None
