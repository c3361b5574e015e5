"""Is a read model what its events say? The consistency check behind ``shakti check``.

For each projection of a service, the live tables (and the checkpoints they were applied up to) are
read in one snapshot; then the same projection is built from stream sequence 1 up to exactly those
checkpoints into a scratch database of the same kind (a temporary SQLite file, or a temporary
schema in the same PostgreSQL database), and the two are compared table by table, row by row.

The reference is built by reading the streams with an ephemeral consumer and calling the
projection's ``apply`` directly, not through a second ``Projector``: it shares no checkpoint, ack or
durable-consumer code with the live path, so a bug there (an event applied twice after a crash, one
skipped) shows up as a difference instead of being reproduced. Because it stops at the live
checkpoints, the check gives an exact answer while the service keeps running.

The report names tables, counts and the primary keys of differing rows, never row contents: a read
model may hold sealed identity fields, and the report goes to a terminal and to logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from sqlalchemy import Column, MetaData, Table, inspect, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.bus import JETSTREAM_API_TIMEOUT, OPS
from shared.eventstore import decode_message
from shared.projection import Projection, Projector, checkpoints, generations, parked_events
from shared.readmodel import create_engine, sessions
from shared.rows import Rows
from shared.runtime import ServiceDefinition
from shared.settings import Settings

FETCH = 500
FETCH_TRIES = 20
MAX_ATTEMPTS = 3
"""As the live Projector: an event whose apply fails this many times is parked, not applied."""
SAMPLE_KEYS = 5


class ConsistencyCheckError(RuntimeError):
    pass


Row = tuple[Any, ...]


@dataclass(frozen=True)
class TableComparison:
    table: str
    """The table's name in the projection (its attribute), without the generation prefix."""
    live_rows: int
    rebuilt_rows: int
    only_live: int
    """Rows the live model has that the rebuild does not (changed rows count here and below)."""
    only_rebuilt: int
    sample_keys: tuple[str, ...] = ()
    """Primary keys of a few differing rows, to start an investigation from."""

    @property
    def equal(self) -> bool:
        return self.only_live == 0 and self.only_rebuilt == 0


@dataclass(frozen=True)
class ProjectionComparison:
    projection: str
    checkpoints: dict[str, int]
    """Stream -> the sequence both sides were compared at."""
    tables: tuple[TableComparison, ...]
    parked_live: tuple[tuple[str, int], ...]
    parked_rebuilt: tuple[tuple[str, int], ...]

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables) and self.parked_live == self.parked_rebuilt


@dataclass
class ConsistencyReport:
    service: str
    projections: list[ProjectionComparison] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(p.equal for p in self.projections)

    def lines(self) -> list[str]:
        """What ``shakti check`` prints: one line per table, a bilingual verdict last."""
        out: list[str] = []
        for p in self.projections:
            at = ", ".join(f"{s}#{n}" for s, n in sorted(p.checkpoints.items())) or "empty streams"
            out.append(f"{self.service}/{p.projection} at {at}")
            for t in p.tables:
                state = (
                    "ok" if t.equal else f"DIFFERS: {t.only_live} only live, {t.only_rebuilt} only rebuilt"
                )
                keys = f" (keys: {', '.join(t.sample_keys)})" if t.sample_keys else ""
                out.append(f"  {t.table}: {t.live_rows} live, {t.rebuilt_rows} rebuilt: {state}{keys}")
            if p.parked_live != p.parked_rebuilt:
                out.append(f"  parked: live {list(p.parked_live)}, rebuilt {list(p.parked_rebuilt)}")
        if self.consistent:
            out.append(f"{self.service}: read model consistent / पठन मॉडल सुसंगत है")
        else:
            out.append(f"{self.service}: read model INCONSISTENT / पठन मॉडल असंगत है: rebuild it")
        return out


@dataclass
class _Snapshot:
    generation: int
    checkpoints: dict[str, int]
    rows: dict[str, list[Row]]
    parked: tuple[tuple[str, int], ...]


def _tables(tables: object) -> dict[str, Table]:
    """A projection's tables by attribute name: the name that stays the same across generations."""
    found = {name: value for name, value in vars(tables).items() if isinstance(value, Table)}
    if not found:
        raise ConsistencyCheckError(f"{type(tables).__name__} holds no tables to compare")
    return found


def _compared_columns(table: Table) -> list[Column[Any]]:
    """Every column but a surrogate autoincrement key: PostgreSQL spends sequence values on rolled
    back attempts, so such keys may differ between two correct builds."""
    return [c for c in table.columns if c is not table.autoincrement_column]


def _canonical(value: Any) -> Any:
    # JSON columns come back as dicts and lists, which a Counter cannot hold.
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


async def _read_rows(conn: AsyncConnection, table: Table) -> list[Row]:
    result = await conn.execute(select(*_compared_columns(table)))
    return [tuple(_canonical(v) for v in row) for row in result]


async def _snapshot(projector: Projector[Any]) -> _Snapshot:
    """The live tables, checkpoints and parked events as of one instant, while the projector runs."""
    name = projector.name
    async with projector.engine.connect() as conn:
        if projector.engine.dialect.name == "postgresql":
            # One snapshot for every statement below; SQLite's WAL reader already keeps one.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            generation = await conn.scalar(
                select(generations.c.active).where(generations.c.projection == name)
            )
            if generation is None:
                raise ConsistencyCheckError(f"projection {name} has never run on this database")
            marks = await conn.execute(
                select(checkpoints.c.stream, checkpoints.c.sequence).where(
                    checkpoints.c.projection == name, checkpoints.c.generation == generation
                )
            )
            done = {stream: int(seq) for stream, seq in marks}
            tables = _tables(projector.tables)
            if any(f"_g{generation}_" not in t.name for t in tables.values()):
                raise ConsistencyCheckError(f"{name} switched generations during the check: run it again")
            rows = {key: await _read_rows(conn, table) for key, table in tables.items()}
            parked = await conn.execute(
                select(parked_events.c.stream, parked_events.c.sequence).where(
                    parked_events.c.projection == name, parked_events.c.generation == generation
                )
            )
            parked_refs = tuple(sorted((s, int(n)) for s, n in parked))
    return _Snapshot(
        int(generation),
        {s: done.get(s, 0) for s in projector.projection.sources},
        rows,
        parked_refs,
    )


async def _apply(
    projection: Projection[Any], session: AsyncSession, tables: Any, msg: Msg, stream: str
) -> bool:
    """Apply as the live Projector does: a few tries, each in a savepoint; False means parked."""
    for _ in range(MAX_ATTEMPTS):
        try:
            async with session.begin_nested():
                # Decoding is inside, as on the live side: a message that is no envelope is parked.
                envelope = decode_message(
                    msg.data, msg.headers or {}, stream, sequence=msg.metadata.sequence.stream
                )
                rows = Rows(session)
                await projection.apply(rows, tables, envelope)
                await rows.flush()
            return True
        except (OperationalError, InterfaceError):
            raise  # the scratch database failed, not the event: the check cannot go on
        except Exception:  # the live side parks such an event and goes on: so must the reference
            continue
    return False


async def _fetch(sub: JetStreamContext.PullSubscription, stream: str, last: int) -> list[Msg]:
    # On a cluster whose node just rejoined, a new consumer may have no leader for a moment (503).
    for _ in range(FETCH_TRIES):
        try:
            return await sub.fetch(FETCH, timeout=5.0)
        except APIError:
            await asyncio.sleep(0.5)
        except TimeoutError:
            break
    raise ConsistencyCheckError(
        f"{stream} gave no events up to #{last}, where the live model says it applied"
    )


async def _rebuild(
    projection: Projection[Any], engine: AsyncEngine, nc: NatsClient, until: dict[str, int]
) -> tuple[dict[str, list[Row]], tuple[tuple[str, int], ...]]:
    """Apply each source stream from sequence 1 to ``until`` into fresh tables; parks as the live side."""
    metadata = MetaData()
    tables = projection.define(metadata, f"{projection.name}_check_")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    make_session = sessions(engine)
    js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
    parked: list[tuple[str, int]] = []
    for stream, last in until.items():
        if last == 0:
            continue
        sub = await js.pull_subscribe(
            projection.sources[stream],
            stream=stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
                # Memory storage and one replica: a scratch cursor, not worth a replicated log.
                mem_storage=True,
                num_replicas=1,
            ),
        )
        try:
            reached = 0
            while reached < last:
                msgs = await _fetch(sub, stream, last)
                async with make_session.begin() as session:
                    for msg in msgs:
                        seq = msg.metadata.sequence.stream
                        if seq > last:
                            reached = last
                            break
                        if not await _apply(projection, session, tables, msg, stream):
                            parked.append((stream, seq))
                        reached = seq
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    async with engine.connect() as conn:
        rows = {key: await _read_rows(conn, table) for key, table in _tables(tables).items()}
    return rows, tuple(sorted(parked))


def _compare_table(name: str, table: Table, live: list[Row], rebuilt: list[Row]) -> TableComparison:
    live_count, rebuilt_count = Counter(live), Counter(rebuilt)
    only_live = live_count - rebuilt_count
    only_rebuilt = rebuilt_count - live_count
    key_at = [i for i, column in enumerate(_compared_columns(table)) if column.primary_key]
    keys: list[str] = []
    for row in [*only_live, *only_rebuilt]:
        key = "/".join(str(row[i]) for i in key_at) if key_at else "(surrogate key)"
        if key not in keys:
            keys.append(key)
    return TableComparison(
        table=name,
        live_rows=len(live),
        rebuilt_rows=len(rebuilt),
        only_live=sum(only_live.values()),
        only_rebuilt=sum(only_rebuilt.values()),
        sample_keys=tuple(keys[:SAMPLE_KEYS]),
    )


@contextlib.asynccontextmanager
async def scratch_database(like: str) -> AsyncIterator[AsyncEngine]:
    """An empty database of the same kind as ``like`` (values must compare equal), removed after."""
    if like.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="shakti-check-") as folder:
            engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'rebuilt.db'}")
            try:
                yield engine
            finally:
                await engine.dispose()
        return
    if not like.startswith("postgresql+asyncpg"):
        raise ConsistencyCheckError("the check supports SQLite and PostgreSQL (asyncpg) read models")
    schema = f"shakti_check_{uuid.uuid4().hex[:12]}"
    admin = create_engine(like)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(like, connect_args={"server_settings": {"search_path": schema}})
        try:
            yield engine
        finally:
            await engine.dispose()
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


async def compare_projection(
    live: Projector[Any], nc: NatsClient, database_url: str, projection: Projection[Any] | None = None
) -> ProjectionComparison:
    """Compare one live projector's tables with a rebuild from scratch at the same checkpoints.

    ``projection``: a fresh instance for the rebuild (defaults to the live projector's own, which is
    fine for projections that keep no state outside their tables)."""
    snapshot = await _snapshot(live)
    async with scratch_database(database_url) as engine:
        rows, parked = await _rebuild(projection or live.projection, engine, nc, snapshot.checkpoints)
    tables = _tables(live.tables)
    return ProjectionComparison(
        projection=live.name,
        checkpoints=snapshot.checkpoints,
        tables=tuple(
            _compare_table(key, table, snapshot.rows[key], rows[key]) for key, table in tables.items()
        ),
        parked_live=snapshot.parked,
        parked_rebuilt=parked,
    )


async def _has_run(engine: AsyncEngine, projection: str) -> bool:
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table(generations.name)):
            return False
        active = await conn.scalar(select(generations.c.active).where(generations.c.projection == projection))
        return active is not None


async def check_service(
    definition: ServiceDefinition,
    settings: Settings,
    *,
    nats_url: str | Sequence[str] | None = None,
    database_url: str | None = None,
) -> ConsistencyReport:
    """``shakti check <service>``: every projection of one service against a rebuild from scratch.

    Safe on a running service: it reads the read model, creates only a scratch schema or file and an
    ephemeral consumer, and writes nothing the service uses."""
    url = database_url or settings.database_for(definition.name)
    servers = nats_url or settings.nats_url
    if not servers:
        raise ConsistencyCheckError("the check needs the NATS server of the running system (SHAKTI_NATS_URL)")
    servers = servers if isinstance(servers, str) else list(servers)
    nc = await nats.connect(servers, name="shakti-check", **settings.nats_options(OPS))  # an operator's check
    engine = create_engine(url)
    report = ConsistencyReport(definition.name)
    try:
        for projection in definition.projections():
            if not await _has_run(engine, projection.name):
                raise ConsistencyCheckError(
                    f"projection {projection.name} has never run on {engine.url.render_as_string()}"
                )
            live: Projector[Any] = Projector(projection, engine, nc)
            await live.setup()  # only opens the active generation: its tables exist already
            rebuilt = next(p for p in definition.projections() if p.name == projection.name)
            await rebuilt.open(settings, engine)
            try:
                report.projections.append(await compare_projection(live, nc, url, rebuilt))
            finally:
                await rebuilt.close()
    finally:
        await engine.dispose()
        await nc.drain()
    return report
