"""The tool's own RSA keys: made once, kept encrypted, the newest signs, all are published.

Platforms check Deep Linking responses against `/lti/jwks`. The private half is stored
encrypted with the identity keys (`PEERLINE_ENCRYPTION_KEYS`; in development the keys in
the instance folder), so a database copy alone cannot sign as PeerLine. The kid is the
RFC 7638 thumbprint of the public key, so it never changes for a key. Rotation adds a
newer key; older ones stay published so tokens already signed still verify.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import delete, select

from lms.lti.storage import TOOL_KEYS

if TYPE_CHECKING:
    from core.runtime import Runtime

ALGORITHM = "RS256"
KEY_BITS = 2048
RETIRE_AFTER = timedelta(days=1)
"""How long a replaced key stays published: what it signed (a Deep Linking answer) lives
minutes, and platforms re-read `/lti/jwks` when they meet a kid they do not know."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without spaces."""
    members = {name: public_jwk[name] for name in ("e", "kty", "n")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


class ToolKeys:
    """Reads and makes the keys; decrypted private keys are kept per process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    def signing_key(self) -> SigningKey:
        """The newest key, made now if there is none yet."""
        with self._lock:
            row = self._newest()
            if row is None:
                self._add()
                row = self._newest()
            assert row is not None
            kid, encrypted = row
            if kid not in self._private:
                pem = self.runtime.cipher.decrypt(encrypted.encode())
                key = serialization.load_pem_private_key(pem.encode(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._private[kid] = key
            return SigningKey(kid=kid, private=self._private[kid])

    def jwks(self) -> dict[str, Any]:
        """Every public key, newest first (made now if there is none yet)."""
        self.signing_key()
        with self.runtime.engine.connect() as connection:
            rows = connection.execute(
                select(TOOL_KEYS.c.public_jwk).order_by(TOOL_KEYS.c.created_at.desc())
            ).scalars()
            return {"keys": [json.loads(jwk) for jwk in rows]}

    def rotate(self) -> str:
        """Add a newer key, which signs from now on; returns its kid."""
        with self._lock:
            return self._add()

    def _newest(self) -> tuple[str, str] | None:
        with self.runtime.engine.connect() as connection:
            row = connection.execute(
                select(TOOL_KEYS.c.kid, TOOL_KEYS.c.private_key)
                .order_by(TOOL_KEYS.c.created_at.desc(), TOOL_KEYS.c.kid)
                .limit(1)
            ).first()
        return None if row is None else (row.kid, row.private_key)

    def _add(self) -> str:
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        full = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        public: dict[str, Any] = {name: full[name] for name in ("kty", "n", "e")}
        kid = thumbprint(public)
        public.update(kid=kid, alg=ALGORITHM, use="sig")
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self.runtime.engine.begin() as connection:
            connection.execute(
                TOOL_KEYS.insert().values(
                    kid=kid,
                    private_key=self.runtime.cipher.encrypt(pem).decode(),
                    public_jwk=json.dumps(public, sort_keys=True),
                    created_at=self.runtime.clock.now(),
                )
            )
        self._private[kid] = private
        return kid

    def retire(self, after: timedelta = RETIRE_AFTER) -> list[str]:
        """Stop publishing keys replaced more than `after` ago; the newest is always kept."""
        cutoff = self.runtime.clock.now() - after
        with self._lock, self.runtime.engine.begin() as connection:
            rows = connection.execute(
                select(TOOL_KEYS.c.kid, TOOL_KEYS.c.created_at).order_by(
                    TOOL_KEYS.c.created_at.desc(), TOOL_KEYS.c.kid
                )
            ).all()
            # a key was replaced when the next newer one was made
            gone = [old.kid for new, old in itertools.pairwise(rows) if new.created_at < cutoff]
            if gone:
                connection.execute(delete(TOOL_KEYS).where(TOOL_KEYS.c.kid.in_(gone)))
            for kid in gone:
                self._private.pop(kid, None)
        return gone

    def reencrypt(self) -> int:
        """Re-encrypt every private key under the newest identity key (after a key rotation)."""
        with self.runtime.engine.begin() as connection:
            rows = connection.execute(select(TOOL_KEYS.c.kid, TOOL_KEYS.c.private_key)).all()
            for kid, encrypted in rows:
                rotated = self.runtime.cipher.rotate(encrypted.encode()).decode()
                connection.execute(
                    TOOL_KEYS.update().where(TOOL_KEYS.c.kid == kid).values(private_key=rotated)
                )
        return len(rows)
