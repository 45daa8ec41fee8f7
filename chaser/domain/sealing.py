"""Sealing small secrets (git import tokens) for storage: never kept in plain text.

Stdlib only (no `cryptography` in the image): HMAC-SHA256 as a pseudo-random function in counter
mode for the keystream, then HMAC-SHA256 over nonce + ciphertext (encrypt-then-MAC), with two
keys derived from the server's secret (`<data_dir>/session-token.key`). A sealed value reads
`v1.<nonce b64>.<ciphertext b64>.<tag b64>`; a wrong key or a tampered value opens to None.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def _keys(secret: bytes) -> tuple[bytes, bytes]:
    enc = hmac.new(secret, b"chaser-seal-v1-encrypt", hashlib.sha256).digest()
    mac = hmac.new(secret, b"chaser-seal-v1-mac", hashlib.sha256).digest()
    return enc, mac


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(secret: bytes, plaintext: str) -> str:
    enc, mac = _keys(secret)
    nonce = secrets.token_bytes(16)
    data = plaintext.encode()
    cipher = bytes(a ^ b for a, b in zip(data, _stream(enc, nonce, len(data)), strict=True))
    tag = hmac.new(mac, nonce + cipher, hashlib.sha256).digest()
    return f"v1.{_b64(nonce)}.{_b64(cipher)}.{_b64(tag)}"


def unseal(secret: bytes, sealed: str) -> str | None:
    try:
        version, nonce_s, cipher_s, tag_s = sealed.split(".")
        nonce, cipher, tag = _unb64(nonce_s), _unb64(cipher_s), _unb64(tag_s)
    except ValueError:
        return None
    if version != "v1":
        return None
    enc, mac = _keys(secret)
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + cipher, hashlib.sha256).digest()):
        return None
    data = bytes(a ^ b for a, b in zip(cipher, _stream(enc, nonce, len(cipher)), strict=True))
    return data.decode(errors="replace")
