"""Reads on every request's path whose SQL the ORM builds once per process, and PostgreSQL
plans once per connection, not once per call.

Building a SELECT (Django's query compiler: columns, joins, quoting, the WHERE tree) costs
more CPU than running it: 0.35 ms of a 0.7 ms token lookup with its membership, organisation
and user joined, 0.2–0.4 ms for each of the few rows a lead creation reads. The statement is
the same every time; only the values differ. ``PreparedRead`` builds the queryset once with
placeholder values, keeps the compiled SQL, and on each call puts the real values where the
placeholders were and turns the rows into model instances as the ORM does (the same
converters, the same ``select_related`` objects).

On PostgreSQL the statement is also prepared on the server (``PREPARE``, once per connection,
sent outside the query log like Django's health check) and run with ``EXECUTE``: parsing and
planning the four-table token lookup took PostgreSQL ~0.4 ms of CPU a request, executing the
prepared plan ~0.1 ms. The logged statement carries the SQL as a comment, so query logs and
tests still read what was asked. Prepared statements belong to a database session: behind a
pooler that hands out server connections per transaction (PgBouncer in transaction mode) set
``DB_PREPARED_STATEMENTS=false``. A migration that changes a column a prepared statement
returns makes PostgreSQL refuse it ("cached plan must not change result type"): the statement
is then prepared again under a new name (``_execute``), so a deploy costs at most one failed
transaction per connection and statement. Compiled statements are kept on the connection they
belong to, and go with it. A request's first read, outside a transaction, also stands in for
Django's connection health check (``CONN_HEALTH_CHECKS``: a ``SELECT 1`` before the request's
first statement): a connection it finds dead is replaced and the read run again
(``_fetch_checking_health``).

Only lookups that hand their value to the database unchanged can be prepared (``exact``,
``lt``/``gte``…, ``iexact`` on PostgreSQL, where it is ``UPPER(%s)``). This is checked when
the SQL is built: string placeholders contain ``%`` and ``_``, which a ``LIKE`` lookup escapes,
so when a placeholder does not appear verbatim among the compiled parameters (SQLite's
``iexact`` is such a ``LIKE``) the read goes through the ORM on every call on that database,
as it would without this. Placeholders of a model type (an organisation) stand for its
primary key, so ``for_org`` stays the path to tenant rows; an unsaved instance or ``None`` is
refused at call time as ``for_org`` refuses it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, transaction
from django.db.models.query import get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery

_numbers = itertools.count(1)
# The statements prepared on each open database connection (the driver's connection object: a
# connection Django opens again is a new one, with none).
_prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _placeholder(kind: type, name: str) -> Any:
    """A value of ``kind`` that the compiled parameters cannot contain by chance."""
    n = next(_numbers)
    if kind is str:
        return f"\x1fprepared %_ {name} {n}\x1f"
    if kind is int:
        return -7_340_000_000_000 - n
    if kind is datetime:
        return datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC) + timedelta(microseconds=n)
    if isinstance(kind, type) and issubclass(kind, models.Model):
        return kind(pk=-7_340_000_000_000 - n)
    raise TypeError(f"No placeholder for {kind!r}: use str, int, datetime or a model.")


class _NotPreparable(Exception):
    pass


class _Compiled:
    """One database's statement: SQL, parameters with the placeholders' positions, and how to build rows."""

    def __init__(self, queryset: models.QuerySet, placeholders: dict[str, Any], connection) -> None:
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        self.sql, self.params = sql, list(params)
        self.slots: list[tuple[int, str]] = []
        for name, value in placeholders.items():
            found = [i for i, param in enumerate(self.params) if _same(param, _db_value(value, connection))]
            if not found:
                raise _NotPreparable(name)
            self.slots += [(i, name) for i in found]
        select, klass_info = compiler.select, compiler.klass_info
        if compiler.annotation_col_map or queryset._known_related_objects or klass_info is None:
            raise ImproperlyConfigured("PreparedRead: only model rows, with select_related, can be prepared.")
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.related_populators = get_related_populators(klass_info, select, queryset.db)
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        self.compiler = compiler
        self.db = queryset.db
        self.name = None
        if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
            self.renew = lambda: _name(self, "smk_read", sql, len(self.params))
            self.renew()


def _server_side(name: str, statement: str, count: int) -> tuple[str, str]:
    """``PREPARE`` for ``statement`` (Django's ``%s`` placeholders) and the ``EXECUTE`` that runs it,
    carrying the statement as a comment for query logs."""
    numbers = itertools.count(1)
    body = re.sub(r"%[s%]", lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", statement)
    if next(numbers) != count + 1:
        raise ImproperlyConfigured(f"Prepared statement: placeholders and parameters differ in {statement!r}.")
    comment = statement.replace("*/", "* /").replace("%", "%%")  # read by psycopg2's formatting
    return f"PREPARE {name} AS {body}", f"EXECUTE {name}({', '.join(['%s'] * count)}) /* {comment} */"


def _name(compiled: _Compiled | _CompiledInsert, prefix: str, statement: str, count: int) -> None:
    """A new server-side name for ``compiled``, with its ``PREPARE`` and ``EXECUTE``."""
    compiled.name = f"{prefix}_{next(_numbers)}"
    compiled.prepare, compiled.execute = _server_side(compiled.name, statement, count)


# SQLSTATEs of a prepared statement the session can no longer run as prepared: 0A000 "cached
# plan must not change result type" (a migration changed a column it returns), 26000 no such
# statement (the session was reset under us).
_STALE = frozenset({"0A000", "26000"})


def _execute(cursor, connection, compiled: _Compiled | _CompiledInsert, params: list) -> None:
    """Run a compiled statement: prepared on this connection first when it has a server-side name.

    A prepared statement that went stale is prepared again under a new name (the old one stays
    in the session, unused): at once outside a transaction, else by the next call once this
    transaction, which the failure aborted, is over.
    """
    if compiled.name is None:
        cursor.execute(compiled.sql, params)
        return
    for attempt in (1, 2):
        prepared = _prepared_on.setdefault(connection.connection, set())
        if compiled.name not in prepared:
            with connection.wrap_database_errors:
                cursor.cursor.execute(compiled.prepare)
            prepared.add(compiled.name)
        try:
            cursor.execute(compiled.execute, params)
            return
        except DatabaseError as exc:
            if getattr(exc.__cause__, "pgcode", None) not in _STALE:
                raise
            compiled.renew()
            if attempt == 2 or connection.in_atomic_block:
                raise


def _statements(connection) -> dict:
    """The statements compiled for a connection, kept on it: each thread has its own connection,
    a statement's converters belong to the connection it was compiled on, and they go when it
    goes (a thread that ends without closing its connection does not leave it held open here)."""
    cache = getattr(connection, "_smarketing_statements", None)
    if cache is None:
        cache = connection._smarketing_statements = {}
    return cache


def _db_value(value: Any, connection) -> Any:
    if isinstance(value, models.Model):
        if value.pk is None:
            raise ValueError(f"A prepared read needs a saved {type(value).__name__}.")
        return value.pk
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _same(param: Any, value: Any) -> bool:
    return type(param) is type(value) and param == value


def _fetch(connection, compiled: _Compiled, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        _execute(cursor, connection, compiled, params)
        return cursor.fetchall()


def _fetch_checking_health(connection, compiled: _Compiled, params: list) -> list[tuple]:
    """Run a read; the first of a request, outside a transaction, is also the connection's health check.

    With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before a request's first statement, to
    find a connection the server dropped while it sat idle (a restart, a pooler's timeout). Every
    API request starts with a read of its credential: that read is the check instead, a round trip
    less a request. Should the connection turn out to be dead, it is closed and the read runs
    again on a new one, as it would have after a failed ``SELECT 1`` (a read outside a
    transaction changes nothing, so running it again is safe). Any other error is raised as is.
    """
    checking = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if not checking:
        return _fetch(connection, compiled, params)
    connection.health_check_done = True
    try:
        return _fetch(connection, compiled, params)
    except DatabaseError:  # what Django's check counts as dead: any error of the driver's
        if connection.is_usable():
            raise
    connection.close()
    return _fetch(connection, compiled, params)


class PreparedRead:
    """``build(**values)`` returns a queryset; calling this returns its rows as a list.

    ``placeholders`` names each argument's type (``str``, ``int``, ``datetime`` or a model)::

        _active = PreparedRead(lambda org: Persona.objects.for_org(org).filter(archived_at=None), org=Organization)
        personas = _active(org=org)
    """

    def __init__(self, build: Callable[..., models.QuerySet], **placeholders: type) -> None:
        self.build = build
        self.kinds = placeholders

    def compiled(self, alias: str) -> _Compiled | None:
        """This read's statement for the connection (None: this database changes a value on its
        way, and the ORM reads it on every call)."""
        connection = connections[alias]
        cache = _statements(connection)
        if self not in cache:
            values = {name: _placeholder(kind, name) for name, kind in self.kinds.items()}
            queryset = self.build(**values)
            if queryset.db != alias:
                raise ImproperlyConfigured("PreparedRead: the queryset reads another database.")
            try:
                cache[self] = _Compiled(queryset, values, connection)
            except _NotPreparable:
                cache[self] = None
        return cache[self]

    def __call__(self, *, using: str = "default", **values: Any) -> list[models.Model]:
        if values.keys() != self.kinds.keys():
            raise TypeError(f"PreparedRead takes {', '.join(self.kinds)}; got {', '.join(values)}.")
        for name, kind in self.kinds.items():  # as for_org: no tenant is a programming error
            if isinstance(kind, type) and issubclass(kind, models.Model) and not isinstance(values[name], kind):
                raise ValueError(f"A prepared read needs a saved {kind.__name__} as {name}.")
        connection = connections[using]
        c = self.compiled(using)
        if c is None:
            return list(self.build(**values))
        params = list(c.params)
        for i, name in c.slots:
            params[i] = _db_value(values[name], connection)
        rows = _fetch_checking_health(connection, c, params)
        if c.converters:
            rows = c.compiler.apply_converters(rows, c.converters)
        objects = []
        for row in rows:
            obj = c.model.from_db(c.db, c.init_list, row[c.start : c.end])
            for populator in c.related_populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects


class _CompiledInsert:
    """One database's ``INSERT … RETURNING`` for a model, every value a plain parameter."""

    def __init__(self, model: type[models.Model], connection) -> None:
        meta = model._meta
        if meta.parents or meta.proxy or meta.order_with_respect_to:
            raise _NotPreparable(model.__name__)
        # What Model.save() inserts for a new row: every column but a primary key the database
        # assigns (a primary key that is a relation, the score row's lead, is a column like others).
        self.fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
        self.returning = meta.db_returning_fields
        query = InsertQuery(model)
        query.insert_values(self.fields, [model()], raw=False)
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = self.returning
        [(statement, params)] = compiler.as_sql()
        # A field with its own placeholder or a database default compiles to something else.
        if len(params) != len(self.fields) or statement.count("%s") != len(params):
            raise _NotPreparable(model.__name__)
        if not connection.features.can_return_columns_from_insert and self.returning:
            raise _NotPreparable(model.__name__)
        if compiler.get_converters([f.get_col(meta.db_table) for f in self.returning]):
            raise _NotPreparable(model.__name__)
        self.connection = connection
        self.sql, self.name = statement, None
        if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
            self.renew = lambda: _name(self, "smk_insert", statement, len(params))
            self.renew()


class PreparedInsert:
    """``insert(obj)`` does what ``obj.save(force_insert=True)`` does for a new row of a plain model
    (no parent model, no signal receivers, no database defaults), with its ``INSERT`` built once
    per process and, on PostgreSQL, prepared once per connection: for a lead's 25 columns the
    ORM's insert compiler cost ~0.2 ms a row. Each call still takes every value from the field
    (``pre_save``, ``get_db_prep_save``) and checks the related objects as ``save()`` does;
    anything it does not handle (a value that is an expression, a receiver of ``pre_save`` or
    ``post_save``) goes through ``save()``.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model

    def compiled(self, alias: str) -> _CompiledInsert | None:
        connection = connections[alias]
        cache = _statements(connection)
        if self not in cache:
            try:
                cache[self] = _CompiledInsert(self.model, connection)
            except _NotPreparable:
                cache[self] = None
        return cache[self]

    def __call__(self, obj: models.Model, *, using: str = "default") -> None:
        c = self.compiled(using)
        params = self.params(obj, c, using=using)
        if params is None:
            obj.save(force_insert=True, using=using)
            return
        connection = connections[using]
        with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
            _execute(cursor, connection, c, params)
            row = cursor.fetchone() if c.returning else None
        _inserted(obj, c.returning, row or (), using)

    def params(
        self, obj: models.Model, c: _CompiledInsert | None, *, using: str, unchecked: models.Field | None = None
    ) -> list | None:
        """The INSERT's parameters for ``obj``, or None when it must go through ``save()`` (no
        compiled statement, a signal receiver, a value that is an expression). ``unchecked``: a
        relation filled in by the statement itself (``PreparedInsertChain``), not checked here."""
        if type(obj) is not self.model:
            raise TypeError(f"PreparedInsert({self.model.__name__}) got a {type(obj).__name__}.")
        # New rows only: with a database-assigned id, one not yet given (save() would update).
        if not obj._state.adding or (self.model._meta.auto_field is not None and obj.pk is not None):
            raise ValueError("PreparedInsert inserts new rows only.")
        if c is None or pre_save.has_listeners(self.model) or post_save.has_listeners(self.model):
            return None
        fields = None if unchecked is None else [f for f in self.model._meta.concrete_fields if f is not unchecked]
        obj._prepare_related_fields_for_save(operation_name="save", fields=fields)
        connection = connections[using]
        values = [field.pre_save(obj, True) for field in c.fields]
        if any(hasattr(value, "resolve_expression") for value in values):
            return None
        return [field.get_db_prep_save(value, connection) for field, value in zip(c.fields, values, strict=True)]


def _inserted(obj: models.Model, returning: list, values: tuple | list, using: str) -> None:
    """``obj`` as ``save()`` leaves a new row: the database's values set, no longer adding."""
    for value, field in zip(values, returning, strict=False):
        setattr(obj, field.attname, value)
    obj._state.adding, obj._state.db = False, using


class _CompiledChain:
    """``WITH head AS (INSERT … RETURNING …), f1 AS (INSERT …), … SELECT …``: a row and the rows
    that refer to it, whose reference is ``(SELECT id FROM head)`` in the statement."""

    def __init__(self, head: _CompiledInsert, followers: list[tuple[_CompiledInsert, models.Field]], connection):
        pk = head.returning[0] if head.returning else None
        if pk is None or not pk.primary_key:
            raise _NotPreparable(head.sql)
        parts = [f"WITH head AS ({head.sql})"]
        self.returning_counts = [len(head.returning)]
        selected = ["head.*"]
        self.skipped: list[int] = []
        for n, (c, link) in enumerate(followers):
            position = c.fields.index(link)
            pieces = c.sql.split("%s")
            reference = f"(SELECT {connection.ops.quote_name(pk.column)} FROM head)"  # noqa: S608 (identifiers from code)
            sql = "%s".join(pieces[: position + 1]) + reference + "%s".join(pieces[position + 1 :])
            parts.append(f"f{n} AS ({sql})")
            self.skipped.append(position)
            self.returning_counts.append(len(c.returning))
            if c.returning:
                selected.append(f"f{n}.*")
        sources = ", ".join(["head"] + [f"f{n}" for n, (c, _) in enumerate(followers) if c.returning])
        self.sql = ",\n".join(parts) + f"\nSELECT {', '.join(selected)} FROM {sources}"
        self.returning = [head.returning] + [c.returning for c, _ in followers]
        count = self.sql.count("%s")
        self.name = None
        if connection.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
            self.renew = lambda: _name(self, "smk_chain", self.sql, count)
            self.renew()


class PreparedInsertChain:
    """``insert(obj, *rows)``: a new row and new rows that refer to it (a lead, its score row and
    its first stage change), as ``PreparedInsert`` would insert them one after the other, in one
    statement on PostgreSQL (a data-modifying ``WITH``): the followers' reference to ``obj`` is
    its id as the statement's first INSERT returns it. A round trip and a statement a row fewer
    (each statement cost PostgreSQL ≈ 0.1 ms a lead creation, whatever it did). Each follower
    model has one relation to ``obj``'s model, filled in here. Anything ``PreparedInsert`` would
    send through ``save()``, and every database without such statements, gets the inserts one
    by one instead.
    """

    def __init__(self, model: type[models.Model], *followers: type[models.Model]) -> None:
        self.head = PreparedInsert(model)
        self.followers = [PreparedInsert(follower) for follower in followers]
        self.links = []
        for follower in followers:
            [link] = [f for f in follower._meta.concrete_fields if f.is_relation and f.related_model is model]
            self.links.append(link)

    def compiled(self, alias: str) -> _CompiledChain | None:
        connection = connections[alias]
        cache = _statements(connection)
        if self not in cache:
            head = self.head.compiled(alias)
            followers = [insert.compiled(alias) for insert in self.followers]
            cache[self] = None
            if connection.vendor == "postgresql" and head is not None and None not in followers:
                with contextlib.suppress(_NotPreparable):
                    cache[self] = _CompiledChain(head, list(zip(followers, self.links, strict=True)), connection)
        return cache[self]

    def __call__(self, obj: models.Model, *rows: models.Model, using: str = "default") -> None:
        if len(rows) != len(self.followers):
            raise TypeError(f"PreparedInsertChain: {len(self.followers)} rows to follow, got {len(rows)}.")
        chain = self.compiled(using)
        params = None
        if chain is not None:
            params = self.head.params(obj, self.head.compiled(using), using=using)
            for insert, row, link, skip in zip(self.followers, rows, self.links, chain.skipped, strict=True):
                if params is None:
                    break
                own = insert.params(row, insert.compiled(using), using=using, unchecked=link)
                params = None if own is None else params + own[:skip] + own[skip + 1 :]
        if params is None:  # one by one, each as PreparedInsert (or save()) would
            self.head(obj, using=using)
            for insert, row, link in zip(self.followers, rows, self.links, strict=True):
                setattr(row, link.name, obj)
                insert(row, using=using)
            return
        connection = connections[using]
        with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
            _execute(cursor, connection, chain, params)
            values = list(cursor.fetchone())
        _inserted(obj, chain.returning[0], values[: chain.returning_counts[0]], using)
        values = values[chain.returning_counts[0] :]
        for row, link, returning, count in zip(
            rows, self.links, chain.returning[1:], chain.returning_counts[1:], strict=True
        ):
            setattr(row, link.name, obj)
            _inserted(row, returning, values[:count], using)
            values = values[count:]
