"""Per-case identity keys and the sealing of identity data (AES-GCM).

Each case has its own 256-bit key, kept in a table of intake's own database (or the database named by
``Settings.key_store_url``): never in the stream and never among the read-model tables, which a
rebuild drops and recreates. Destroying a case's key is how its personal data is erased: the sealed
fields stay in the events, and nobody can read them any more (crypto-shredding).

The store holds only *wrapped* keys (``services/intake/kek.py``): a copy of the store alone decrypts
nothing. An erasure leaves no copy of the key anywhere the store writes: SQLite overwrites deleted
content (``secure_delete``) and the WAL is checkpointed and truncated after each erasure; PostgreSQL
deletes the row and rewrites the table (``VACUUM FULL``). Erasures are also re-applied from intake's
stream at every start (``apply_erasures``) and after a restore, so that an old copy of the store cannot
bring a key back; an erased case leaves a tombstone (its id only), so that merging an old copy never
re-adds its key.

A sealed field is ``base64(nonce || ciphertext)``; the case id and the field's purpose are bound in
as associated data, so a sealed value copied into another case or another field does not open.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.intake.kek import KekMissing, KekRing
from shared.contracts.intake import AGGREGATE, SERVICE, IdentityErased
from shared.events import utcnow
from shared.eventstore import EventStore, stream_name
from shared.readmodel import create_engine, create_tables, sessions, sqlite_write_batch, write_lock

log = logging.getLogger(__name__)

NONCE_BYTES = 12

key_store = MetaData()
case_keys = Table(
    "intake_identity_key",
    key_store,
    Column("case_id", String(64), primary_key=True),
    # The case key wrapped by the KEK ``kek_id``; never the key itself, except in a row written before
    # keys were wrapped (``kek_id`` NULL), which the next start wraps.
    Column("key", LargeBinary(64), nullable=False),
    Column("kek_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
erased_cases = Table(
    "intake_erased_case",
    key_store,
    Column("case_id", String(64), primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)
"""Tombstones: the cases whose key was destroyed (ids only), so that no restore or merge re-adds one."""
progress = Table(
    "intake_key_store_progress",
    key_store,
    Column("name", String(64), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)
"""How far into intake's stream the erasures are applied (``erasures``: a stream sequence)."""
ERASURES = "erasures"
SCRUB_ATTEMPTS = 20


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


def seal_bytes(key: bytes, case_id: str, purpose: str, content: bytes) -> bytes:
    """A file sealed like a field (``nonce || ciphertext``, bound to its case and purpose), kept raw."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, content, _bound_to(case_id, purpose))


def unseal_bytes(key: bytes, case_id: str, purpose: str, sealed: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _bound_to(case_id, purpose))
    except InvalidTag:
        raise SealBroken(f"a sealed {purpose} of case {case_id} does not open") from None


def _bound_to(case_id: str, purpose: str) -> bytes:
    return f"shakti-intake:{case_id}:{purpose}".encode()


@dataclass(frozen=True)
class WrappedKey:
    """A key store row as a backup carries it: the wrapped key and the id of the KEK that wrapped it."""

    case_id: str
    key: bytes
    kek_id: str
    created_at: datetime


class KeyStore:
    def __init__(self, engine: AsyncEngine, kek: KekRing | None) -> None:
        """``kek`` None: a store that only copies wrapped keys (backup, restore) and erases."""
        self.engine = engine
        self._kek = kek
        self._sessions = sessions(engine)
        self._write = write_lock(engine)
        self.postgres = engine.dialect.name == "postgresql"

    @property
    def kek(self) -> KekRing:
        if self._kek is None:
            raise KekMissing("this key store was opened without a KEK: it cannot wrap or unwrap")
        return self._kek

    @classmethod
    def open(cls, url: str, kek: KekRing | None) -> KeyStore:
        """A key store on its own engine: on SQLite every connection of it overwrites what it deletes."""
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine.sync_engine, "connect")
            def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA secure_delete=ON")
                cursor.close()

        return cls(engine, kek)

    async def setup(self, *, wrap: bool = True) -> None:
        """Create what is missing, and wrap the keys of a store written before keys were wrapped."""
        await create_tables(self.engine, key_store)
        async with self.engine.begin() as conn:
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns(case_keys.name)}
            )
            if "kek_id" not in columns:
                await conn.execute(text(f"ALTER TABLE {case_keys.name} ADD COLUMN kek_id VARCHAR(64)"))
        if wrap and await self.wrap_clear_keys():
            await self.scrub(compact=True)

    async def wrap_clear_keys(self) -> int:
        """Wrap every key stored in clear (rows of the code before wrapping); how many. Once: a wrapped
        row is never a candidate again."""
        done = 0
        while True:
            async with self._sessions() as session:
                rows = (
                    await session.execute(
                        select(case_keys.c.case_id, case_keys.c.key)
                        .where(case_keys.c.kek_id.is_(None))
                        .limit(500)
                    )
                ).all()
            if not rows:
                break
            wrapped = [(row.case_id, await self.kek.wrap(row.key, row.case_id)) for row in rows]
            async with self._write:
                with sqlite_write_batch():
                    async with self._sessions.begin() as session:
                        for case_id, key in wrapped:
                            await session.execute(
                                update(case_keys)
                                .where(case_keys.c.case_id == case_id, case_keys.c.kek_id.is_(None))
                                .values(key=key, kek_id=self.kek.key_id)
                            )
            done += len(rows)
        if done:
            log.warning("key store: %d keys stored in clear were wrapped under KEK %s", done, self.kek.key_id)
        return done

    async def close(self) -> None:
        await self.engine.dispose()

    async def find(self, case_id: str) -> bytes | None:
        """The case's key, or None when it never existed or was destroyed."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(case_keys.c.key, case_keys.c.kek_id).where(case_keys.c.case_id == case_id)
                )
            ).first()
        if row is None:
            return None
        if row.kek_id is None:
            raise KekMissing(f"the key of case {case_id} is not wrapped yet: restart intake to wrap it")
        return await self.kek.unwrap(row.key, case_id, row.kek_id)

    async def find_many(
        self, case_ids: Sequence[str], within: AsyncSession | None = None
    ) -> dict[str, bytes]:
        """The keys of these cases that exist (one query per 500), by case id: a projection batch's,
        read ``within`` the batch's own transaction when the store is in the read model's database."""
        found: dict[str, bytes] = {}
        for chunk in _chunks(list(dict.fromkeys(case_ids)), 500):
            query = select(case_keys.c.case_id, case_keys.c.key, case_keys.c.kek_id).where(
                case_keys.c.case_id.in_(chunk)
            )
            if within is not None:
                rows = (await within.execute(query)).all()
            else:
                async with self._sessions() as session:
                    rows = (await session.execute(query)).all()
            for row in rows:
                if row.kek_id is None:
                    raise KekMissing(
                        f"the key of case {row.case_id} is not wrapped yet: restart intake to wrap it"
                    )
                found[row.case_id] = await self.kek.unwrap(row.key, row.case_id, row.kek_id)
        return found

    async def key_for(self, case_id: str) -> bytes:
        """The case's key, made on first use. Safe when two replicas register the same case at once."""
        fresh = AESGCM.generate_key(bit_length=256)
        wrapped = await self.kek.wrap(fresh, case_id)
        try:
            # A new case is the common call: insert first, and look only when the key already exists.
            async with self._write:
                with sqlite_write_batch():
                    async with self._sessions.begin() as session:
                        await session.execute(
                            insert(case_keys).values(
                                case_id=case_id, key=wrapped, kek_id=self.kek.key_id, created_at=utcnow()
                            )
                        )
        except IntegrityError:
            # A repeated registration, or another replica first: everyone must seal with the same key.
            stored = await self.find(case_id)
            if stored is None:
                raise
            return stored
        return fresh

    async def destroy(self, case_id: str) -> bool:
        """Crypto-shredding: the key is gone, and with it every sealed field of the case; no copy of it
        is left in any file of the store (see ``scrub``)."""
        destroyed = await self._destroy([case_id])
        await self.scrub()
        return bool(destroyed)

    async def _destroy(self, case_ids: Sequence[str]) -> int:
        async with self._write:
            with sqlite_write_batch():
                async with self._sessions.begin() as session:
                    result = await session.execute(delete(case_keys).where(case_keys.c.case_id.in_(case_ids)))
                    known = set(
                        await session.scalars(
                            select(erased_cases.c.case_id).where(erased_cases.c.case_id.in_(case_ids))
                        )
                    )
                    fresh = [
                        {"case_id": c, "erased_at": utcnow()}
                        for c in dict.fromkeys(case_ids)
                        if c not in known
                    ]
                    if fresh:
                        await session.execute(insert(erased_cases), fresh)
                    return int(result.rowcount or 0)

    async def scrub(self, *, compact: bool = False) -> None:
        """Leave no deleted key in the store's files. SQLite: the deleted cells are already zeroed
        (``secure_delete``); the WAL, which still holds the pages as they were, is checkpointed into
        the database and truncated (``compact`` also rewrites the file: ``VACUUM``, once, after keys
        written without ``secure_delete`` were wrapped). PostgreSQL: the table is rewritten, outside a
        transaction (``VACUUM FULL``): a plain VACUUM frees the dead row's space but leaves its bytes in
        the page (seen with ``pageinspect``), while the rewrite leaves the old file behind. The rewrite
        locks the key table while it runs (a fraction of a second per 100,000 keys; erasures are rare)."""
        async with self._write:
            if self.postgres:
                async with self.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    assert raw is not None
                    await raw.execute(f"VACUUM FULL {case_keys.name}")
                return
            database = self.engine.url.database
            assert database is not None
            if not await asyncio.to_thread(scrub_sqlite, database, compact):
                log.error("key store: the WAL could not be truncated after an erasure (readers kept it busy)")

    # ---------------------------------------------------------------- erasures from the stream

    async def apply_erasures(self, store: EventStore, *, from_start: bool = False) -> int:
        """Destroy the key of every case whose ``IdentityErased`` is in intake's stream after the point
        already applied (all of them ``from_start``, as after a restore); how many keys went. Reads only
        the events after that point, picking ``IdentityErased`` by its header."""
        stream = stream_name(SERVICE)
        last = await store.last_sequence(stream)
        after = 0 if from_start else await self._applied_through()
        if after > last:
            after = 0  # the stream is not the one the store followed (a restore): read it all
        erased: list[str] = []
        async for envelope in store.scan(
            stream, f"shakti.{SERVICE}.{AGGREGATE}.*", {IdentityErased.event_type}, after=after
        ):
            erased.append(envelope.aggregate_id)
            last = max(last, envelope.sequence)
        destroyed = 0
        for chunk in _chunks(erased, 500):
            destroyed += await self._destroy(chunk)
        if destroyed:
            await self.scrub()
            log.warning("key store: %d keys of erased cases were still there and are destroyed", destroyed)
        await self._applied(last)
        return destroyed

    async def _applied_through(self) -> int:
        async with self._sessions() as session:
            seq = await session.scalar(select(progress.c.sequence).where(progress.c.name == ERASURES))
        return int(seq or 0)

    async def _applied(self, sequence: int) -> None:
        async with self._write:
            with sqlite_write_batch():
                async with self._sessions.begin() as session:
                    done = await session.execute(
                        update(progress).where(progress.c.name == ERASURES).values(sequence=sequence)
                    )
                    if not done.rowcount:
                        await session.execute(insert(progress).values(name=ERASURES, sequence=sequence))

    # ---------------------------------------------------------------- backup, restore, rotation

    async def wrapped_keys(self) -> list[WrappedKey]:
        async with self._sessions() as session:
            rows = await session.execute(select(case_keys).order_by(case_keys.c.case_id))
            return [WrappedKey(r.case_id, r.key, r.kek_id, r.created_at) for r in rows]

    async def erased(self) -> list[tuple[str, datetime]]:
        async with self._sessions() as session:
            rows = await session.execute(select(erased_cases).order_by(erased_cases.c.case_id))
            return [(r.case_id, r.erased_at) for r in rows]

    async def merge(self, keys: Iterable[WrappedKey], erased: Iterable[tuple[str, datetime]]) -> int:
        """Add the keys that are neither here nor erased (tombstoned), and the tombstones; how many keys
        were added. Nothing here is overwritten: a key already here wins."""
        tombstones = dict(erased)
        async with self._sessions() as session:
            here = set(await session.scalars(select(case_keys.c.case_id)))
            tombstones.update((r.case_id, r.erased_at) for r in await session.execute(select(erased_cases)))
        fresh = [k for k in keys if k.case_id not in here and k.case_id not in tombstones]
        async with self._write:
            with sqlite_write_batch():
                async with self._sessions.begin() as session:
                    known = set(await session.scalars(select(erased_cases.c.case_id)))
                    stones = [
                        {"case_id": c, "erased_at": at} for c, at in tombstones.items() if c not in known
                    ]
                    if stones:
                        await session.execute(insert(erased_cases), stones)
                    for chunk in _chunks(fresh, 500):
                        await session.execute(
                            insert(case_keys),
                            [
                                {
                                    "case_id": k.case_id,
                                    "key": k.key,
                                    "kek_id": k.kek_id,
                                    "created_at": k.created_at,
                                }
                                for k in chunk
                            ],
                        )
        return len(fresh)

    async def rewrap(self, target: KekRing, report: Any = None) -> int:
        """Re-wrap every key not under ``target``'s current KEK (unwrapping with this store's ring); how
        many. Each row is swapped only if it is still what was read, so it is safe while intake runs."""
        async with self._sessions() as session:
            todo = list(
                await session.scalars(
                    select(case_keys.c.case_id).where(
                        (case_keys.c.kek_id != target.key_id) | case_keys.c.kek_id.is_(None)
                    )
                )
            )
        done = 0
        for chunk in _chunks(todo, 200):
            async with self._sessions() as session:
                rows = (await session.execute(select(case_keys).where(case_keys.c.case_id.in_(chunk)))).all()
            swaps = []
            for row in rows:
                raw = (
                    row.key if row.kek_id is None else await self.kek.unwrap(row.key, row.case_id, row.kek_id)
                )
                swaps.append((row, await target.wrap(raw, row.case_id)))
            async with self._write:
                with sqlite_write_batch():
                    async with self._sessions.begin() as session:
                        for row, wrapped in swaps:
                            await session.execute(
                                update(case_keys)
                                .where(case_keys.c.case_id == row.case_id, case_keys.c.key == row.key)
                                .values(key=wrapped, kek_id=target.key_id)
                            )
            done += len(rows)
            if report is not None:
                report(done, len(todo))
        await self.scrub(compact=True)
        return done


def scrub_sqlite(database: str, compact: bool) -> bool:
    """On a connection of its own (a pooled one may hold a statement open, and VACUUM needs none);
    whether the WAL was truncated."""
    connection = sqlite3.connect(database, timeout=30.0, isolation_level=None)
    try:
        connection.execute("PRAGMA secure_delete=ON")
        if compact:
            connection.execute("VACUUM")
        for attempt in range(1, SCRUB_ATTEMPTS + 1):
            busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return True
            # A reader of another process still uses an old snapshot: wait for it to move on.
            time.sleep(0.05 * attempt)
        return False
    finally:
        connection.close()


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
