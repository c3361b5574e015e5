"""Logs (short human lines on a terminal, JSON lines for machines, with correlation ids) and
Prometheus metrics.

Neither ever carries identity data: log lines name cases by id and events by type (an exception is
named by its class, never its message); metric labels are service, projection, stream, event type and
clock names only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from prometheus_client import Counter, Gauge, Histogram

from shared.clock import IST
from shared.settings import Settings

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

EVENTS_APPENDED = Counter("shakti_events_appended_total", "Events appended", ["service", "event_type"])
EVENTS_APPLIED = Counter("shakti_events_applied_total", "Events applied by projections", ["projection"])
CONSUMER_LAG = Gauge("shakti_projection_lag_events", "Events not yet applied", ["projection", "stream"])
READ_MODEL_STATEMENTS = Counter(
    "shakti_read_model_statements_total",
    "SQL statements a service sent to its read-model database (an executemany counts once)",
    ["service"],
)
PARKED = Gauge("shakti_parked_events", "Events parked by a projection", ["projection"])
COMMAND_SECONDS = Histogram(
    "shakti_command_seconds",
    "Time to handle a command",
    ["service", "command"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REACTIONS = Counter(
    "shakti_reactions_total",
    "Events a process manager handled (done or parked) or passed over unread (skipped)",
    ["manager", "outcome"],
)
REACTIONS_WAITING = Gauge(
    "shakti_reactions_waiting", "Events waiting for an earlier event of their aggregate", ["manager"]
)
REACTIONS_BACKLOG = Gauge(
    "shakti_reactions_backlog", "Events a process manager's replicas have not handled yet", ["manager"]
)
BREACHES = Counter("shakti_sla_breaches_total", "SOP deadlines breached", ["clock"])
NOTIFICATIONS = Counter(
    "shakti_notifications_total", "Notifications handed to a channel or parked", ["channel", "outcome"]
)
NOTIFICATION_LAG = Histogram(
    "shakti_notification_lag_seconds",
    "From the event that caused a notification to its hand-over to the channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


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


def part_of(logger: str) -> str:
    """The part of the platform a logger belongs to, as a person would name it."""
    first, _, rest = logger.partition(".")
    if first in ("services", "faststream") and rest:
        return rest.split(".")[0]  # services.intake.commands, faststream.routing (a service's broker)
    if logger.startswith("shakti.web"):
        return "web"
    if first in ("uvicorn", "httpx", "httpcore"):
        return "http"
    if first in ("shared", "shakti"):
        return "platform"
    return first


_LEVEL_WORDS = {"warning": "warn", "critical": "crit"}
_LEVEL_COLOURS = {"debug": "2", "info": "36", "warning": "33", "error": "1;31", "critical": "1;31"}


class HumanFormatter(logging.Formatter):
    """``16:45:27 IST  warn   routing     message``: time in India, level, part, message."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, IST).strftime("%H:%M:%S IST")
        level = record.levelname.lower()
        message = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        message = message.replace("\n", "\n" + " " * 30)
        shown = f"{_LEVEL_WORDS.get(level, level):<5}"
        if self.colour:
            shown = f"\x1b[{_LEVEL_COLOURS.get(level, '0')}m{shown}\x1b[0m"
            at = f"\x1b[2m{at}\x1b[0m"
        return f"{at}  {shown}  {part_of(record.name)[:10]:<10}  {message}"


@dataclass
class LogOutput:
    """How this process logs, decided from the settings and where standard error goes."""

    handler: logging.Handler
    human: bool
    quiet_once_started: bool
    """On a terminal with no level asked for: start-up at info, then warnings and errors only."""

    def started(self) -> None:
        """The platform has started and said so: from now on keep the terminal for what needs a look."""
        if self.quiet_once_started:
            self.handler.setLevel(logging.WARNING)


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the standard error of the moment, not to the one there was when logging was set up:
    a program that replaces it for a while (a CLI runner, a test's capture) and closes it afterwards
    must not leave the platform's log writing into a closed file."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(settings: Settings | None = None, stream: TextIO | None = None) -> LogOutput:
    config = settings or Settings()
    out = stream or sys.stderr
    human = config.log_format == "human" or (config.log_format == "auto" and out.isatty())
    handler: logging.Handler = logging.StreamHandler(out) if stream is not None else CurrentStderr()
    if human:
        handler.setFormatter(HumanFormatter(colour=out.isatty() and "NO_COLOR" not in os.environ))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((config.log_level or "info").upper())
    # Client-side HTTP lines (the demo loader's, the CLI's) are never wanted; the server's own access
    # lines only when asked for. On a terminal the start-up summary says what uvicorn's lines say.
    quiet = {"faststream": True, "nats": True, "httpx": True, "httpcore": True}
    quiet["uvicorn.access"] = not config.access_log
    quiet["uvicorn.error"] = human and config.log_level is None
    for name, hush in quiet.items():
        logging.getLogger(name).setLevel("WARNING" if hush else logging.NOTSET)
    # uvicorn cuts its access logger off when a server runs without access lines; one that asks for
    # them (in the same process) joins ours again.
    logging.getLogger("uvicorn.access").propagate = True
    # FastStream gives its own logger a coloured handler of its own: its lines go through ours instead
    # (the brokers are given a logger of ours, so no access logger of FastStream's is made).
    faststream_log = logging.getLogger("faststream")
    faststream_log.handlers.clear()
    faststream_log.propagate = True
    return LogOutput(handler, human, quiet_once_started=human and config.log_level is None)
