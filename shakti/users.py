"""The people who sign in, as the process that signs them in keeps them.

Who a user is (role, jurisdiction, service number, enabled or not, session version) is the user
directory (``shared.directory``, stream ``USERS``), which every service reads. What only this process
needs stays in its own small database (``web`` under the services' database template: ``var/web.db``
by default): each user's argon2 password hash, and every sign-in attempt.

Sign-in is throttled per (user name, address): after a few failures of that pair, each further try
waits twice as long as the one before, up to a cap. There is no hard lock: an attacker guessing from
one address never stops the real user signing in from another, and one address behind which many
people sit (a gateway) is never locked as a whole. Password hashing runs in a worker thread, outside
any lock, so sign-ins of different users run side by side.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from shakti.basics import CONSOLE
from shared.aggregate import Repository
from shared.auth import ROLE_LEVEL, Principal
from shared.clock import Clock, SystemClock
from shared.contracts.users import SERVICE, SessionEnd
from shared.directory import ServiceNumberHolder, UserAccount, account_id
from shared.errors import DomainError
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore, stream_name
from shared.readmodel import create_engine, create_tables, sessions, write_lock
from shared.roles import Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,62}$")
SERVICE_NUMBER = re.compile(r"^[A-Za-z0-9]{1,32}$")
MIN_PASSWORD = 8
KENDRA_STAFF = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE})


metadata = MetaData()
credentials = Table(
    "web_credential",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
attempts = Table(
    "web_signin_attempt",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, index=True),
    Column("client", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
)

# An attempt is recorded as CHECKING before its password is checked and counts as a failure until it
# is resolved: guesses sent at the same moment from one address are throttled like guesses in a row.
CHECKING, FAILED, OK, THROTTLED = "checking", "failed", "ok", "throttled"


class UserError(ValueError):
    """A bad user record or a refused change; carries a bilingual message (shown to an operator)."""

    def __init__(self, code: str, en: str, hi: str, status: int = 422) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.hi = hi
        self.status = status


class SignInRefused(UserError):
    pass


class TooManyAttempts(SignInRefused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "throttled",
            f"Too many failed sign-ins for this user from here; try again in {retry_after} seconds.",
            f"यहाँ से इस उपयोगकर्ता के बहुत अधिक असफल प्रयास; {retry_after} सेकंड बाद फिर प्रयास करें।",
            429,
        )
        self.retry_after = retry_after


WRONG = SignInRefused("wrong", "Wrong user name or password.", "गलत उपयोगकर्ता नाम या पासवर्ड।", 401)


def check_jurisdiction(
    role: Role, district: str | None, circle: str | None, thana: str | None
) -> tuple[str | None, str | None, str | None]:
    """The jurisdiction a role needs, and nothing finer or coarser than its level allows."""
    level = ROLE_LEVEL[role]
    # An agency desk's agency is defined in a district's jurisdiction: she names that district, no place.
    needed = {
        "state": (),
        "district": ("district",),
        "agency": ("district",),
        "circle": ("district", "circle"),
    }.get(level, ("district", "circle", "thana"))
    given = {"district": district, "circle": circle, "thana": thana}
    for part in needed:
        code = given[part]
        if not code or not CODE.match(code):
            raise UserError(
                "jurisdiction",
                f"A {role.value} needs a {part} code (capital letters, digits and '-').",
                f"{role.value} के लिए {part} कोड आवश्यक है (बड़े अक्षर, अंक और '-')।",
            )
    return tuple(given[p] if p in needed else None for p in ("district", "circle", "thana"))  # type: ignore[return-value]


def user_record(
    username: str,
    role: Role,
    *,
    service_number: str | None = None,
    district: str | None = None,
    circle: str | None = None,
    thana: str | None = None,
    agency: str | None = None,
) -> Principal:
    """A user's record as the directory will hold it, or a UserError saying what is wrong."""
    if not USERNAME.match(username):
        raise UserError(
            "username",
            "A user name is 2-63 lower-case letters, digits, '.', '_' or '-'.",
            "उपयोगकर्ता नाम 2-63 छोटे अक्षर, अंक, '.', '_' या '-' हो।",
        )
    if service_number is not None and not SERVICE_NUMBER.match(service_number):
        raise UserError(
            "service_number", "A service number is letters and digits.", "सेवा संख्या अक्षर और अंक हो।"
        )
    if role in KENDRA_STAFF and not service_number:
        raise UserError(
            "service_number",
            "Kendra staff sign in with their service number.",
            "केन्द्र कर्मी के लिए सेवा संख्या आवश्यक है।",
        )
    district, circle, thana = check_jurisdiction(role, district, circle, thana)
    if role is Role.AGENCY_DESK:
        if not agency or not CODE.match(agency):
            raise UserError(
                "agency",
                "An agency desk needs her agency's code (capital letters, digits and '-'), e.g. SJP-OSC.",
                "संस्था डेस्क के लिए उसकी संस्था का कोड आवश्यक है (बड़े अक्षर, अंक और '-'), जैसे SJP-OSC।",
            )
        if service_number:
            raise UserError(
                "service_number",
                "An agency desk is not police staff: she has no service number.",
                "संस्था डेस्क पुलिस कर्मी नहीं है: उसकी कोई सेवा संख्या नहीं होती।",
            )
    else:
        agency = None  # only an agency desk answers for an agency
    return Principal(
        username=username,
        role=role,
        service_number=service_number,
        district=district,
        circle=circle,
        thana=thana,
        agency=agency,
    )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(
            "password",
            f"A password needs at least {MIN_PASSWORD} characters.",
            f"पासवर्ड में कम से कम {MIN_PASSWORD} अक्षर हों।",
        )


class ReferenceData(Protocol):
    """Checks a user's place and service number against what the services know (the jurisdiction
    routing imported, routing's roster); raises UserError naming the valid choices."""

    async def check(self, record: Principal) -> None: ...


@dataclass(frozen=True)
class Throttle:
    """How long the next sign-in of one (user name, address) pair waits after its recent failures."""

    free_failures: int = 3
    first_wait: timedelta = timedelta(seconds=1)
    longest_wait: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=1)

    def wait(self, failures: list[datetime], now: datetime) -> timedelta:
        """``failures``: the pair's failed attempts since its last success, oldest first."""
        recent = [f for f in failures if f > now - self.window]
        if len(recent) < self.free_failures:
            return timedelta(0)
        doublings = min(len(recent) - self.free_failures, 32)
        delay: timedelta = min(self.first_wait * (2**doublings), self.longest_wait)
        return max(timedelta(0), recent[-1] + delay - now)


class UserStore:
    """The users as this process keeps them: the directory (written through the ``users`` part's event
    store, attached once that part has started) and the password hashes and sign-in attempts."""

    def __init__(
        self, database_url: str, *, clock: Clock | None = None, throttle: Throttle | None = None
    ) -> None:
        self.engine = create_engine(database_url)
        self.sessions = sessions(self.engine)
        self.clock = clock or SystemClock()
        self.throttle = throttle or Throttle()
        # argon2id with the library's defaults (RFC 9106 low-memory profile).
        self.hasher = PasswordHasher()
        # Checked against when the user name is unknown, so that a wrong name takes as long as a
        # wrong password and does not tell which names exist.
        self._decoy = self.hasher.hash("no such user")
        self._write = write_lock(self.engine)
        self._store: EventStore | None = None

    async def setup(self) -> None:
        await create_tables(self.engine, metadata)

    async def close(self) -> None:
        await self.engine.dispose()

    def attach(self, store: EventStore) -> None:
        """The ``users`` part's event store: every change to the directory goes through it."""
        if store.stream != stream_name(SERVICE):
            raise ValueError(f"the user directory is written by the {SERVICE} part, not {store.service}")
        self._store = store

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError("the users part has not started")
        return self._store

    def _accounts(self) -> Repository[UserAccount]:
        return Repository(self.store, UserAccount)

    @staticmethod
    def _meta(actor: str, command_id: str | None = None) -> CommandMeta:
        return CommandMeta(command_id=command_id or uuid.uuid4().hex, actor=actor)

    # ---- the directory --------------------------------------------------------------------------

    async def get(self, username: str) -> UserAccount:
        """The user's record, read now (``exists`` is false for an unknown name)."""
        if not USERNAME.match(username):
            return UserAccount(username)
        return await self._accounts().get(account_id(username))

    async def everyone(self) -> list[UserAccount]:
        found: dict[str, list[Any]] = {}
        stream = stream_name(SERVICE)
        for envelope in await self.store.read_subject(
            stream, f"shakti.{SERVICE}.{UserAccount.aggregate_type}.*"
        ):
            found.setdefault(envelope.aggregate_id, []).append(envelope)
        accounts = [UserAccount.replay(aid, history) for aid, history in found.items()]
        return sorted(accounts, key=lambda a: a.username)

    async def ensure_console(self) -> None:
        """The operator console's account, added once (the same command id every time)."""
        console = Principal(username=CONSOLE, role=Role.OPERATOR)
        if not (await self.get(CONSOLE)).exists:
            await self._accounts().execute(
                account_id(CONSOLE), lambda a: a.add(console), self._meta("shakti", f"add-{CONSOLE}")
            )

    async def add(
        self,
        record: Principal,
        password: str,
        *,
        actor: str,
        demo: bool = False,
        replace: bool = False,
        reference: ReferenceData | None = None,
    ) -> UserAccount:
        """Add a user (or, with ``replace``, give an existing one this record and password, ending their
        sessions). Checked first: the record, the password, the place and service number against
        ``reference``, and that nobody else holds the service number."""
        record = self._checked(record)
        check_password(password)
        self._not_console(record.username)
        if reference is not None:
            await reference.check(record)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        current = await self.get(record.username)
        if current.exists and not replace:
            raise UserError(
                "exists", f"User {record.username} exists.", f"उपयोगकर्ता {record.username} पहले से है।", 409
            )
        await self._claim(record, actor)
        aid = account_id(record.username)
        async with self._write, self.sessions.begin() as session:
            # The hash is stored in the same transaction that the directory's events go out in: if the
            # append fails, no hash is left behind; a new user's row is inserted (never overwritten).
            row = {"password_hash": hashed, "changed_at": self.clock.now()}
            if current.exists:
                await self._write_hash(session, record.username, row)
                await self._accounts().execute(aid, lambda a: a.change(record), self._meta(actor))
                await self._accounts().execute(
                    aid, lambda a: a.end_sessions("password_changed"), self._meta(actor)
                )
            else:
                try:
                    await session.execute(insert(credentials).values(username=record.username, **row))
                    await session.flush()
                except IntegrityError:
                    raise UserError(
                        "exists",
                        f"User {record.username} exists.",
                        f"उपयोगकर्ता {record.username} पहले से है।",
                        409,
                    ) from None
                await self._accounts().execute(aid, lambda a: a.add(record, demo=demo), self._meta(actor))
        return await self.get(record.username)

    async def change(
        self, record: Principal, *, actor: str, reference: ReferenceData | None = None
    ) -> UserAccount:
        """A new role, jurisdiction or service number for an existing user (their sessions end)."""
        record = self._checked(record)
        self._not_console(record.username)
        await self._existing(record.username)
        if reference is not None:
            await reference.check(record)
        await self._claim(record, actor)
        await self._accounts().execute(
            account_id(record.username), lambda a: a.change(record), self._meta(actor)
        )
        return await self.get(record.username)

    async def disable(self, username: str, *, actor: str) -> UserAccount:
        self._not_console(username)
        await self._existing(username)
        await self._accounts().execute(account_id(username), lambda a: a.disable(), self._meta(actor))
        return await self.get(username)

    async def enable(self, username: str, *, actor: str) -> UserAccount:
        self._not_console(username)
        await self._existing(username)
        await self._accounts().execute(account_id(username), lambda a: a.enable(), self._meta(actor))
        return await self.get(username)

    async def set_password(self, username: str, password: str, *, actor: str) -> UserAccount:
        """A new password; every session of the user ends."""
        check_password(password)
        self._not_console(username)
        await self._existing(username)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        async with self._write, self.sessions.begin() as session:
            await self._write_hash(
                session, username, {"password_hash": hashed, "changed_at": self.clock.now()}
            )
            await self._accounts().execute(
                account_id(username), lambda a: a.end_sessions("password_changed"), self._meta(actor)
            )
        return await self.get(username)

    async def end_sessions(self, username: str, reason: SessionEnd, *, actor: str) -> None:
        """Every token issued to the user so far stops working (sign-out, an operator's order)."""
        self._not_console(username)
        await self._accounts().execute(
            account_id(username), lambda a: a.end_sessions(reason), self._meta(actor)
        )

    def _checked(self, record: Principal) -> Principal:
        return user_record(
            record.username,
            record.role,
            service_number=record.service_number,
            district=record.district,
            circle=record.circle,
            thana=record.thana,
            agency=record.agency,
        )

    @staticmethod
    def _not_console(username: str) -> None:
        if username == CONSOLE:
            raise UserError(
                "reserved",
                f"{CONSOLE} is the operator console's own account and cannot be changed.",
                f"{CONSOLE} ऑपरेटर कंसोल का अपना खाता है; इसे बदला नहीं जा सकता।",
                409,
            )

    async def _existing(self, username: str) -> UserAccount:
        account = await self.get(username)
        if not account.exists:
            raise UserError("not_found", f"No user {username}.", f"उपयोगकर्ता {username} नहीं है।", 404)
        return account

    async def _claim(self, record: Principal, actor: str) -> None:
        """Take the record's service number for the user, or refuse: it belongs to someone else."""
        number = record.service_number
        if number is None:
            return

        async def decide(claim: ServiceNumberHolder) -> list[Event]:
            holder = await self.get(claim.username) if claim.username else None
            return claim.claim(record.username, holder, self.clock.now())

        try:
            await Repository(self.store, ServiceNumberHolder).execute(number, decide, self._meta(actor))
        except DomainError as taken:
            raise UserError(taken.code, taken.en, taken.hi, 409) from None

    @staticmethod
    async def _write_hash(session: Any, username: str, row: dict[str, Any]) -> None:
        changed = await session.execute(
            update(credentials).where(credentials.c.username == username).values(**row)
        )
        if not changed.rowcount:
            await session.execute(insert(credentials).values(username=username, **row))

    # ---- signing in ---------------------------------------------------------------------------

    async def sign_in(self, username: str, password: str, client: str) -> UserAccount:
        """The user, if the password is right and the user is enabled; TooManyAttempts while this
        (user name, address) pair must wait after its recent failures; WRONG otherwise."""
        now = self.clock.now()
        client = client[:64]
        username = username.strip().lower()[:64]
        wait = self.throttle.wait(await self._recent_failures(username, client, now), now)
        if wait > timedelta(0):
            await self._record(username, client, now, THROTTLED)
            raise TooManyAttempts(max(1, int(wait.total_seconds() + 0.999)))
        attempt = await self._record(username, client, now, CHECKING)
        async with self.sessions() as session:
            stored = await session.scalar(
                select(credentials.c.password_hash).where(credentials.c.username == username)
            )
        # No lock is held while argon2 runs: other users' sign-ins go on meanwhile.
        right = await asyncio.to_thread(self._verify, stored or self._decoy, password)
        account = await self.get(username) if stored is not None else None
        if not right or account is None or not account.exists or not account.enabled:
            await self._resolve(attempt, FAILED)
            raise WRONG
        await self._resolve(attempt, OK)
        if self.hasher.check_needs_rehash(stored or ""):
            rehashed = await asyncio.to_thread(self.hasher.hash, password)
            async with self._write, self.sessions.begin() as session:
                await self._write_hash(session, username, {"password_hash": rehashed, "changed_at": now})
        return account

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _recent_failures(self, username: str, client: str, now: datetime) -> list[datetime]:
        """The pair's failed (and still unresolved) attempts since its last success, oldest first."""
        pair = and_(attempts.c.username == username, attempts.c.client == client)
        since = now - self.throttle.window
        async with self.sessions() as session:
            last_ok = await session.scalar(
                select(attempts.c.at)
                .where(pair, attempts.c.outcome == OK, attempts.c.at >= since)
                .order_by(attempts.c.id.desc())
                .limit(1)
            )
            if last_ok is not None:
                since = max(since, _aware(last_ok))
            rows = await session.execute(
                select(attempts.c.at)
                .where(pair, attempts.c.at >= since, attempts.c.outcome.in_((FAILED, CHECKING)))
                .order_by(attempts.c.id)
            )
            return [_aware(r[0]) for r in rows]

    async def _record(self, username: str, client: str, at: datetime, outcome: str) -> int:
        async with self._write, self.sessions.begin() as session:
            result = await session.execute(
                insert(attempts).values(username=username, client=client, at=at, outcome=outcome)
            )
            return int(result.inserted_primary_key[0])

    async def _resolve(self, attempt: int, outcome: str) -> None:
        async with self._write, self.sessions.begin() as session:
            await session.execute(update(attempts).where(attempts.c.id == attempt).values(outcome=outcome))

    async def attempts_of(self, username: str) -> list[tuple[datetime, str, str]]:
        """(when, from where, outcome) of the user name's sign-in attempts, oldest first."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(attempts.c.at, attempts.c.client, attempts.c.outcome)
                .where(attempts.c.username == username)
                .order_by(attempts.c.id)
            )
            return [(_aware(r[0]), r[1], r[2]) for r in rows]


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every moment we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Fetch = Callable[[str, dict[str, str]], Awaitable[Any]]
"""GET a path of the services' API with query parameters: the JSON answer, or None when it is a 404."""


class ServicesReference:
    """``ReferenceData`` from the services' own HTTP API (intake's places, as imported by routing, and
    routing's roster), asked with the token of whoever adds the user."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    async def check(self, record: Principal) -> None:
        await self._check_place(record)
        if record.service_number is not None:
            await self._check_service_number(record)

    async def _check_place(self, record: Principal) -> None:
        if record.district is None:
            return
        # Routing's own tree, the source the services' places are projected from: an account made just
        # after an import is checked against it once routing's read model holds the import (its look
        # waits for that when it finds nothing).
        tree = await self._fetch(f"/api/routing/jurisdiction/{record.district}", {})
        if tree is None:
            every = await self._fetch("/api/intake/places", {}) or {"places": []}
            known = [p["code"] for p in every["places"] if p["kind"] == "district"]
            raise _not_among("district", record.district, known)
        if record.circle is not None:
            circles = [c["code"] for c in tree.get("circles", [])]
            if record.circle not in circles:
                raise _not_among("circle", record.circle, circles, f"district {record.district}")
        if record.thana is not None:
            thanas = [t["code"] for t in tree.get("thanas", []) if t["circle"] == record.circle]
            if record.thana not in thanas:
                raise _not_among("thana", record.thana, thanas, f"circle {record.circle}")
        if record.agency is not None:
            agencies = [a["code"] for a in tree.get("agencies", [])]
            if record.agency not in agencies:
                raise _not_among("agency", record.agency, agencies, f"district {record.district}")

    async def _check_service_number(self, record: Principal) -> None:
        roster: list[dict[str, Any]] = await self._fetch("/api/routing/roster", {}) or []
        officer = next((o for o in roster if o["service_number"] == record.service_number), None)
        kendra_staff = record.role in KENDRA_STAFF
        if officer is None:
            here = (
                sorted(o["service_number"] for o in roster if o["thana"] == record.thana)
                if kendra_staff
                else []
            )
            en = (
                f"Service number {record.service_number} is not on the roster (`shakti routing roster FILE`)."
            )
            hi = f"सेवा संख्या {record.service_number} रोस्टर में नहीं है (`shakti routing roster FILE`)।"
            if here:
                en += f" On the roster of {record.thana}: {', '.join(here)}."
                hi += f" {record.thana} के रोस्टर में: {', '.join(here)}।"
            raise UserError("not_on_roster", en, hi)
        if kendra_staff and officer["thana"] != record.thana:
            raise UserError(
                "posted_elsewhere",
                f"Service number {record.service_number} is posted at {officer['kendra']} (thana "
                f"{officer['thana']}), not at thana {record.thana}.",
                f"सेवा संख्या {record.service_number} की तैनाती {officer['kendra']} (थाना {officer['thana']}) "
                f"में है, थाना {record.thana} में नहीं।",
            )


def _not_among(level: str, code: str, valid: list[str], within: str = "") -> UserError:
    where = f" in {within}" if within else ""
    choices = ", ".join(sorted(valid)) or "none imported yet (`shakti routing import FILE`)"
    return UserError(
        f"unknown_{level}",
        f"No {level} {code}{where} in the imported jurisdiction. Valid: {choices}.",
        f"आयातित क्षेत्राधिकार में {level} {code} नहीं है। मान्य: {choices}।",
    )
