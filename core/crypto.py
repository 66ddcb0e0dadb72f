"""Requester identities: encrypted with rotatable keys, found again by a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class IdentityCipher:
    """MultiFernet over PEERLINE_ENCRYPTION_KEYS (newest first) plus a blind index."""

    def __init__(self, fernet_keys: list[str], secret_key: str) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in fernet_keys])
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"peerline identity index"
        ).derive(secret_key.encode())

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise ValueError("identity cannot be decrypted with the configured keys") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the newest key (for `peerline keys rotate`)."""
        return self._fernet.rotate(ciphertext)

    def lookup_hash(self, platform: str, subject: str) -> str:
        message = f"{platform}\x00{subject}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


API_TOKEN_PREFIX = "plt_"  # noqa: S105 - a public prefix, not a secret
REQUESTER_TOKEN_PREFIX = "plr_"  # noqa: S105


def new_secret_token(prefix: str) -> str:
    """An unguessable bearer token: prefix + 256 random bits."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are high-entropy, so one SHA-256 is the right hash to store."""
    return hashlib.sha256(token.encode()).hexdigest()
