"""Per-case identity keys and the sealing of identity data (AES-GCM).

Each case has its own 256-bit key, kept in a table of intake's own database (or the database named by
``Settings.key_store_url``): never in the stream and never among the read-model tables, which a
rebuild drops and recreates. Destroying a case's key is how its personal data is erased: the sealed
fields stay in the events, and nobody can read them any more (crypto-shredding).

A sealed field is ``base64(nonce || ciphertext)``; the case id and the field's purpose are bound in
as associated data, so a sealed value copied into another case or another field does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events import utcnow
from shared.readmodel import create_tables, sessions, sqlite_write_batch, write_lock

NONCE_BYTES = 12

key_store = MetaData()
case_keys = Table(
    "intake_identity_key",
    key_store,
    Column("case_id", String(64), primary_key=True),
    Column("key", LargeBinary(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class SealBroken(ValueError):
    """A sealed value does not open under this case's key (tampered, or sealed for something else)."""


def seal(key: bytes, case_id: str, purpose: str, plaintext: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), _bound_to(case_id, purpose))
    return base64.b64encode(nonce + ciphertext).decode("ascii")


def unseal(key: bytes, case_id: str, purpose: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    try:
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound_to(case_id, purpose))
    except InvalidTag:
        # Says which case, never what the value was.
        raise SealBroken(f"a sealed {purpose} of case {case_id} does not open") from None
    return plaintext.decode()


def _bound_to(case_id: str, purpose: str) -> bytes:
    return f"shakti-intake:{case_id}:{purpose}".encode()


class KeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = sessions(engine)
        self._write = write_lock(engine)

    async def setup(self) -> None:
        await create_tables(self.engine, key_store)

    async def find(self, case_id: str) -> bytes | None:
        """The case's key, or None when it never existed or was destroyed."""
        async with self._sessions() as session:
            key: bytes | None = await session.scalar(
                select(case_keys.c.key).where(case_keys.c.case_id == case_id)
            )
            return key

    async def key_for(self, case_id: str) -> bytes:
        """The case's key, made on first use. Safe when two replicas register the same case at once."""
        fresh = AESGCM.generate_key(bit_length=256)
        try:
            # A new case is the common call: insert first, and look only when the key already exists.
            async with self._write:
                with sqlite_write_batch():
                    async with self._sessions.begin() as session:
                        await session.execute(
                            insert(case_keys).values(case_id=case_id, key=fresh, created_at=utcnow())
                        )
        except IntegrityError:
            # A repeated registration, or another replica first: everyone must seal with the same key.
            stored = await self.find(case_id)
            if stored is None:
                raise
            return stored
        return fresh

    async def destroy(self, case_id: str) -> bool:
        """Crypto-shredding: the key is gone, and with it every sealed field of the case."""
        async with self._write:
            with sqlite_write_batch():
                async with self._sessions.begin() as session:
                    result = await session.execute(delete(case_keys).where(case_keys.c.case_id == case_id))
                    return bool(result.rowcount)
