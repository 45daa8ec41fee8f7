"""Sealing small secrets (git import tokens) for storage: never kept in plain text.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key derived from the server's
secret (`<data_dir>/session-token.key`) by HKDF, so the token key never equals the signing key. A
wrong key or a tampered value opens to None.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _fernet(secret: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"chaser-seal-v1").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: bytes, plaintext: str) -> str:
    return _fernet(secret).encrypt(plaintext.encode()).decode()


def unseal(secret: bytes, sealed: str) -> str | None:
    try:
        return _fernet(secret).decrypt(sealed.encode()).decode(errors="replace")
    except (InvalidToken, ValueError):
        return None
