"""Sealing with per-case AES-GCM keys, the key store on SQLite and PostgreSQL, and the key-encryption
key that wraps every key in it."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, insert, select

from services.intake.kek import (
    FileKek,
    KekMissing,
    KekRing,
    KekUnavailable,
    kek_id,
    load_kek_ring,
    write_kek_file,
)
from services.intake.keystore import KeyStore, SealBroken, case_keys, seal, unseal
from shared.readmodel import create_engine
from shared.settings import Settings


def ring(tmp_path: Path, name: str = "kek.key") -> KekRing:
    write_kek_file(tmp_path / name)
    return KekRing(FileKek.read(tmp_path / name))


def test_a_sealed_value_opens_only_with_its_key_its_case_and_its_purpose() -> None:
    key, other_key = bytes(range(32)), bytes(32)
    sealed = seal(key, "case-a", "note", "Call her after 6 pm at 9876543210")
    assert "9876543210" not in sealed and b"9876543210" not in base64.b64decode(sealed)
    assert unseal(key, "case-a", "note", sealed) == "Call her after 6 pm at 9876543210"
    assert seal(key, "case-a", "note", "same") != seal(
        key, "case-a", "note", "same"
    )  # a fresh nonce each time
    for wrong in [(other_key, "case-a", "note"), (key, "case-b", "note"), (key, "case-a", "identity")]:
        with pytest.raises(SealBroken) as caught:
            unseal(*wrong, sealed)
        assert "9876543210" not in str(caught.value)


async def test_key_store_makes_one_key_per_case_and_destroys_it(database_url: str, tmp_path: Path) -> None:
    kek = ring(tmp_path)
    keys = KeyStore.open(database_url, kek)
    try:
        await keys.setup()
        await keys.setup()  # idempotent at every start
        # Replicas racing to make the same case's key all end with the one that was stored.
        made = await asyncio.gather(*(KeyStore(keys.engine, kek).key_for("case-1") for _ in range(8)))
        assert len(set(made)) == 1 and len(made[0]) == 32
        assert await keys.find("case-1") == made[0]
        assert await keys.key_for("case-2") != made[0]
        assert await keys.destroy("case-1") is True
        assert await keys.find("case-1") is None
        assert await keys.destroy("case-1") is False
        assert await keys.find("case-2") is not None
        assert [case for case, _ in await keys.erased()] == ["case-1"]  # a tombstone, the id only
    finally:
        await keys.close()


async def test_the_store_holds_only_wrapped_keys(database_url: str, tmp_path: Path) -> None:
    """A copy of the key store alone decrypts nothing: every row is wrapped by the KEK, whose id it names."""
    kek = ring(tmp_path)
    keys = KeyStore.open(database_url, kek)
    try:
        await keys.setup()
        key = await keys.key_for("case-1")
        sealed = seal(key, "case-1", "identity", "Sunita Devi")
        async with keys.engine.connect() as conn:
            row = (await conn.execute(select(case_keys))).one()
        assert row.kek_id == kek.key_id and key not in row.key
        for window in range(len(row.key) - 31):
            with pytest.raises(SealBroken):
                unseal(row.key[window : window + 32], "case-1", "identity", sealed)
        # Under another KEK, or moved onto another case's row, the wrapped key does not open.
        with pytest.raises(KekMissing):
            await ring(tmp_path, "other.key").unwrap(row.key, "case-1", kek.key_id)
        with pytest.raises(KekMissing):
            await kek.unwrap(row.key, "case-2", kek.key_id)
    finally:
        await keys.close()


async def test_keys_stored_in_clear_by_earlier_code_are_wrapped_once_at_start(
    database_url: str, tmp_path: Path
) -> None:
    old = MetaData()
    old_table = Table(
        "intake_identity_key",
        old,
        Column("case_id", String(64), primary_key=True),
        Column("key", LargeBinary(32), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    clear = {f"case-{n}": os.urandom(32) for n in range(3)}
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(old.create_all)
            now = datetime.now(UTC)
            await conn.execute(
                insert(old_table), [{"case_id": c, "key": k, "created_at": now} for c, k in clear.items()]
            )
    finally:
        await engine.dispose()
    kek = ring(tmp_path)
    keys = KeyStore.open(database_url, kek)
    try:
        await keys.setup()
        for case_id, key in clear.items():
            assert await keys.find(case_id) == key
        stored = await keys.wrapped_keys()
        assert {k.kek_id for k in stored} == {kek.key_id}
        assert not any(clear[k.case_id] in k.key for k in stored)
        assert await keys.wrap_clear_keys() == 0  # once
        await keys.setup()
        assert [k.key for k in await keys.wrapped_keys()] == [k.key for k in stored]
    finally:
        await keys.close()
    if database_url.startswith("sqlite"):
        # Nothing of the clear keys is left in the database's files (free pages, WAL).
        folder = Path(database_url.split("///", 1)[1]).parent
        blobs = b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
        assert not [c for c, k in clear.items() if k in blobs]


async def test_rotating_the_kek_rewraps_every_key(database_url: str, tmp_path: Path) -> None:
    old, new = ring(tmp_path, "old.key"), ring(tmp_path, "new.key")
    keys = KeyStore.open(database_url, old)
    try:
        await keys.setup()
        made = {c: await keys.key_for(c) for c in ("case-1", "case-2", "case-3")}
        seen: list[tuple[int, int]] = []
        assert await keys.rewrap(new, lambda done, total: seen.append((done, total))) == 3
        assert seen[-1] == (3, 3)
        # While the rotation is under way a process holds both (the old one to unwrap only)...
        both = KeyStore(keys.engine, KekRing(new.current, [old.current]))
        assert {c: await both.find(c) for c in made} == made
        # ...and after it, the new one alone opens every key; the old one none.
        after = KeyStore(keys.engine, new)
        assert {c: await after.find(c) for c in made} == made
        with pytest.raises(KekMissing):
            await keys.find("case-1")
        assert await after.rewrap(new) == 0
    finally:
        await keys.close()


def test_intake_needs_a_usable_kek(tmp_path: Path) -> None:
    """Missing, malformed or readable by others: a bilingual refusal naming the setting and the fix."""
    path = tmp_path / "keys" / "kek.key"
    settings = Settings(kek_file=path)
    problems = []
    with pytest.raises(KekUnavailable) as missing:
        load_kek_ring(settings)
    problems.append(missing.value)
    path.parent.mkdir()
    path.write_text("not base64 at all\n")
    path.chmod(0o600)
    with pytest.raises(KekUnavailable) as malformed:
        load_kek_ring(settings)
    problems.append(malformed.value)
    path.unlink()
    made = write_kek_file(path)
    path.chmod(0o644)
    with pytest.raises(KekUnavailable) as readable:
        load_kek_ring(settings)
    problems.append(readable.value)
    for problem in problems:
        assert "SHAKTI_KEK_FILE" in problem.en and "SHAKTI_KEK_FILE" in problem.hi
        assert "shakti keys init" in problem.en and "shakti keys init" in problem.hi
        assert str(path) in problem.en and str(path) in problem.hi and "KEK" in problem.hi
    path.chmod(0o600)
    loaded = load_kek_ring(settings)
    assert loaded.key_id == made == kek_id(base64.b64decode(path.read_text()))
    assert (
        Settings(keys_dir=tmp_path / "keys", kek_file=None).kek_path() == path
    )  # the default: keys_dir/kek.key
