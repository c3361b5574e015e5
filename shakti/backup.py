"""``shakti backup DIR`` and ``shakti restore DIR``: every stream, intake's key store, the web users.

A backup is a folder:

- ``manifest.json``: what is in it, each stream's configuration, sequences and durable consumers
  (with how far each had acknowledged), the key store's KEK ids;
- ``streams/<STREAM>.jsonl``: every message of the stream in order (sequence, subject, headers, body);
- ``keys.jsonl``: intake's key store, **wrapped keys only** (with the id of the KEK that wrapped each)
  and the ids of erased cases: without the KEK, which is never in a backup, it opens nothing;
- ``web.json``: the web front's database (users and their password hashes, sign-in attempts).

A restore goes into an empty server: each stream is recreated with its configuration and its
messages published again so that **every message keeps its sequence** (gaps left by deleted messages
are reproduced), which is what read-model checkpoints and the key store's progress are counted in.
A stream that already holds a message is refused, before anything is written. Durable consumers are
recreated where they had acknowledged, so a process manager neither misses nor repeats an event.
The key store is merged (a key already there wins; an erased case's key is never re-added), then every
erasure recorded in the restored INTAKE stream is applied again, so a backup taken before an erasure
cannot bring the identity back. The read models are derived: they are rebuilt from the streams.

Connects as the ``ops`` NATS user (``operator_connection``) to the server the settings name, or to the
embedded server of the data directory, started for the command when the platform is not running.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError
from sqlalchemy import DateTime, LargeBinary, MetaData, insert, select
from sqlalchemy import func as sql

from services.intake.keystore import KeyStore, WrappedKey
from shakti.config import PlatformSettings
from shakti.users import UserStore
from shared.bus import JETSTREAM_API_TIMEOUT
from shared.eventstore import EventStore
from shared.readmodel import create_engine

FORMAT = 1
INTAKE = "INTAKE"
GAP_HEADER = "Shakti-Restore-Gap"
# Headers that instruct the server at publish time: stored with the message, never sent again.
SERVER_INSTRUCTIONS = ("Nats-Expected-", "Nats-Batch-", "Nats-Rollup")
# Headers a direct get adds about where the message sits: they are fields of the backup, not headers.
PLACE_HEADERS = (
    "Nats-Stream",
    "Nats-Subject",
    "Nats-Sequence",
    "Nats-Time-Stamp",
    "Nats-Num-Pending",
    "Nats-Last-Sequence",
    "Nats-UpTo-Sequence",
)

Step = Callable[[str, int, int], None]
"""Progress: (what, done, total)."""


class BackupRefused(RuntimeError):
    def __init__(self, en: str, hi: str) -> None:
        super().__init__(en)
        self.en, self.hi = en, hi


# ---------------------------------------------------------------- the connection


async def operator_connection(settings: PlatformSettings, url: str) -> NatsClient:
    """The one place the operator tools connect: as the ``ops`` user where the settings hold its
    credentials. (bus: ``**settings.nats_options("ops")`` once its credentials are merged.)"""
    # Two tries, then NoServersError: a server that does not answer is told at once (the CLI says so in
    # both languages). nats-py 2.16 never gives up on a server with max_reconnect_attempts=0, and reports
    # each failed try as a logged traceback unless given its own error callback.
    return await nats.connect(
        url,
        name="shakti-ops",
        connect_timeout=2,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.5,
        error_cb=_unreported,
    )


async def _unreported(error: Exception) -> None:
    """The error reaches the operator as the exception it raises, once, not as a logged traceback."""


@contextlib.asynccontextmanager
async def operator_bus(settings: PlatformSettings) -> AsyncIterator[NatsClient]:
    """The configured NATS server; else the embedded one of the data directory, which is started for
    the block when nothing answers on its port (the platform is not running)."""
    from shakti.launcher import nats_for

    if settings.nats_url:
        nc = await operator_connection(settings, settings.nats_url)
    else:
        try:
            nc = await operator_connection(settings, f"nats://127.0.0.1:{settings.nats_port}")
        except (NoServersError, OSError, TimeoutError):
            with nats_for(settings) as url:
                nc = await operator_connection(settings, url)
                try:
                    yield nc
                finally:
                    await nc.drain()
                return
    try:
        yield nc
    finally:
        await nc.drain()


# ---------------------------------------------------------------- backup


@dataclass
class Summary:
    streams: dict[str, int]
    keys: int
    erased: int
    web_rows: int


async def backup(settings: PlatformSettings, folder: Path, step: Step) -> Summary:
    await asyncio.to_thread(_new_folder, folder)
    manifest: dict[str, Any] = {"format": FORMAT, "made_at": datetime.now().astimezone().isoformat()}
    async with operator_bus(settings) as nc:
        js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
        store = EventStore(nc, "ops")
        streams: list[dict[str, Any]] = []
        for name in sorted(str(i.config.name) for i in await js.streams_info()):
            # The platform keeps writing: each stream is recorded as far as it was copied, from the one
            # reading of its state that the copy used (a stream listed earlier may have grown since).
            info = await js.stream_info(name)
            count = await _backup_stream(store, js, info, folder / "streams" / f"{name}.jsonl", step)
            streams.append(
                {
                    "name": name,
                    "config": info.config.as_dict(),
                    "first_seq": info.state.first_seq,
                    "last_seq": info.state.last_seq,
                    "messages": count,
                    "consumers": await _consumers(js, name),
                }
            )
        manifest["streams"] = streams
    keys = KeyStore.open(settings.key_store_url or settings.database_for("intake"), None)
    try:
        await keys.setup(wrap=False)
        wrapped, erased = await keys.wrapped_keys(), await keys.erased()
    finally:
        await keys.close()
    if any(k.kek_id is None for k in wrapped):
        raise BackupRefused(
            "The key store still holds keys in clear (from before keys were wrapped): start intake once "
            "to wrap them, then back up.",
            "कुंजी भंडार में अभी भी बिना लपेटी (clear) कुंजियाँ हैं: उन्हें लपेटने के लिए intake एक बार चलाएँ, फिर बैकअप लें।",
        )
    with (folder / "keys.jsonl").open("w", encoding="utf-8") as out:
        for key in wrapped:
            out.write(json.dumps({"case_id": key.case_id, "key": _b64(key.key), "kek_id": key.kek_id,
                                  "created_at": key.created_at.isoformat()}) + "\n")  # fmt: skip
        for case_id, at in erased:
            out.write(json.dumps({"case_id": case_id, "erased_at": at.isoformat()}) + "\n")
    step("key store", len(wrapped), len(wrapped))
    manifest["key_store"] = {
        "keys": len(wrapped),
        "erased": len(erased),
        "kek_ids": sorted({str(k.kek_id) for k in wrapped}),
    }
    web = await _dump_database(settings.database_for("web"))
    (folder / "web.json").write_text(json.dumps(web, ensure_ascii=False), encoding="utf-8")
    manifest["web"] = {table: len(rows) for table, rows in web.items()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return Summary(
        {s["name"]: s["messages"] for s in streams}, len(wrapped), len(erased), sum(manifest["web"].values())
    )


def _new_folder(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise BackupRefused(
            f"{folder} is not empty: a backup goes into a new folder.",
            f"{folder} खाली नहीं है: बैकअप नए फ़ोल्डर में लिया जाता है।",
        )
    (folder / "streams").mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # wrapped keys and password hashes: the operator's eyes only


async def _backup_stream(
    store: EventStore, js: JetStreamContext, info: StreamInfo, path: Path, step: Step
) -> int:
    name, total, count = str(info.config.name), info.state.messages, 0
    with path.open("w", encoding="utf-8") as out:
        async for line in _stored(store, js, info):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
            if count % 500 == 0:
                step(name, count, total)
    step(name, count, total)
    return count


async def _stored(store: EventStore, js: JetStreamContext, info: StreamInfo) -> AsyncIterator[dict[str, Any]]:
    """Every message up to the stream's last sequence now: batched direct gets where the stream allows
    them, else one message get after another (the PARKED stream)."""
    name, first, last = str(info.config.name), info.state.first_seq, info.state.last_seq
    if info.config.allow_direct:
        async for msg in store.messages(name, after=first - 1, until=last):
            headers = dict(msg.headers or {})
            yield {
                "seq": int(headers["Nats-Sequence"]),
                "subject": headers["Nats-Subject"],
                "time": headers.get("Nats-Time-Stamp"),
                "headers": {k: v for k, v in headers.items() if k not in PLACE_HEADERS},
                "data": _b64(msg.data or b""),
            }
        return
    seq = first
    while info.state.messages and seq <= last:
        try:
            raw = await js.get_msg(name, seq=seq, subject=">", next=True)
        except NotFoundError:
            return
        if raw.seq is None or raw.seq > last:
            return
        yield {
            "seq": raw.seq,
            "subject": raw.subject,
            "time": None,
            "headers": dict(raw.headers or {}),
            "data": _b64(raw.data or b""),
        }
        seq = raw.seq + 1


async def _consumers(js: JetStreamContext, stream: str) -> list[dict[str, Any]]:
    found = []
    for info in await js.consumers_info(stream):
        if not info.config.durable_name:
            continue  # an ordered or ephemeral consumer belongs to a running process, not to the state
        found.append(
            {"config": info.config.as_dict(), "ack_floor": info.ack_floor.stream_seq if info.ack_floor else 0}
        )
    return found


async def _dump_database(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        async with engine.connect() as conn:
            await conn.run_sync(metadata.reflect)
            dump: dict[str, list[dict[str, Any]]] = {}
            for table in metadata.sorted_tables:
                rows = await conn.execute(select(table))
                dump[table.name] = [{k: _json_value(v) for k, v in row._mapping.items()} for row in rows]
        return dump
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- restore


PARTS = ("streams", "keys", "web")


async def restore(
    settings: PlatformSettings, folder: Path, step: Step, parts: tuple[str, ...] = PARTS
) -> Summary:
    """Restore the ``parts`` of a backup: all of them into a new platform; ``keys`` alone where only
    the key store was lost (the streams are there, and their erasures are applied again)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupRefused(
            f"{folder} is not a backup this version can restore (format {manifest.get('format')}).",
            f"{folder} ऐसा बैकअप नहीं है जिसे यह संस्करण बहाल कर सके (format {manifest.get('format')})।",
        )
    web = json.loads((folder / "web.json").read_text(encoding="utf-8"))
    async with operator_bus(settings) as nc:
        js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
        if "streams" in parts:
            await _refuse_unless_empty(js, [s["name"] for s in manifest["streams"]])
        elif "keys" in parts:
            await _refuse_without_intake(js)
        if "web" in parts:
            await _refuse_unless_empty_web(settings.database_for("web"), web)
        restored: dict[str, int] = {}
        if "streams" in parts:
            for stream in manifest["streams"]:
                restored[stream["name"]] = await _restore_stream(js, settings, folder, stream, step)
        keys = (0, 0)
        if "keys" in parts:
            keys = await _restore_keys(settings, folder, EventStore(nc, "ops"))
        if "web" in parts:
            await _restore_web(settings.database_for("web"), web)
        if "streams" in parts:
            await _rebuild_read_models(settings, nc, step)
    web_rows = sum(len(rows) for rows in web.values()) if "web" in parts else 0
    return Summary(restored, keys[0], keys[1], web_rows)


async def _refuse_without_intake(js: JetStreamContext) -> None:
    """The keys alone go back into a platform whose streams are there: its erasures, read from
    intake's stream, are applied again after the merge."""
    try:
        await js.stream_info(INTAKE)
    except NotFoundError:
        raise BackupRefused(
            f"This NATS server has no {INTAKE} stream: the keys alone (--only keys) go back into the "
            "platform whose streams are there, so that its erasures are applied again. Point "
            "SHAKTI_NATS_URL at it, or restore the streams too. Nothing was written.",
            f"इस NATS सर्वर पर {INTAKE} स्ट्रीम नहीं है: केवल कुंजियाँ (--only keys) उसी प्लेटफ़ॉर्म में बहाल "
            "होती हैं जिसकी स्ट्रीम मौजूद हैं, ताकि उसके मिटाए गए मामले फिर से लागू हों। SHAKTI_NATS_URL को "
            "उस पर इंगित करें, या स्ट्रीम भी बहाल करें। कुछ भी नहीं लिखा गया।",
        ) from None


async def _refuse_unless_empty(js: JetStreamContext, names: list[str]) -> None:
    busy = []
    for name in names:
        with contextlib.suppress(NotFoundError):
            info = await js.stream_info(name)
            if info.state.last_seq:
                busy.append(f"{name} ({info.state.last_seq})")
    if busy:
        raise BackupRefused(
            "A restore goes into empty streams only, so that every message keeps its sequence; these "
            f"already hold messages: {', '.join(busy)}. Restore into a new, empty NATS server or data "
            "directory. Nothing was written.",
            "बहाली केवल खाली स्ट्रीम में होती है, ताकि हर संदेश का क्रमांक वही रहे; इनमें पहले से संदेश हैं: "
            f"{', '.join(busy)}। नए, खाली NATS सर्वर या डेटा फ़ोल्डर में बहाल करें। कुछ भी नहीं लिखा गया।",
        )


async def _restore_stream(
    js: JetStreamContext, settings: PlatformSettings, folder: Path, stream: dict[str, Any], step: Step
) -> int:
    name = stream["name"]
    config = StreamConfig.from_response(dict(stream["config"]))
    config.num_replicas = settings.stream_replicas
    try:
        await js.add_stream(config)
    except Exception:
        await js.update_stream(config)  # created empty by a service that started first
    if stream["first_seq"] > 1:
        await js.purge_stream(name, seq=stream["first_seq"])  # the next message gets this sequence
    expected = max(stream["first_seq"], 1)
    done = 0
    with (folder / "streams" / f"{name}.jsonl").open(encoding="utf-8") as lines:
        for text in lines:
            message = json.loads(text)
            while expected < message["seq"]:
                # A message deleted in the original (a retried parked record): a gap of the same size.
                ack = await js.publish(message["subject"], b"", headers={GAP_HEADER: "1"})
                await js.delete_msg(name, ack.seq)
                expected = ack.seq + 1
            headers = {k: v for k, v in message["headers"].items() if not k.startswith(SERVER_INSTRUCTIONS)}
            ack = await js.publish(
                message["subject"], base64.b64decode(message["data"]), headers=headers or None
            )
            if ack.seq != message["seq"] or ack.duplicate:
                raise BackupRefused(
                    f"{name}: message {message['seq']} was stored as {ack.seq}; the restore stopped.",
                    f"{name}: संदेश {message['seq']} क्रमांक {ack.seq} पर संग्रहीत हुआ; बहाली रोकी गई।",
                )
            expected = ack.seq + 1
            done += 1
            if done % 500 == 0:
                step(name, done, stream["messages"])
    step(name, done, stream["messages"])
    info = await js.stream_info(name)
    if (info.state.last_seq, info.state.messages) != (stream["last_seq"], stream["messages"]):
        raise BackupRefused(
            f"{name}: restored up to {info.state.last_seq} ({info.state.messages} messages), the backup "
            f"has {stream['last_seq']} ({stream['messages']}).",
            f"{name}: {info.state.last_seq} तक बहाल ({info.state.messages} संदेश), बैकअप में "
            f"{stream['last_seq']} ({stream['messages']}) हैं।",
        )
    for consumer in stream["consumers"]:
        await _restore_consumer(js, name, consumer)
    return done


async def _restore_consumer(js: JetStreamContext, stream: str, consumer: dict[str, Any]) -> None:
    """The durable consumer as it was, and acknowledged up to where it had acknowledged (its delivery
    policy cannot be changed once made, so the events before its floor are fetched and acknowledged)."""
    config = ConsumerConfig.from_response(dict(consumer["config"]))
    floor = int(consumer["ack_floor"])
    await js.add_consumer(stream, config)
    if not floor or not config.durable_name:
        return
    sub = await js.pull_subscribe_bind(durable=config.durable_name, stream=stream)
    try:
        while True:
            try:
                batch = await sub.fetch(config.max_ack_pending or 256, timeout=2.0)
            except TimeoutError:
                return
            for msg in batch:
                if msg.metadata.sequence.stream > floor:
                    await msg.nak()
                    for rest in batch[batch.index(msg) + 1 :]:
                        await rest.nak()
                    return
                # Confirmed by the server, so the floor stands when the restore says it is done.
                await msg.ack_sync()
    finally:
        await sub.unsubscribe()


async def _restore_keys(settings: PlatformSettings, folder: Path, store: EventStore) -> tuple[int, int]:
    wrapped: list[WrappedKey] = []
    erased: list[tuple[str, datetime]] = []
    with (folder / "keys.jsonl").open(encoding="utf-8") as lines:
        for text in lines:
            row = json.loads(text)
            if "key" in row:
                created = datetime.fromisoformat(row["created_at"])
                wrapped.append(
                    WrappedKey(row["case_id"], base64.b64decode(row["key"]), row["kek_id"], created)
                )
            else:
                erased.append((row["case_id"], datetime.fromisoformat(row["erased_at"])))
    keys = KeyStore.open(settings.key_store_url or settings.database_for("intake"), None)
    try:
        await keys.setup(wrap=False)
        added = await keys.merge(wrapped, erased)
        # The erasures recorded in the stream win over whatever copy of the keys this was.
        await keys.apply_erasures(store, from_start=True)
        return added, len(await keys.erased())
    finally:
        await keys.close()


async def _refuse_unless_empty_web(url: str, web: dict[str, list[dict[str, Any]]]) -> None:
    users = UserStore(url)
    try:
        await users.setup()
    finally:
        await users.close()
    engine = create_engine(url)
    try:
        metadata = MetaData()
        async with engine.connect() as conn:
            await conn.run_sync(metadata.reflect)
            busy = [
                t
                for t in web
                if t in metadata.tables
                and web[t]
                and await conn.scalar(select(sql.count()).select_from(metadata.tables[t]))
            ]
    finally:
        await engine.dispose()
    if busy:
        raise BackupRefused(
            f"The web database already holds {', '.join(busy)}: restore into an empty one. "
            "Nothing was written.",
            f"वेब डेटाबेस में पहले से {', '.join(busy)} हैं: खाली डेटाबेस में बहाल करें। कुछ भी नहीं लिखा गया।",
        )


async def _restore_web(url: str, web: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        async with engine.begin() as conn:
            await conn.run_sync(metadata.reflect)
            for name, rows in web.items():
                table = metadata.tables.get(name)
                if table is None or not rows:
                    continue
                kinds = {c.name: c.type for c in table.columns}
                await conn.execute(
                    insert(table), [{k: _from_json(v, kinds.get(k)) for k, v in row.items()} for row in rows]
                )
    finally:
        await engine.dispose()


async def _rebuild_read_models(settings: PlatformSettings, nc: NatsClient, step: Step) -> None:
    """Every service's read models from the restored streams (a read model kept from before the restore
    may have seen events the backup does not have)."""
    from shakti.basics import SERVICES
    from shakti.platform import definition
    from shared.projection import Projector

    for service in SERVICES:
        engine = create_engine(settings.database_for(service))
        try:
            for projection in definition(service).projections():
                await projection.open(settings, engine)
                try:
                    projector: Projector[Any] = Projector(projection, engine, nc)
                    await projector.setup()
                    await projector.rebuild(_reporting(step, f"read model {projection.name}"))
                finally:
                    await projection.close()
        finally:
            await engine.dispose()


def _reporting(step: Step, what: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        step(what, done, total)

    return report


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return {"base64": _b64(bytes(value))}
    return value


def _from_json(value: Any, kind: Any) -> Any:
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, str) and isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and isinstance(kind, LargeBinary):
        return value.encode()
    return value
