"""Benchmark of intake's key store: what re-applying erasures at start costs, and what an erasure costs.

INTAKE holds ``--events`` events (cases of about 10 events each, 1 case in 100 erased) and the key
store a key for every case. Figures:

* **first start** (or after a restore): every ``IdentityErased`` of the whole stream, read by batched
  direct gets and picked by the type header (no other event decoded), its key destroyed;
* **later start**: only the events since the point the store recorded (here: none new);
* **erasure**: destroying one key, then scrubbing (SQLite: WAL checkpoint and truncate; PostgreSQL
  with ``--postgres URL``: ``VACUUM FULL`` of the key table).

    python -m bench.keys                  # 100,000 events
    python -m bench.keys --events 20000   # smaller

The machine is shared: run it more than once. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats

from services.intake.kek import FileKek, KekRing, write_kek_file
from services.intake.keystore import KeyStore
from shared.events import HEADER_TYPE, HEADER_VERSION, Envelope, utcnow
from shared.eventstore import EventStore
from shared.natsserver import EmbeddedNatsServer

EVENTS_PER_CASE = 10
ERASED_ONE_IN = 100


def envelope(case_id: str, event_type: str, version: int, payload: dict[str, Any]) -> bytes:
    return (
        Envelope(
            event_id=uuid.uuid4(),
            event_type=event_type,
            schema_version=1,
            aggregate_type="case",
            aggregate_id=case_id,
            aggregate_version=version,
            occurred_at=utcnow(),
            correlation_id=uuid.uuid4(),
            actor="PNO900001",
            command_id=uuid.uuid4().hex,
            payload=payload,
        )
        .model_dump_json()
        .encode()
    )


async def fill(url: str, events: int) -> list[str]:
    """Cases of EVENTS_PER_CASE events (one in ERASED_ONE_IN ending with IdentityErased); their ids."""
    store = await EventStore.connect(url, "intake", name="bench-keys")
    nc = store.nc
    cases = [uuid.uuid4().hex for _ in range(events // EVENTS_PER_CASE)]
    for n, case_id in enumerate(cases):
        for v in range(1, EVENTS_PER_CASE + 1):
            erased = v == EVENTS_PER_CASE and n % ERASED_ONE_IN == 0
            kind = "IdentityErased" if erased else "ActionRecorded"
            payload = (
                {"by": "PNO900001", "legal_basis": "dpdp_request"} if erased else {"kind": "counselling"}
            )
            await nc.publish(
                f"shakti.intake.case.{case_id}",
                envelope(case_id, kind, v, payload),
                headers={HEADER_TYPE: kind, HEADER_VERSION: "1"},
            )
        if n % 200 == 0:
            await nc.flush()
    await nc.flush()
    while await store.last_sequence() < len(cases) * EVENTS_PER_CASE:
        await asyncio.sleep(0.1)
    await store.close()
    return cases


async def bench(events: int, folder: Path, postgres: str | None) -> dict[str, Any]:
    write_kek_file(folder / "kek.key")
    ring = KekRing(FileKek.read(folder / "kek.key"))
    figures: dict[str, Any] = {"events": events}
    with EmbeddedNatsServer(folder / "nats") as server:
        started = time.perf_counter()
        cases = await fill(server.url, events)
        figures["fill_s"] = round(time.perf_counter() - started, 1)
        for name, url in [("sqlite", f"sqlite+aiosqlite:///{folder / 'keys.db'}"), ("postgres", postgres)]:
            if url is None:
                continue
            keys = KeyStore.open(url, ring)
            await keys.setup()
            for case_id in cases:
                await keys.key_for(case_id)
            nc = await nats.connect(server.url)
            store = EventStore(nc, "intake")
            started = time.perf_counter()
            destroyed = await keys.apply_erasures(store, from_start=True)
            figures[f"{name}_first_start_s"] = round(time.perf_counter() - started, 2)
            figures[f"{name}_keys_destroyed"] = destroyed
            started = time.perf_counter()
            await keys.apply_erasures(store)
            figures[f"{name}_later_start_ms"] = round((time.perf_counter() - started) * 1000, 1)
            started = time.perf_counter()
            await keys.destroy(cases[1])
            figures[f"{name}_erasure_ms"] = round((time.perf_counter() - started) * 1000, 1)
            figures[f"{name}_keys"] = len(cases)
            await nc.close()
            await keys.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", help="also measure a key store on this PostgreSQL (a fresh database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shakti-bench-keys-") as folder:
        figures = asyncio.run(bench(args.events, Path(folder), args.postgres))
    for key, value in figures.items():
        print(f"{key:>26}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
