"""The rows a projection batch changes, kept in memory and written at the end as a set.

A projection's handlers read and change rows through ``Rows`` instead of issuing a statement per
event: a row is read once per batch (``get``, or ``prefetch`` for many keys in one query), changed in
memory as many times as the batch's events say, and written once per table: one ``INSERT ... ON
CONFLICT DO UPDATE`` for the changed rows and one ``INSERT`` for the appended rows, each built once and
executed for all the rows at once (the driver's executemany), and one ``DELETE``. A case's dozen events
in one batch cost two statements instead of thirty-six.

The same code runs on SQLite and PostgreSQL. Rows are plain dicts keyed by column name; a table's
primary key identifies a row (an autoincrement id is only for appended rows, ``add``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import Column, DateTime, Dialect, Table, TypeDecorator, delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

Row = dict[str, Any]
Key = tuple[Any, ...]

# Bound parameters per read or delete: SQLite allows 32,766 and PostgreSQL 65,535; stay well below both.
MAX_PARAMETERS = 30_000


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...
def utc(moment: datetime | None) -> datetime | None:
    """A moment as stored in a read model: timezone-aware UTC (SQLite hands back naive datetimes)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone: store UTC, read it back as UTC),
    so that times compare right whatever zone an event spelled them in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        value = utc(value)
        return value.replace(tzinfo=None) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return utc(value)


def as_dict(row: Any) -> Row:
    """A result row as a dict of column name to value."""
    return dict(row._mapping)


def as_utc_dict(row: Any) -> Row:
    """A result row as a dict, its datetimes timezone-aware UTC (as a query answers them)."""
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


def _default(column: Column[Any]) -> Any:
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg  # type: ignore[attr-defined]
    return None


class Rows:
    """One batch's rows: read once, changed in memory, written as a set by ``flush``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._cache: dict[Table, dict[Key, Row | None]] = defaultdict(dict)
        self._changed: dict[Table, set[Key]] = defaultdict(set)
        self._removed: dict[Table, set[Key]] = defaultdict(set)
        self._added: dict[Table, list[Row]] = defaultdict(list)

    # ---------------------------------------------------------------- reading

    @staticmethod
    def _key_columns(table: Table) -> list[Column[Any]]:
        return list(table.primary_key.columns)

    def _key(self, table: Table, values: Mapping[str, Any]) -> Key:
        return tuple(values[c.name] for c in self._key_columns(table))

    async def get(self, table: Table, **key: Any) -> Row | None:
        """The row with this primary key as this batch sees it (None when there is none)."""
        k = self._key(table, key)
        cached = self._cache[table]
        if k not in cached:
            await self.prefetch(table, [k])
        return cached[k]

    async def prefetch(self, table: Table, keys: Iterable[Key]) -> None:
        """Read many rows in one query (those not yet known to this batch)."""
        cached = self._cache[table]
        wanted = list(dict.fromkeys(k for k in keys if k not in cached))
        if not wanted:
            return
        columns = self._key_columns(table)
        per_query = max(1, MAX_PARAMETERS // len(columns))
        for start in range(0, len(wanted), per_query):
            chunk = wanted[start : start + per_query]
            if len(columns) == 1:
                where = columns[0].in_([k[0] for k in chunk])
            else:
                where = tuple_(*columns).in_(chunk)
            for found in (await self.session.execute(select(table).where(where))).all():
                row = as_dict(found)
                cached[self._key(table, row)] = row
            for k in chunk:
                cached.setdefault(k, None)

    async def where(self, table: Table, **equal: Any) -> list[Row]:
        """The rows whose columns equal these values (``None``: is null), as this batch sees them: one
        query, with what the batch has changed laid over it. Rows appended with ``add`` are not seen."""
        c = table.c
        query = select(table).where(*(c[name] == value for name, value in equal.items()))
        cached = self._cache[table]
        for found in (await self.session.execute(query)).all():
            row = as_dict(found)
            cached.setdefault(self._key(table, row), row)
        return [
            row
            for row in cached.values()
            if row is not None and all(row[name] == value for name, value in equal.items())
        ]

    async def select(self, statement: Executable) -> Result[Any]:
        """A query of the projection's own (for what a key cannot find): what this batch has changed is
        written first, so the query sees it."""
        await self.flush()
        return await self.session.execute(statement)

    # ---------------------------------------------------------------- changing

    def blank(self, table: Table, **values: Any) -> Row:
        """A new row: every column at its default, then ``values``."""
        return {c.name: _default(c) for c in table.columns} | values

    def put(self, table: Table, row: Row) -> Row:
        """Insert or replace a whole row (every column: start from ``get`` or ``blank``)."""
        k = self._key(table, row)
        self._cache[table][k] = row
        self._changed[table].add(k)
        self._removed[table].discard(k)
        return row

    async def change(self, table: Table, key: Mapping[str, Any], **values: Any) -> Row:
        """Change some columns of a row, creating it (defaults, then the key) when it does not exist."""
        row = await self.get(table, **key)
        if row is None:
            row = self.blank(table, **key)
        row.update(values)
        return self.put(table, row)

    async def update(self, table: Table, key: Mapping[str, Any], **values: Any) -> Row | None:
        """Change some columns of a row that exists; no row, no change (as an ``UPDATE`` does)."""
        row = await self.get(table, **key)
        if row is None:
            return None
        row.update(values)
        return self.put(table, row)

    def add(self, table: Table, row: Row) -> None:
        """Append a row that is never changed afterwards (a timeline entry, a log line)."""
        self._added[table].append(row)

    def remove(self, table: Table, **key: Any) -> None:
        k = self._key(table, key)
        self._cache[table][k] = None
        self._changed[table].discard(k)
        self._removed[table].add(k)

    def forget(self) -> None:
        """Drop what this batch changed and read (its transaction is being rolled back)."""
        self._cache.clear()
        self._changed.clear()
        self._removed.clear()
        self._added.clear()

    # ---------------------------------------------------------------- writing

    async def flush(self) -> None:
        """Write what the batch changed: deletes, then upserts, then appends, each table as a set."""
        for table, keys in self._removed.items():
            await self._delete(table, keys)
        for table, keys in self._changed.items():
            cached = self._cache[table]
            await self._upsert(table, [row for k in keys if (row := cached.get(k)) is not None])
        for table, added in self._added.items():
            await self._insert(table, added)
        self._changed.clear()
        self._removed.clear()
        self._added.clear()

    async def _delete(self, table: Table, keys: set[Key]) -> None:
        columns = self._key_columns(table)
        ordered = list(keys)
        per_query = max(1, MAX_PARAMETERS // len(columns))
        for start in range(0, len(ordered), per_query):
            chunk = ordered[start : start + per_query]
            where = (
                columns[0].in_([k[0] for k in chunk]) if len(columns) == 1 else tuple_(*columns).in_(chunk)
            )
            await self.session.execute(delete(table).where(where))

    async def _upsert(self, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        names = [c.name for c in table.columns]
        statement = _upsert_statement(self.session.get_bind().dialect.name, table)
        # One statement built once per table and executed for every row (the driver's executemany):
        # compiling a multi-row VALUES anew for each batch cost more than running it.
        await self.session.execute(statement, [{n: row.get(n) for n in names} for row in rows])

    async def _insert(self, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        # The columns some row names: one it leaves out (an autoincrement id) takes its default.
        names = sorted({n for row in rows for n in row})
        await self.session.execute(insert(table), [{n: row.get(n) for n in names} for row in rows])


@functools.cache
def _upsert_statement(dialect: str, table: Table) -> Executable:
    build = postgres_insert if dialect == "postgresql" else sqlite_insert
    statement = build(table)
    keys = [c.name for c in table.primary_key.columns]
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    if updates:
        return statement.on_conflict_do_update(index_elements=keys, set_=updates)
    return statement.on_conflict_do_nothing(index_elements=keys)
