"""Backup and restore, and erasures that stay final across both (issue 12, item 2).

Three cases on a running platform: one erased before the backup, one erased after it, one kept.
- A full restore into an empty server reproduces every stream message for message, at the same
  sequences (a deleted message's gap included), the durable consumers where they had acknowledged, the
  key store (wrapped keys) and the web users; the platform started on it shows the kept identity and
  the read models rebuilt; the case erased before the backup stays erased. A second restore into the
  now non-empty streams is refused and writes nothing.
- The key store lost and restored from the backup taken before the second erasure (``--only keys``),
  or an old copy of its file put back: the erasure in intake's stream is applied again, so the old
  backup does not bring the identity back.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import nats
import pytest

from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from shakti.backup import SERVER_INSTRUCTIONS, BackupRefused, backup, restore
from shakti.config import PlatformSettings
from tests.security.running import (
    NAME,
    embedded_nats,
    import_sample,
    running_platform,
    settings_for,
)
from tests.waiting import eventually

Steps = list[tuple[str, int, int]]


def recorder(steps: Steps) -> Any:
    return lambda what, done, total: steps.append((what, done, total))


async def every_message(nats_url: str) -> dict[str, list[tuple[int, str, dict[str, str], bytes]]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        found: dict[str, list[tuple[int, str, dict[str, str], bytes]]] = {}
        for info in await js.streams_info():
            name = str(info.config.name)
            found[name] = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                found[name].append((seq, msg.subject or "", dict(msg.headers or {}), msg.data or b""))
        return found
    finally:
        await nc.close()


async def consumer_floors(nats_url: str) -> dict[tuple[str, str], int]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        return {
            (str(s.config.name), str(c.name)): c.ack_floor.stream_seq if c.ack_floor else 0
            for s in await js.streams_info()
            for c in await js.consumers_info(str(s.config.name))
            if c.config.durable_name
        }
    finally:
        await nc.close()


async def key_of(settings: PlatformSettings, case_id: str) -> bytes | None:
    keys = KeyStore.open(settings.key_store_url or settings.database_for("intake"), load_kek_ring(settings))
    try:
        await keys.setup()
        return await keys.find(case_id)
    finally:
        await keys.close()


@pytest.fixture
async def backed_up(tmp_path: Path) -> dict[str, Any]:
    """A platform whose backup was taken between two erasures; its data directory and the backup."""
    source = tmp_path / "source"
    folder = tmp_path / "backup"
    async with embedded_nats(source) as nats_url:
        settings = settings_for(source, nats_url=nats_url)
        async with running_platform(settings, nats_url) as platform:
            await import_sample(platform)
            gone_before = await platform.register("before")
            gone_after = await platform.register("after")
            kept = await platform.register("kept")
            await platform.erase(gone_before)
            for case_id in (gone_after, kept):
                assert (await platform.identity(case_id)).status_code == 200
            # A gap in a stream: a parked record deleted (as `shakti parked retry` deletes one).
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            seqs = [(await js.publish(f"shakti.parked.test.c{n}", b"{}")).seq for n in range(3)]
            await js.delete_msg("PARKED", seqs[1])
            await nc.close()

            async def reacted() -> bool:
                timeline = await platform.client.get(
                    f"/api/intake/cases/{kept}/timeline", headers=platform.as_(platform_officer())
                )
                return "CaseAssigned" in {e["event_type"] for e in timeline.json()["entries"]}

            await eventually(reacted, timeout=30, what="routing's reaction to the kept case")
            steps: Steps = []
            summary = await backup(settings, folder, recorder(steps))
            manifest = json.loads((folder / "manifest.json").read_text())
            last = {s["name"]: s["last_seq"] for s in manifest["streams"]}
            messages = {
                stream: [
                    (
                        seq,
                        subject,
                        {k: v for k, v in h.items() if not k.startswith(SERVER_INSTRUCTIONS)},
                        data,
                    )
                    for seq, subject, h, data in found
                    if seq <= last[stream]
                ]
                for stream, found in (await every_message(nats_url)).items()
            }
            # The floors the backup holds, taken while the platform kept working: each at most where the
            # consumer stood a moment later, and what a restore must bring back.
            floors = {
                (stream["name"], consumer["config"]["durable_name"]): consumer["ack_floor"]
                for stream in manifest["streams"]
                for consumer in stream["consumers"]
            }
            later = await consumer_floors(nats_url)
            assert floors.keys() == later.keys() and all(floors[k] <= later[k] for k in floors), (
                floors,
                later,
            )
            old_store = tmp_path / "intake-before-erasure.db"
            with sqlite3.connect(settings.database_for("intake").split("///", 1)[1]) as live:
                copy = sqlite3.connect(old_store)
                live.backup(copy)  # an operator's file-level copy of the key store, before the erasure
                copy.close()
            await platform.erase(gone_after)
    assert summary.keys == 2 and summary.erased == 1 and summary.web_rows >= 0
    assert {what for what, _, _ in steps} >= {"INTAKE", "ROUTING", "key store"}
    return {
        "source": source,
        "folder": folder,
        "messages": messages,
        "floors": floors,
        "cases": (gone_before, gone_after, kept),
        "old_store": old_store,
    }


def platform_officer() -> Any:
    from services.intake.tests.conftest import OFFICER

    return OFFICER


async def test_a_full_restore_reproduces_the_streams_and_keeps_erasures(
    backed_up: dict[str, Any], tmp_path: Path
) -> None:
    gone_before, _, kept = backed_up["cases"]
    target = tmp_path / "target"
    async with embedded_nats(target) as nats_url:
        settings = settings_for(target, nats_url=nats_url)
        steps: Steps = []
        summary = await restore(settings, backed_up["folder"], recorder(steps))
        assert summary.keys == 2 and summary.erased == 1
        # Every message backed up, at its sequence, with its subject, headers and body (less the headers
        # that were instructions to the server when it was first published).
        assert await every_message(nats_url) == backed_up["messages"]
        assert await consumer_floors(nats_url) == backed_up["floors"]
        assert any(what.startswith("read model") for what, _, _ in steps)
        # Into streams that now hold messages, a restore is refused before anything is written.
        with pytest.raises(BackupRefused) as refused:
            await restore(settings, backed_up["folder"], recorder([]))
        assert "INTAKE" in refused.value.en and refused.value.hi
        assert await every_message(nats_url) == backed_up["messages"]

        async with running_platform(settings, nats_url) as platform:
            shown = await platform.identity(kept)
            assert shown.status_code == 200 and shown.json()["identity"]["name"] == NAME
            assert (await platform.identity(gone_before)).status_code == 410
            case = await platform.client.get(
                f"/api/intake/cases/{kept}", headers=platform.as_(platform_officer())
            )
            assert case.status_code == 200 and case.json()["assigned_officer"]
        assert await key_of(settings, gone_before) is None


async def test_a_key_store_restored_from_before_an_erasure_stays_erased(
    backed_up: dict[str, Any], tmp_path: Path
) -> None:
    """The key store is lost; the streams (a replicated cluster) are not. Restored from the backup taken
    before the second erasure, it held that case's key: the erasure in the stream removes it again."""
    gone_before, gone_after, kept = backed_up["cases"]
    source = backed_up["source"]
    async with embedded_nats(source) as nats_url:
        settings = settings_for(
            source, nats_url=nats_url, key_store_url=f"sqlite+aiosqlite:///{tmp_path / 'new-keys.db'}"
        )
        summary = await restore(settings, backed_up["folder"], recorder([]), ("keys",))
        assert summary.keys == 2  # both keys the backup held came back, the erased one with them...
        assert await key_of(settings, gone_after) is None  # ...and the erasure in the stream took it again
        assert await key_of(settings, kept) is not None and await key_of(settings, gone_before) is None
        async with running_platform(settings, nats_url) as platform:
            assert (await platform.identity(gone_after)).status_code == 410
            assert (await platform.identity(kept)).status_code == 200


async def test_an_old_copy_of_the_key_store_file_is_erased_again_at_start(
    backed_up: dict[str, Any], tmp_path: Path
) -> None:
    _, gone_after, kept = backed_up["cases"]
    source = backed_up["source"]
    old = tmp_path / "old-keys.db"
    shutil.copy(backed_up["old_store"], old)
    async with embedded_nats(source) as nats_url:
        settings = settings_for(source, nats_url=nats_url, key_store_url=f"sqlite+aiosqlite:///{old}")
        async with running_platform(settings, nats_url) as platform:
            assert (await platform.identity(gone_after)).status_code == 410
            assert (await platform.identity(kept)).status_code == 200
        assert await key_of(settings, gone_after) is None
    assert await key_of(settings, gone_after) is None


async def test_a_stream_written_during_the_backup_is_recorded_as_far_as_it_was_copied(tmp_path: Path) -> None:
    """The platform keeps working while a backup runs: a stream that grows between the moment the backup
    lists the streams and the moment it copies that stream must not be recorded with a last sequence
    short of the messages copied (the restore compares the two and refused such a backup)."""
    async with embedded_nats(tmp_path / "source") as nats_url:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        for name in ("ALPHA", "OMEGA"):  # copied in this order
            await js.add_stream(name=name, subjects=[f"shakti.{name.lower()}.>"], allow_direct=True)
            await js.publish(f"shakti.{name.lower()}.x", b"first")
        grown: list[str] = []

        async def write_omega() -> None:
            writer = await nats.connect(nats_url)
            await writer.jetstream().publish("shakti.omega.x", b"second")
            await writer.close()

        def step(what: str, done: int, total: int) -> None:
            if what == "ALPHA" and not grown:
                # OMEGA is written to after the list of streams was taken, before it is copied; stored
                # (acknowledged) before the backup goes on, from a thread as another service would.
                grown.append(what)
                writer = threading.Thread(target=asyncio.run, args=(write_omega(),))
                writer.start()
                writer.join()

        settings = settings_for(tmp_path / "source", nats_url=nats_url)
        await backup(settings, tmp_path / "backup", step)
        await nc.close()
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
        for stream in manifest["streams"]:
            copied = (tmp_path / "backup" / "streams" / f"{stream['name']}.jsonl").read_text().splitlines()
            assert stream["messages"] == len(copied)
            assert stream["last_seq"] == (json.loads(copied[-1])["seq"] if copied else 0), stream["name"]
