"""Set-based writes the ORM has no single statement for, on PostgreSQL and SQLite alike.

``bulk_update`` compiles to one ``CASE WHEN id = … THEN …`` per column and row, which the
database evaluates row by row against every branch; a join to a ``VALUES`` list is one pass.
Both databases take ``WITH v(…) AS (VALUES …) UPDATE … FROM v`` (SQLite since 3.33).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Lookup

# PostgreSQL types a VALUES column from its literals (text for strings, numeric for floats),
# so columns whose target type has no assignment cast from those say their type.
_PG_CASTS = {"jsonb": "CAST(%s AS jsonb)", "timestamptz": "CAST(%s AS timestamptz)", "float": "CAST(%s AS float8)"}


def _placeholder(kind: str | None) -> str:
    if kind is None or connection.vendor != "postgresql":
        return "%s"
    return _PG_CASTS[kind]


def update_from_values(
    *,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    assignments: str,
    join: str = "id",
    kinds: Sequence[str | None] | None = None,
    where: str = "",
    params: Sequence[object] = (),
    pg_types: Sequence[str] | None = None,
    returning: str = "",
) -> int | list[tuple]:
    """``UPDATE table SET <assignments> FROM v WHERE table.<join> = v.<first column>``, one statement.

    ``columns`` names the values of each row (the first is matched to the table's ``join``
    column, its id unless told otherwise), ``assignments`` is the
    SET clause referring to them as ``v.<column>``; ``params`` fill placeholders in
    ``assignments`` and ``where`` (an extra condition), which come after the rows. Returns
    the number of rows updated, or, with ``returning`` (a RETURNING clause's columns), the rows
    it returned: what changed, read by the statement that changed it.

    ``pg_types`` (each column's PostgreSQL type): on PostgreSQL the rows go as one array a
    column (``unnest``) rather than a ``VALUES`` list of a parameter a value, which for
    thousands of rows takes longer to parse and plan than to run.
    """
    if not rows:
        return [] if returning else 0
    q = connection.ops.quote_name
    if pg_types and connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{t}[]" for t in pg_types)
        source = f"SELECT * FROM unnest({arrays})"  # noqa: S608 (types from code)
        values = [pg_array_of(t, [row[i] for row in rows]) for i, t in enumerate(pg_types)]
        # The keys again, as a condition on the table itself: the planner then reads just those
        # rows by index, where a join alone may walk the whole index (a merge join) or table.
        keys = f"{table}.{q(join)} = ANY(ARRAY(SELECT {q(columns[0])} FROM v))"  # noqa: S608 (names from code)
        where = f"{keys} AND {where}" if where else keys
    else:
        kinds = kinds or [None] * len(columns)
        row_sql = "(" + ", ".join(_placeholder(k) for k in kinds) + ")"
        source = "VALUES " + ", ".join([row_sql] * len(rows))
        values = [value for row in rows for value in row]
    # Identifiers and clauses come from code (never from input); every value is a parameter.
    sql = (
        f"WITH v ({', '.join(q(c) for c in columns)}) AS ({source}) "  # noqa: S608
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{q(join)} = v.{q(columns[0])}"
        + (f" AND {where}" if where else "")
    )
    if returning:
        sql += f" RETURNING {returning}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        return cursor.fetchall() if returning else cursor.rowcount


_PG_NUMBERS = frozenset({"bigint", "integer", "smallint", "float8", "double precision"})


def pg_array_of(pg_type: str, values: Sequence[object]) -> str:
    """pg_array of a column of ``pg_type``, numbers written as they are (no quoting: the common
    case, and the fast one)."""
    if pg_type in _PG_NUMBERS:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return pg_array(values)


# COPY's text format: tab-separated columns, backslash escapes, \\N for null.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_str(value: str) -> str:
    """A string as one column of a COPY text line."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(COPY_ESCAPES)
    return value


def copy_value(value: object) -> str:
    """A plain value (a string, number, datetime or None) as one column of a COPY text line."""
    if value is None:
        return "\\N"
    if type(value) is str:
        return copy_str(value)
    return str(value)  # numbers; datetimes as "2025-01-31 09:00:00+00:00"


def pg_array(values: Sequence[object]) -> str:
    """Values as one PostgreSQL array literal (``{1,NULL,"a \\"b\\""}``), to pass a column of
    many rows as a single parameter: ``unnest(%s::bigint[], %s::text[], …)`` is parsed in one
    go, where a multi-row ``VALUES`` list is a node per value."""
    return "{" + ",".join("NULL" if v is None else _pg_array_item(v) for v in values) + "}"


def _pg_array_item(value: object) -> str:
    text = str(value)  # numbers; datetimes as "2025-01-31 09:00:00+00:00"
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def insert_rows(*, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Insert plain values (already adapted for the database) without the per-object field
    preparation of ``bulk_create``: by ``COPY`` on PostgreSQL (a multi-row ``INSERT`` of a
    few thousand rows spends longer being parsed than written), else one multi-row ``INSERT``."""
    if not rows:
        return
    q = connection.ops.quote_name
    if connection.vendor == "postgresql":
        text = "".join(
            "\t".join(["\\N" if v is None else copy_str(v) if type(v) is str else str(v) for v in row]) + "\n"
            for row in rows
        )  # copy_value, inlined: a call per value was most of the time it took
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.copy_expert(f"COPY {table} ({', '.join(q(c) for c in columns)}) FROM STDIN", io.StringIO(text))
        return
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES {', '.join([row_sql] * len(rows))}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def upsert_rows(
    *,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    conflict: str,
    kinds: Sequence[str | None] | None = None,
    update: Sequence[str] | None = None,
) -> None:
    """One multi-row ``INSERT … ON CONFLICT (<conflict>) DO UPDATE`` setting the ``update``
    columns (default: every other one) to the row's value (PostgreSQL and SQLite ≥ 3.24 alike):
    rows that may or may not exist yet."""
    if not rows:
        return
    kinds = kinds or [None] * len(columns)
    q = connection.ops.quote_name
    row_sql = "(" + ", ".join(_placeholder(k) for k in kinds) + ")"
    update = update if update is not None else [c for c in columns if c != conflict]
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update)
    sql = (
        f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES {', '.join([row_sql] * len(rows))} "  # noqa: S608
        f"ON CONFLICT ({q(conflict)}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


class AnyOf(Lookup):
    """``field__any_of=values``: ``field__in`` for the long lists of set-based code (a scoring
    batch's thousands of lead ids, an ingestion batch's emails), without the per-value work.

    ``__in`` prepares and resolves every value in Python (about a tenth of a scoring batch's
    own Python time, under cProfile) and, on PostgreSQL, sends each as a literal of its own;
    here the values (already of the column's type) go as one array parameter (``= ANY(%s)``)
    on PostgreSQL, as a parameter each elsewhere.
    Pass a set, frozenset, list or tuple of plain values of the column's type (ids, strings; no
    expressions), nothing is converted. ``LeadsConfig.ready`` registers it on the integer, text
    and related fields only: a date or JSON column needs the conversions ``__in`` makes.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        if not isinstance(self.rhs, set | frozenset | list | tuple):
            raise TypeError(f"any_of takes a set, list or tuple of values, not {type(self.rhs).__name__}.")
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*params, self.rhs]  # psycopg2 sends a list as one ARRAY
        return f"{lhs} IN ({', '.join(['%s'] * len(self.rhs))})", [*params, *self.rhs]
