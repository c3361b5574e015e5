"""Structured JSON logs with correlation ids, and Prometheus metrics.

Neither ever carries identity data: log lines name cases by id and events by type; metric labels
are service, projection, stream, event type and clock names only.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

EVENTS_APPENDED = Counter("shakti_events_appended_total", "Events appended", ["service", "event_type"])
EVENTS_APPLIED = Counter("shakti_events_applied_total", "Events applied by projections", ["projection"])
CONSUMER_LAG = Gauge("shakti_projection_lag_events", "Events not yet applied", ["projection", "stream"])
PARKED = Gauge("shakti_parked_events", "Events parked by a projection", ["projection"])
COMMAND_SECONDS = Histogram(
    "shakti_command_seconds",
    "Time to handle a command",
    ["service", "command"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REACTIONS = Counter(
    "shakti_reactions_total", "Events a process manager handled (done or parked)", ["manager", "outcome"]
)
REACTIONS_WAITING = Gauge(
    "shakti_reactions_waiting", "Events waiting for an earlier event of their aggregate", ["manager"]
)
REACTIONS_BACKLOG = Gauge(
    "shakti_reactions_backlog", "Events a process manager's replicas have not handled yet", ["manager"]
)
BREACHES = Counter("shakti_sla_breaches_total", "SOP deadlines breached", ["clock"])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if cid := correlation_id.get():
            line["correlation_id"] = cid
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "faststream", "nats"):
        logging.getLogger(noisy).setLevel("WARNING")
    # FastStream gives its own logger a coloured handler of its own: its lines go through ours instead
    # (the brokers are given a logger of ours, so no access logger of FastStream's is made).
    faststream_log = logging.getLogger("faststream")
    faststream_log.handlers.clear()
    faststream_log.propagate = True
