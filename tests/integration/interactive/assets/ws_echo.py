"""A WebSocket echo server in the standard library only, to run inside a sandbox:
`python3 ws_echo.py <port>`. Echoes text and binary messages; "close-me" closes with 4001."""

import base64
import hashlib
import socket
import struct
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def send_frame(conn, opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    conn.sendall(head + payload)


def serve(conn):
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return
        request += chunk
    headers = {}
    for line in request.split(b"\r\n")[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(headers[b"sec-websocket-key"] + GUID).digest())
    response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    response += b"Sec-WebSocket-Accept: " + accept + b"\r\n"
    if b"chat" in headers.get(b"sec-websocket-protocol", b""):
        response += b"Sec-WebSocket-Protocol: chat\r\n"
    conn.sendall(response + b"\r\n")
    message, kind = b"", 1
    while True:
        b1, b2 = read_exact(conn, 2)
        opcode, fin = b1 & 0x0F, b1 & 0x80
        n = b2 & 0x7F
        if n == 126:
            n = struct.unpack("!H", read_exact(conn, 2))[0]
        elif n == 127:
            n = struct.unpack("!Q", read_exact(conn, 8))[0]
        mask = read_exact(conn, 4) if b2 & 0x80 else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(conn, n)))
        if opcode == 8:
            send_frame(conn, 8, payload[:2])
            return
        if opcode == 9:
            send_frame(conn, 10, payload)
            continue
        if opcode in (1, 2):
            message, kind = payload, opcode
        elif opcode == 0:
            message += payload
        if fin and opcode in (0, 1, 2):
            if kind == 1 and message == b"close-me":
                send_frame(conn, 8, struct.pack("!H", 4001) + b"asked to")
                return
            send_frame(conn, kind, message)


def handle(conn):
    try:
        serve(conn)
    except (ConnectionError, OSError):
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print(f"listening on {port}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
