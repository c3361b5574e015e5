"""The people who sign in: a user name, an argon2 password hash, a role and a jurisdiction.

The users live in the platform's own small database (``web`` under the services' database
template: ``var/web.db`` by default). Every sign-in attempt is recorded; failures beyond a bound
within a window lock the user name (and, at a higher bound, the caller's address) until the window
passes, so guessing passwords is slow.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.auth import ROLE_LEVEL, Principal, Role
from shared.clock import Clock, SystemClock
from shared.readmodel import create_engine, create_tables, sessions, write_lock

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,62}$")
SERVICE_NUMBER = re.compile(r"^[A-Za-z0-9]{1,32}$")
MIN_PASSWORD = 8

metadata = MetaData()
users = Table(
    "web_user",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("service_number", String(32)),
    Column("district", String(64)),
    Column("circle", String(64)),
    Column("thana", String(64)),
    Column("demo", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
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


class UserError(ValueError):
    """A bad user record; carries a bilingual message (shown to an operator or at sign-in)."""

    def __init__(self, code: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.hi = hi


class SignInRefused(UserError):
    pass


class TooManyAttempts(SignInRefused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "locked",
            f"Too many failed sign-ins; try again in {retry_after // 60 + 1} minutes.",
            f"बहुत अधिक असफल प्रयास; {retry_after // 60 + 1} मिनट बाद फिर प्रयास करें।",
        )
        self.retry_after = retry_after


WRONG = SignInRefused("wrong", "Wrong user name or password.", "गलत उपयोगकर्ता नाम या पासवर्ड।")


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    service_number: str | None
    district: str | None
    circle: str | None
    thana: str | None
    demo: bool

    def principal(self) -> Principal:
        return Principal(
            username=self.username,
            role=self.role,
            service_number=self.service_number,
            district=self.district,
            circle=self.circle,
            thana=self.thana,
        )


def check_jurisdiction(
    role: Role, district: str | None, circle: str | None, thana: str | None
) -> tuple[str | None, str | None, str | None]:
    """The jurisdiction a role needs, and nothing finer or coarser than its level allows."""
    level = ROLE_LEVEL[role]
    needed = {"state": (), "district": ("district",), "circle": ("district", "circle")}.get(
        level, ("district", "circle", "thana")
    )
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


class UserStore:
    def __init__(
        self,
        database_url: str,
        *,
        clock: Clock | None = None,
        failures_allowed: int = 5,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self.engine = create_engine(database_url)
        self.sessions = sessions(self.engine)
        self.clock = clock or SystemClock()
        self.failures_allowed = failures_allowed
        self.window = window
        # argon2id with the library's defaults (RFC 9106 low-memory profile).
        self.hasher = PasswordHasher()
        # Checked against when the user name is unknown, so that a wrong name takes as long as a
        # wrong password and does not tell which names exist.
        self._decoy = self.hasher.hash("no such user")
        self._write = write_lock(self.engine)

    async def setup(self) -> None:
        await create_tables(self.engine, metadata)

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        service_number: str | None = None,
        district: str | None = None,
        circle: str | None = None,
        thana: str | None = None,
        demo: bool = False,
        replace: bool = False,
    ) -> User:
        if not USERNAME.match(username):
            raise UserError(
                "username",
                "A user name is 2-63 lower-case letters, digits, '.', '_' or '-'.",
                "उपयोगकर्ता नाम 2-63 छोटे अक्षर, अंक, '.', '_' या '-' हो।",
            )
        if len(password) < MIN_PASSWORD:
            raise UserError(
                "password",
                f"A password needs at least {MIN_PASSWORD} characters.",
                f"पासवर्ड में कम से कम {MIN_PASSWORD} अक्षर हों।",
            )
        if service_number is not None and not SERVICE_NUMBER.match(service_number):
            raise UserError(
                "service_number", "A service number is letters and digits.", "सेवा संख्या अक्षर और अंक हो।"
            )
        if role in (Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE) and not service_number:
            raise UserError(
                "service_number",
                "Kendra staff sign in with their service number.",
                "केन्द्र कर्मी के लिए सेवा संख्या आवश्यक है।",
            )
        district, circle, thana = check_jurisdiction(role, district, circle, thana)
        row = {
            "password_hash": await asyncio.to_thread(self.hasher.hash, password),
            "role": role.value,
            "service_number": service_number,
            "district": district,
            "circle": circle,
            "thana": thana,
            "demo": demo,
        }
        async with self._write, self.sessions.begin() as session:
            exists = await session.scalar(select(func.count()).where(users.c.username == username))
            if exists and not replace:
                raise UserError("exists", f"User {username} exists.", f"उपयोगकर्ता {username} पहले से है।")
            if exists:
                await session.execute(update(users).where(users.c.username == username).values(**row))
            else:
                await session.execute(
                    insert(users).values(username=username, created_at=self.clock.now(), **row)
                )
        return User(username, role, service_number, district, circle, thana, demo)

    async def get(self, username: str) -> User | None:
        async with self.sessions() as session:
            row = (await session.execute(select(users).where(users.c.username == username))).first()
        if row is None:
            return None
        m = row._mapping
        return User(
            m["username"],
            Role(m["role"]),
            m["service_number"],
            m["district"],
            m["circle"],
            m["thana"],
            m["demo"],
        )

    async def everyone(self) -> list[User]:
        async with self.sessions() as session:
            rows = await session.execute(select(users.c.username).order_by(users.c.username))
            names = [r[0] for r in rows]
        return [u for name in names if (u := await self.get(name)) is not None]

    async def sign_in(self, username: str, password: str, client: str) -> User:
        """The user, if the password is right and neither the name nor the address is locked out."""
        now = self.clock.now()
        client = client[:64]
        username = username.strip().lower()[:64]
        refusal: SignInRefused | None = None
        # The outcome is recorded and committed before any refusal is raised.
        async with self._write, self.sessions.begin() as session:
            since = now - self.window
            failures = await self._failures(session, attempts.c.username == username, since)
            from_client = await self._failures(session, attempts.c.client == client, since)
            # Locked until enough of the recent failures have left the window.
            locked_until = [
                recent[len(recent) - allowed] + self.window
                for recent, allowed in (
                    (failures, self.failures_allowed),
                    (from_client, 4 * self.failures_allowed),
                )
                if len(recent) >= allowed
            ]
            stored = (
                await session.execute(select(users.c.password_hash).where(users.c.username == username))
            ).scalar()
            if locked_until:
                refusal = TooManyAttempts(max(1, int((max(locked_until) - now).total_seconds())))
                outcome = "locked"
            elif not await asyncio.to_thread(self._verify, stored or self._decoy, password) or stored is None:
                refusal, outcome = WRONG, "failed"
            else:
                outcome = "ok"
                if self.hasher.check_needs_rehash(stored):
                    rehashed = await asyncio.to_thread(self.hasher.hash, password)
                    await session.execute(
                        update(users).where(users.c.username == username).values(password_hash=rehashed)
                    )
            await self._record(session, username, client, now, outcome)
        if refusal is not None:
            raise refusal
        user = await self.get(username)
        if user is None:
            raise WRONG
        return user

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    async def _failures(session: AsyncSession, who: ColumnElement[bool], since: datetime) -> list[datetime]:
        rows = await session.execute(
            select(attempts.c.at)
            .where(and_(who, attempts.c.at >= since, attempts.c.outcome == "failed"))
            .order_by(attempts.c.at)
        )
        return [_aware(r[0]) for r in rows]

    @staticmethod
    async def _record(session: AsyncSession, username: str, client: str, at: datetime, outcome: str) -> None:
        await session.execute(
            insert(attempts).values(username=username, client=client, at=at, outcome=outcome)
        )

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
