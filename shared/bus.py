"""Who may do what on the bus: the one table of the platform's parts and their NATS permissions.

Every part of the platform connects to NATS as its own user, named like the part. From the table
below come both the accounts of the embedded server (``shakti up``) and ``deploy/nats/accounts.conf``
(``python -m shared.bus > deploy/nats/accounts.conf``; a test keeps the checked-in file equal to
it), so what runs on a laptop is what runs in a deployment.

A part may:
- publish only its own events (``shakti.<part>.>``) and its own parked records
  (``shakti.parked.<part>.>``);
- update only its own stream; create any of the platform's streams that is still missing (a part
  starts before the owner of a stream it reads), which the server answers only with the identical
  configuration; never delete, purge or delete from a stream;
- read every event stream (direct gets, message gets) and every stream's info, but no message of another
  part's Object Store bucket (intake's case files: ``Part.buckets``);
- create, read, pull from, acknowledge and delete only its own durable consumers, named exactly
  (consumer names cannot be limited by prefix, so the table lists each one);
- subscribe only to its own inbox (``_INBOX.<part>.>``, the connection's inbox prefix) and to the
  event subjects of every part (``shakti.<part>.>``: doorbells telling a projection or a cache that
  something new was stored).

``ops`` (operators: status, rebuild, backup and restore, consistency checks) may do everything;
``sys`` is the server's system account, for monitoring.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

OPS = "ops"
SYSTEM = "sys"
PARKED_STREAM = "PARKED"
JETSTREAM_API_TIMEOUT = 15.0
"""Seconds a part waits for the server's answer to a JetStream API request (consumer info, a batch's
commit). nats-py's default of 5 s is shorter than the answer took in CI on a saturated 2-core machine
(a consumer's info while a service started), and a part that gives up then does not start at all."""


@dataclass(frozen=True)
class DurableConsumer:
    """A process manager's durable consumer: all replicas of the part share it."""

    stream: str
    name: str


@dataclass(frozen=True)
class Part:
    name: str
    consumers: tuple[DurableConsumer, ...] = ()
    buckets: tuple[str, ...] = ()
    """Object Store buckets the part keeps (their streams are ``OBJ_<bucket>``); nobody else writes them."""

    @property
    def stream(self) -> str:
        return self.name.upper()

    @property
    def events(self) -> str:
        return f"shakti.{self.name}.>"

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX.{self.name}"

    @property
    def parked(self) -> str:
        return f"shakti.parked.{self.name}.>"


def _durables(*pairs: tuple[str, str]) -> tuple[DurableConsumer, ...]:
    return tuple(DurableConsumer(stream, name) for stream, name in pairs)


# Existing deployments' durable consumers keep their names (routing_on_…): a consumer under a new
# name would start from the stream's first event and redeliver every event ever stored.
PARTS: tuple[Part, ...] = (
    # intake's case files, sealed with each case's key (services/intake/attachments.py).
    # Intake alone opens a complainant's phone: it sends the SMS notifications decided for her.
    Part(
        "intake",
        _durables(("NOTIFICATIONS", "intake_to_complainants")),
        buckets=("shakti-intake-attachments",),
    ),
    Part(
        "routing",
        _durables(
            ("INTAKE", "routing_on_cases"),
            ("ROUTING", "routing_on_roster"),
            ("ESCALATION", "routing_on_escalations"),
        ),
    ),
    Part(
        "escalation",
        _durables(("INTAKE", "escalation_on_intake"), ("ROUTING", "escalation_on_routing")),
    ),
    Part(
        "training",
        _durables(
            ("ROUTING", "training_on_roster"),
            ("TRAINING", "training_on_programmes"),
            ("TRAINING", "training_on_modules"),
        ),
    ),
    Part(
        "notifications",
        _durables(
            ("INTAKE", "notifications_on_intake"),
            ("ROUTING", "notifications_on_routing"),
            ("ESCALATION", "notifications_on_escalation"),
            ("TRAINING", "notifications_on_training"),
        ),
    ),
    Part("users"),
)
BY_NAME: dict[str, Part] = {part.name: part for part in PARTS}
USERS: tuple[str, ...] = (*BY_NAME, OPS, SYSTEM)


def inbox_prefix(user: str) -> str:
    """The inbox prefix of a connection of ``user`` (a part's, or ``_INBOX.ops``)."""
    return f"_INBOX.{user}"


def publish_allowed(p: Part) -> list[str]:
    streams = [q.stream for q in PARTS] + [PARKED_STREAM]
    allowed = [
        p.events,
        p.parked,
        "$JS.API.INFO",
        f"$JS.API.STREAM.UPDATE.{p.stream}",
        *(f"$JS.API.STREAM.CREATE.{s}" for s in streams),
        "$JS.API.STREAM.INFO.*",
        # Messages are read from the platform's event streams only, never out of another part's bucket.
        *(f"$JS.API.STREAM.MSG.GET.{s}" for s in streams),
        *(f"$JS.API.DIRECT.GET.{s}" for s in streams),
        *(f"$JS.API.DIRECT.GET.{s}.>" for s in streams),  # the last message of a subject
    ]
    for c in p.consumers:
        where = f"{c.stream}.{c.name}"
        allowed += [
            f"$JS.API.CONSUMER.CREATE.{where}",
            f"$JS.API.CONSUMER.CREATE.{where}.>",  # the form with the filter subject
            f"$JS.API.CONSUMER.DURABLE.CREATE.{where}",
            f"$JS.API.CONSUMER.INFO.{where}",
            f"$JS.API.CONSUMER.MSG.NEXT.{where}",
            f"$JS.API.CONSUMER.DELETE.{where}",
            # ack, nak, in-progress and term: $JS.ACK.<stream>.<consumer>.<delivered>.<seq>...
            f"$JS.ACK.{where}.>",
        ]
    for bucket in p.buckets:
        stream = f"OBJ_{bucket}"
        allowed += [
            f"$O.{bucket}.>",  # chunks and their description
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.PURGE.{stream}",  # deleting a file purges its chunks
            f"$JS.API.STREAM.MSG.GET.{stream}",  # a file's description
            f"$JS.API.DIRECT.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}.>",
            # Reading a file: its stream found by subject, an ordered consumer of its own, flow control.
            "$JS.API.STREAM.NAMES",
            f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.DELETE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>",
            f"$JS.FC.{stream}.>",
        ]
    return allowed


def subscribe_allowed(p: Part) -> list[str]:
    return [f"{p.inbox_prefix}.>", *(q.events for q in PARTS)]


def password_variable(user: str) -> str:
    return f"SHAKTI_NATS_{user.upper()}_PASSWORD"


def _strings(values: Iterable[str], indent: str) -> str:
    return ",\n".join(f"{indent}{json.dumps(v)}" for v in values)


def accounts_conf() -> str:
    """The accounts of the NATS server (``include``-d by its configuration); passwords come from the
    environment, one variable per user (a bcrypt hash from ``nats server passwd`` works as well)."""
    users = []
    for p in PARTS:
        users.append(
            "      {\n"
            f"        user: {p.name}\n"
            f"        password: ${password_variable(p.name)}\n"
            "        permissions: {\n"
            "          publish: {\n"
            "            allow: [\n"
            f"{_strings(publish_allowed(p), '              ')}\n"
            "            ]\n"
            "          }\n"
            "          subscribe: {\n"
            "            allow: [\n"
            f"{_strings(subscribe_allowed(p), '              ')}\n"
            "            ]\n"
            "          }\n"
            "        }\n"
            "      }\n"
        )
    return (
        "# Who may do what on the Mission Shakti NATS system. GENERATED from shared/bus.py (the one table\n"
        "# of parts and permissions): do not edit; run `python -m shared.bus > deploy/nats/accounts.conf`.\n"
        "#\n"
        "# Included by nats-server.conf (compose), mounted into the Helm-installed cluster\n"
        "# (helm-values.yaml); the embedded server of `shakti up` runs with the same accounts. Each part\n"
        "# publishes only its own events and parked records, updates only its own stream, reads every\n"
        "# stream, uses only its own durable consumers and inbox. ops may do everything; sys is the\n"
        "# system account.\n"
        "#\n"
        "# Passwords come from the environment, one variable per user (SHAKTI_NATS_<USER>_PASSWORD).\n"
        "\n"
        "accounts {\n"
        "  SHAKTI {\n"
        "    jetstream: enabled\n"
        "    users: [\n"
        f"{''.join(users)}"
        "      # Operators: stream administration, backups, consistency checks, parked retries.\n"
        f"      {{ user: {OPS}, password: ${password_variable(OPS)} }}\n"
        "    ]\n"
        "  }\n"
        "  # The server's own account, for monitoring the cluster (nats server report, surveyor).\n"
        "  SYS {\n"
        f"    users: [{{ user: {SYSTEM}, password: ${password_variable(SYSTEM)} }}]\n"
        "  }\n"
        "}\n"
        "system_account: SYS\n"
    )


# --- credentials ------------------------------------------------------------------------------------

CREDENTIALS_FILE = "nats-credentials.json"
"""In the data directory of an embedded server: every user's password, created on first start."""


class CredentialsError(RuntimeError):
    """The NATS credentials file cannot serve a user: said in English and in Hindi."""

    def __init__(self, en: str, hi: str) -> None:
        self.en, self.hi = en, hi
        super().__init__(en)


def read_credentials(path: Path) -> dict[str, str]:
    """A credentials file: one JSON object, user name -> password."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CredentialsError(
            f"Cannot read the NATS credentials in {path}: {error}",
            f"{path} में NATS के पासवर्ड नहीं पढ़े जा सके: {error}",
        ) from None
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in found.items()
    ):
        raise CredentialsError(
            f"{path} must hold one JSON object of user name -> password",
            f"{path} में उपयोगकर्ता नाम -> पासवर्ड का एक JSON ऑब्जेक्ट होना चाहिए",
        )
    return found


def new_password() -> str:
    """256 random bits, spelled so that the server's configuration parser, which parses the value of
    an environment variable as it parses a value in the file, reads a string: a letter, then letters
    and digits (a password starting with a digit could be read as a number or a size)."""
    return f"p{secrets.token_hex(32)}"


def ensure_credentials(path: Path) -> dict[str, str]:
    """The embedded server's passwords: read from ``path``, the missing ones made and added (a part
    added in a newer version gets its user), the file kept readable by its owner alone."""
    known = read_credentials(path) if path.exists() else {}
    missing = [user for user in USERS if user not in known]
    if missing:
        known.update({user: new_password() for user in missing})
        partial = path.with_name(f".{path.name}.new")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(known, out, indent=2)
        partial.replace(path)
    path.chmod(0o600)
    return known


def server_environment(passwords: Mapping[str, str]) -> dict[str, str]:
    """The variables ``accounts_conf`` reads its passwords from."""
    return {password_variable(user): password for user, password in passwords.items()}


if __name__ == "__main__":
    print(accounts_conf(), end="")
