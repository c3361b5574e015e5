"""Erasure is final on disk (issue 12, item 2).

A case registered with a known name and phone on the running platform (real NATS with its store in the
data directory, SQLite for every database), read once, then erased. Every file the platform wrote is
then read as an attacker with a copy of the data directory would: the case key (raw, and wrapped by
the KEK) must be in none of them, and no 32-byte window of any file may open the sealed identity in
the INTAKE stream, neither as the case key nor unwrapped under the KEK. A positive control (the same
search before the erasure finds the key) shows that the search can find what it looks for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import nats
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text

from services.intake.kek import FileKek, KekRing, load_kek_ring, write_kek_file
from services.intake.keystore import KeyStore, case_keys
from services.intake.phone_index import load_phone_index
from services.intake.tests.conftest import OFFICER
from shakti.config import PlatformSettings
from tests.security.running import (
    NAME,
    PHONE,
    embedded_nats,
    files_under,
    import_sample,
    running_platform,
    sealed_identity,
    settings_for,
)
from tests.waiting import eventually

WINDOW = 32
WRAPPED = 60  # nonce (12) + key (32) + tag (16)


def kek_aead(settings: PlatformSettings) -> AESGCM:
    import base64

    return AESGCM(base64.b64decode(settings.kek_path().read_text().strip()))


def windows(data: bytes, size: int) -> Iterator[tuple[int, bytes]]:
    seen: set[bytes] = set()
    for offset in range(len(data) - size + 1):
        window = data[offset : offset + size]
        if window in seen:
            continue  # the same bytes were tried already (runs of zeros, padding)
        if len(seen) > 1_000_000:
            seen.clear()
        seen.add(window)
        yield offset, window


def opening_windows(
    blobs: dict[Path, bytes], case_id: str, nonce: bytes, ciphertext: bytes, kek: AESGCM
) -> list[str]:
    """Every place in the files whose bytes open the sealed identity, as the key or as a wrapped key."""
    sealed_for = f"shakti-intake:{case_id}:identity".encode()
    wrapped_for = f"shakti-intake-case-key:{case_id}".encode()
    opened: list[str] = []

    def opens(key: bytes) -> bool:
        try:
            AESGCM(key).decrypt(nonce, ciphertext, sealed_for)
        except InvalidTag:
            return False
        return True

    for path, data in blobs.items():
        opened += [f"{path.name}@{at} (key)" for at, window in windows(data, WINDOW) if opens(window)]
        for at, window in windows(data, WRAPPED):
            with contextlib.suppress(InvalidTag):
                if opens(kek.decrypt(window[:12], window[12:], wrapped_for)):
                    opened.append(f"{path.name}@{at} (wrapped)")
    return opened


async def the_sealed_identity(nats_url: str, case_id: str) -> tuple[bytes, bytes]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        message = await js.get_msg("INTAKE", subject=f"shakti.intake.case.{case_id}", seq=1, next=True)
    finally:
        await nc.close()
    found, nonce, ciphertext = sealed_identity(message.data or b"")
    assert found == case_id
    return nonce, ciphertext


async def stored_key(settings: PlatformSettings, case_id: str) -> tuple[bytes, bytes]:
    """(raw key, wrapped key as stored) of a case, read from the key store."""
    keys = KeyStore.open(settings.database_for("intake"), load_kek_ring(settings))
    try:
        raw = await keys.find(case_id)
        async with keys.engine.connect() as conn:
            wrapped = await conn.scalar(
                text(f"SELECT key FROM {case_keys.name} WHERE case_id = :c"), {"c": case_id}
            )
    finally:
        await keys.close()
    assert raw is not None and wrapped is not None
    return raw, bytes(wrapped)


async def test_an_erased_identity_cannot_be_opened_from_any_file_the_platform_wrote(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    settings = settings_for(data_dir)
    kek = kek_aead(settings)
    async with embedded_nats(data_dir) as nats_url:
        async with running_platform(settings, nats_url) as platform:
            await import_sample(platform)
            case_id = await platform.register("disk-1")
            shown = await platform.identity(case_id)
            assert shown.status_code == 200
            assert shown.json()["identity"]["name"] == NAME and shown.json()["identity"]["phone"] == PHONE
            nonce, ciphertext = await the_sealed_identity(nats_url, case_id)
            raw, wrapped = await stored_key(settings, case_id)
            # The positive control: before the erasure the search finds the key (wrapped, in the store).
            before = files_under(data_dir)
            assert any(wrapped in blob for blob in before.values())
            assert opening_windows(before, case_id, nonce, ciphertext, kek)

            await platform.erase(case_id)
            assert (await platform.identity(case_id)).status_code == 410
            live = files_under(data_dir)  # as copied from a running machine
        at_rest = files_under(data_dir)  # after a clean stop, NATS included
    assert any(p.suffix == ".db" for p in at_rest) and any("nats" in p.parts for p in at_rest)
    for when, blobs in (("running", live), ("stopped", at_rest)):
        assert not [p for p, blob in blobs.items() if raw in blob], f"raw key in a file ({when})"
        assert not [p for p, blob in blobs.items() if wrapped in blob], f"wrapped key in a file ({when})"
        assert opening_windows(blobs, case_id, nonce, ciphertext, kek) == [], when


async def test_on_postgresql_the_erased_key_row_is_gone_from_the_table_pages(
    postgres_url: str, tmp_path: Path
) -> None:
    """What can be checked on PostgreSQL from a client: after the erasure the row is gone and, the table
    vacuumed, no page of the table (read raw with ``pageinspect``) holds the wrapped key or the key.
    What cannot: the server's WAL and its archives and base backups keep the inserted row (the wrapped
    key, useless without the KEK) until they are recycled; see the README on backups."""
    write_kek_file(tmp_path / "kek.key")
    kek = KekRing(FileKek.read(tmp_path / "kek.key"))
    keys = KeyStore.open(postgres_url, kek)
    try:
        await keys.setup()
        others = [await keys.key_for(f"other-{n}") for n in range(40)]
        raw = await keys.key_for("case-1")
        async with keys.engine.connect() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            await conn.commit()
            wrapped = bytes(
                await conn.scalar(text(f"SELECT key FROM {case_keys.name} WHERE case_id = 'case-1'"))
            )

        async def pages() -> bytes:
            async with keys.engine.connect() as conn:
                count = await conn.scalar(
                    text(f"SELECT pg_relation_size('{case_keys.name}') / current_setting('block_size')::int")
                )
                return b"".join(
                    [
                        bytes(await conn.scalar(text(f"SELECT get_raw_page('{case_keys.name}', {n})")))
                        for n in range(int(count))
                    ]
                )

        assert wrapped in await pages()  # the positive control: pageinspect shows the stored row
        assert await keys.destroy("case-1")
        async with keys.engine.connect() as conn:
            assert (
                await conn.scalar(text(f"SELECT count(*) FROM {case_keys.name} WHERE case_id = 'case-1'"))
                == 0
            )
        after = await pages()
        assert wrapped not in after and raw not in after
        assert [await keys.find(f"other-{n}") for n in range(40)] == others  # the others are intact
    finally:
        await keys.close()


async def test_an_erased_case_leaves_its_phone_index_in_no_file_the_platform_wrote(tmp_path: Path) -> None:
    """Her number's blind index links the case to her: after the erasure no file holds it (the deleted
    row's bytes included, in the database and its WAL), while the platform runs and after it stops."""
    data_dir = tmp_path / "var"
    settings = settings_for(data_dir)
    index = load_phone_index(settings).of(PHONE).encode()
    async with embedded_nats(data_dir) as nats_url:
        async with running_platform(settings, nats_url) as platform:
            await import_sample(platform)
            case_id = await platform.register("disk-index-1")

            async def indexed() -> bool:
                return any(index in blob for blob in files_under(data_dir).values())

            await eventually(indexed, what="the index written (the positive control)")
            await platform.erase(case_id)

            async def not_found() -> bool:
                answer = await platform.client.post(
                    "/api/intake/cases/by-phone", json={"phone": PHONE}, headers=platform.as_(OFFICER)
                )
                return answer.status_code == 200 and answer.json()["cases"] == []

            await eventually(not_found, what="the erased case no longer found by her number")
            await eventually(
                lambda: not [p for p, blob in files_under(data_dir).items() if index in blob],
                timeout=5.0,
                what="her number's index gone from every file while the platform runs",
            )
        at_rest = files_under(data_dir)
    assert not [p for p, blob in at_rest.items() if index in blob], "the index in a file after the stop"
