"""CSV import of leads: upload, column mapping, preview, and the streamed, idempotent import.

The flow: ``import_upload`` checks a file (size, encoding, header) and keeps it on a ``Job``
of kind import; ``suggest_mapping`` proposes a lead attribute for each column from header
names it knows (our own export, a HubSpot contacts export, a Salesforce leads export);
``import_preview`` shows the first rows as they would be imported; ``import_start`` saves the
mapping and queues ``leads.tasks.import_leads``, whose body is ``import_run``.

What ``import_run`` promises:

- **Streaming.** The stored file is read row by row (``csv`` over a text wrapper) and written
  in chunks of ``CHUNK_SIZE`` rows, each chunk committed before the job's progress records
  it: memory stays flat whatever the file's size, the progress bar moves chunk by chunk, and
  a crash loses nothing already committed. The next chunks are parsed and checked (pure
  Python) while the writers wait on the database for the current one: by a thread, or for a
  file of ``PARSER_PROCESS_MIN_ROWS`` rows or more by a child process (``_ParserProcess``),
  which leaves this process's interpreter lock to the writers. On PostgreSQL each chunk is
  written in parts by two connections at once (``_chunk_writer``): the database's share of
  the work, most of it, then uses both cores.
- **The rules of lead create.** Each row is checked by ``leads.services._validate``: the same
  rules, the columns' lengths included, as a page, the API, an event or a form. A row with a
  problem is not imported; each problem is a line of the errors CSV (the line number as in
  the file, the header being line 1). Formula-looking cells are stored as text: only an export can run
  them, and ``leads.exports.safe_cell`` neutralises them there (and in the errors CSV).
- **Cells as exports write them** (``NORMALISERS``, before the checks). A country given by
  its name, a common alias or a native name ("United Kingdom", "UK", "USA", "Deutschland")
  or its ISO 3166-1 code, alpha-2 or alpha-3, becomes its alpha-2 code (pycountry's ISO data
  plus ``COUNTRY_ALIASES``: one dictionary, built once per process, one or two lookups a
  cell); an employee band ("51-200", "10,001+") becomes its lower bound. An unknown country
  is a problem of its row like any other (the import has no notion of a warning, and a lead
  imported without its country would go unnoticed): the error names the value and says what
  is accepted, so the row can be fixed and imported again.
- **Dedupe by email**, case-insensitively. A lead that exists already is skipped, or with
  mode "update" given the row's non-empty values (empty cells never erase anything). A row
  whose email an earlier row of the file already created is not imported: it is reported as
  "Duplicate of line N". (Rows naming a lead that existed before the import each update it,
  in file order, or are each skipped.)
- **Idempotent.** Every lead the job creates gets its stage change (from none to ``lead``)
  with rule ``import:<job id>`` and the line it came from. Run again (a redelivered task, a
  retry after a crash), the job recognises its own leads by email and writes nothing twice;
  their rows still count as created by the job. The same file imported by another job
  creates nothing: every row then names an existing lead.
- **Set-based.** A chunk takes a fixed number of statements, not one per row: lookups by
  email and domain, then new companies, leads and stage changes in bulk (on PostgreSQL by
  ``COPY``, elsewhere by ``bulk_create``). Persona and fit score are worked out once per
  distinct combination of the data they read (``bench/import_csv.py`` measures it all).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import functools
import io
import itertools
import json
import logging
import marshal
import operator
import os
import pickle
import queue
import re
import select
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import IO, TypeVar

from django.conf import settings
from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, connection, connections, reset_queries, transaction
from django.db.models import JSONField, Model, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from leads.bulk_sql import copy_str, copy_value, pg_array_of, update_from_values, upsert_rows
from leads.exports import safe_cell
from leads.models import (
    BuyerStage,
    Company,
    Job,
    Lead,
    LeadScore,
    LeadScoreExplanation,
    ScoringModel,
    Seniority,
    StageChange,
    phone_key_for,
)
from leads.scoring import fit_points
from leads.services import (
    LeadInput,
    _apply,
    _validate,
    active_scoring_model,
    alias_lead_ids,
    company_domain_for,
    finds_company_anew,
    lead_attributes,
)
from personas.matching import match_persona
from personas.models import Persona
from personas.selectors import definitions_in_force
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org
from smarketing.collector import rare_collections
from smarketing.errors import Conflict, InvalidInput

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 500
CHUNK_SIZE = 5000  # rows per transaction; memory holds the chunks being written and those read ahead
FIT_CACHE_SIZE = 50_000
PREVIEW_ROWS = 10
ERROR_VALUE_CHARS = 200
NOT_TEXT = "The file is not UTF-8 text; save it as CSV UTF-8."
# Errors worth a retry of the whole task (storage or database briefly away); the job is
# marked failed meanwhile, and a retry picks up idempotently.
RETRYABLE_ERRORS = (OSError, OperationalError)


class Mode:
    """What an import does with a row whose email is already a lead."""

    SKIP = "skip"
    UPDATE = "update"
    CHOICES = [(SKIP, "Skip existing leads"), (UPDATE, "Update existing leads with the file's non-empty values")]


# The lead attributes a column can fill, in the order the mapping page offers them.
ATTRIBUTES = [
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("title", "Job title"),
    ("seniority", "Seniority"),
    ("phone", "Phone"),
    ("company_name", "Company name"),
    ("company_domain", "Company domain / website"),
    ("industry", "Industry"),
    ("company_size", "Company size (employees)"),
    ("country", "Country (name or ISO code)"),
    ("buyer_stage", "Buyer stage"),
]
ATTRIBUTE_LABELS = dict(ATTRIBUTES)

# Header names we recognise, compacted (lower case, letters and digits only): our own export,
# HubSpot's contacts export, Salesforce's leads report and Data Loader export, and common
# spellings. When two columns claim one attribute, the first (leftmost) gets it.
KNOWN_HEADERS = {
    "email": ["email", "emailaddress", "workemail", "businessemail", "primaryemail"],
    "first_name": ["firstname", "givenname", "forename"],
    "last_name": ["lastname", "surname", "familyname"],
    "title": ["title", "jobtitle", "position"],
    "seniority": ["seniority", "senioritylevel", "hsseniority"],
    "phone": [
        "phone",
        "phonenumber",
        "telephone",
        "workphone",
        "businessphone",
        "mobile",
        "mobilephone",
        "mobilephonenumber",
    ],
    "company_name": [
        "company",
        "companyname",
        "companyaccount",
        "account",
        "accountname",
        "organization",
        "organisation",
        "associatedcompany",
        "employer",
    ],
    "company_domain": ["companydomain", "companydomainname", "domain", "website", "websiteurl", "companywebsite"],
    "industry": ["industry"],
    "company_size": ["companysize", "numberofemployees", "noofemployees", "employees", "employeecount", "headcount"],
    "country": ["country", "countryregion", "countrycode"],
    "buyer_stage": ["buyerstage"],
}
_HEADER_TO_ATTRIBUTE = {name: attribute for attribute, names in KNOWN_HEADERS.items() for name in names}


T = TypeVar("T")


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _choice_lookup(choices: type) -> dict[str, str]:
    """Values and labels of a TextChoices, compacted, to the value ("C-level" → "c_level")."""
    lookup = {}
    for value, label in choices.choices:
        lookup[_compact(value)] = value
        lookup[_compact(label)] = value
    return lookup


SENIORITY_LOOKUP = _choice_lookup(Seniority)
BUYER_STAGE_LOOKUP = _choice_lookup(BuyerStage)
_LINE_IN_REASON = re.compile(r"line (\d+)")
_NOT_TEXT_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


# --- Upload: the file's encoding and header ---------------------------------------------


def detect_encoding(chunks: Iterable[bytes], again: Iterable[bytes]) -> str:
    """``utf-8-sig`` for UTF-8 (with or without a byte-order mark), else ``cp1252`` for a
    Windows/Latin-1 text file; anything else (UTF-16, a spreadsheet, binary) is refused.

    ``chunks`` and ``again`` are two passes over the same bytes: the second is read only when
    UTF-8 fails. cp1252 covers Latin-1's printable characters; the bytes where they differ
    (0x80–0x9F) are control characters in Latin-1, so a file needing Latin-1 is not text.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    empty = True
    try:
        for chunk in chunks:
            empty = empty and not chunk
            if b"\x00" in chunk:
                raise InvalidInput(NOT_TEXT, field="file")
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        pass
    else:
        if empty:
            raise InvalidInput("The file is empty.", field="file")
        return "utf-8-sig"
    for chunk in again:
        if _NOT_TEXT_BYTES.search(chunk):
            raise InvalidInput(NOT_TEXT, field="file")
        try:
            chunk.decode("cp1252")
        except UnicodeDecodeError:
            raise InvalidInput(NOT_TEXT, field="file") from None
    return "cp1252"


def sniff_delimiter(first_line: str) -> str:
    """The header line's separator: a comma, or the semicolon or tab some spreadsheets use."""
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_header(stream: IO[bytes], encoding: str) -> tuple[list[str], str, bool]:
    """The header's column names, the delimiter, and whether at least one row follows."""
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        first_line = text.readline()
        delimiter = sniff_delimiter(first_line)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader, [])
            has_rows = any(any(cells) for cells in _take(reader, 1000))
        except csv.Error as exc:
            raise InvalidInput(f"The file is not a readable CSV: {exc}.", field="file") from None
    finally:
        text.detach()
    return [name.strip() for name in header], delimiter, has_rows


def _take(reader: Iterator[T], count: int) -> Iterator[T]:
    return itertools.islice(reader, count)


@transaction.atomic
def import_upload(*, org: Organization, actor: Membership, upload: File, now: datetime | None = None) -> Job:
    """Check an uploaded CSV and keep it on a new import job (waiting for its column mapping)."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"The file is {upload.size / 1024 / 1024:.0f} MB; the limit is {MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
            field="file",
        )
    encoding = detect_encoding(upload.chunks(), upload.chunks())
    upload.seek(0)
    columns, delimiter, has_rows = _read_header(upload, encoding)
    upload.seek(0)
    if not any(columns):
        raise InvalidInput("The first line should name the columns (email, first name …); it is empty.", field="file")
    if len(columns) > MAX_COLUMNS:
        raise InvalidInput(f"The file has {len(columns)} columns; the limit is {MAX_COLUMNS}.", field="file")
    if not has_rows:
        raise InvalidInput("The file has a header but no rows to import.", field="file")
    original_name = (upload.name or "import.csv").rsplit("/", 1)[-1][:200]
    upload.name = "import.csv"  # the stored name is ours, not the uploader's
    return Job.objects.create(
        organization=org,
        kind=Job.Kind.IMPORT,
        created_by=actor,
        created_at=now or timezone.now(),
        file=upload,
        params={
            "file_name": original_name,
            "size": upload.size,
            "encoding": encoding,
            "delimiter": delimiter,
            "columns": columns,
        },
    )


# --- Mapping ----------------------------------------------------------------------------


def suggest_mapping(columns: list[str]) -> list[str]:
    """A lead attribute (or "" for ignore) for each column, from the header names we know."""
    taken: set[str] = set()
    mapping = []
    for name in columns:
        attribute = _HEADER_TO_ATTRIBUTE.get(_compact(name), "")
        if attribute in taken:
            attribute = ""
        taken.add(attribute)
        mapping.append(attribute)
    return mapping


def validate_mapping(mapping: list[str], columns: list[str]) -> None:
    """An import needs the email column, and each attribute from one column at most."""
    if len(mapping) != len(columns) or any(a and a not in ATTRIBUTE_LABELS for a in mapping):
        raise InvalidInput("Map each column to a lead attribute or ignore it.")
    if "email" not in mapping:
        raise InvalidInput("Choose the column that holds the email address: leads are matched by email.")
    for attribute in ATTRIBUTE_LABELS:
        used = [columns[i] or f"column {i + 1}" for i, a in enumerate(mapping) if a == attribute]
        if len(used) > 1:
            raise InvalidInput(f"{ATTRIBUTE_LABELS[attribute]} comes from {' and '.join(used)}: choose one column.")


@dataclass(frozen=True)
class Plan:
    """How to read one row: (column index, attribute) pairs and each attribute's header name."""

    pairs: tuple[tuple[int, str], ...]
    headers: dict[str, str]
    width: int
    # (column index, attribute, its normaliser or None): what parse_row does per cell, looked up once.
    steps: tuple[tuple[int, str, Callable[[str], object] | None], ...] = ()

    @classmethod
    def of(cls, columns: list[str], mapping: list[str]) -> Plan:
        pairs = tuple((i, a) for i, a in enumerate(mapping) if a)
        headers = {a: columns[i] or f"Column {i + 1}" for i, a in pairs}
        steps = tuple((i, a, NORMALISERS.get(a)) for i, a in pairs)
        return cls(pairs=pairs, headers=headers, width=len(columns), steps=steps)


# --- One row ----------------------------------------------------------------------------


@dataclass
class Problem:
    line: int
    column: str
    value: str
    message: str


def _domain(value: str) -> str:
    """A website or domain as a bare domain: "https://www.Acme.com/about" → "acme.com"."""
    value = value.strip().lower()
    if "//" in value:
        value = value.split("//", 1)[1]
    return value.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].removeprefix("www.")


_SIZE_BAND = re.compile(r"(\d+)(?:[-\u2013\u2014](\d+)|\+)")


def _size(value: str) -> int | None:
    """An employee count ("1,200", "1200.0"), or a band's lower bound ("51-200", "10,001+"),
    as LinkedIn and ZoomInfo exports give it; None when it is neither."""
    text = value.replace(",", "").replace("_", "").replace(" ", "").replace("\u00a0", "")
    try:
        number = float(text)
    except ValueError:
        band = _SIZE_BAND.fullmatch(text)
        if band is None or (band[2] is not None and int(band[2]) < int(band[1])):
            return None
        number = float(band[1])
    return int(number) if number.is_integer() and abs(number) < 2**31 else None


# Names and codes pycountry lacks, as exports and people write them (compared as _country_key).
COUNTRY_ALIASES = {
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "USA": "US",
    "United States of America": "US",
    "America": "US",
    "Russia": "RU",
    "Czech Republic": "CZ",
    "Holland": "NL",
    "UAE": "AE",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Vatican": "VA",
    "Palestine": "PS",
    "Kosovo": "XK",  # not in ISO 3166-1, but the code everyone uses
    "XK": "XK",
    # Native names seen in exports from local teams.
    "Deutschland": "DE",
    "España": "ES",
    "Italia": "IT",
    "Nederland": "NL",
    "Österreich": "AT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Belgique": "BE",
    "België": "BE",
    "Brasil": "BR",
    "México": "MX",
    "Polska": "PL",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Suomi": "FI",
    "Éire": "IE",
    "Türkiye": "TR",
    "Turkey": "TR",
}


def _country_key(text: str) -> str:
    """Letters only, without accents, case-folded: "U.S.A." → "usa", "Côte d'Ivoire" → "cotedivoire"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


@functools.cache
def country_codes() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code by country name, common and official name, alpha-2 and alpha-3
    code (pycountry's ISO data) and ``COUNTRY_ALIASES``: each case-folded and as _country_key.

    Built once per process, on first use (pycountry takes ~70 ms to import): a cell is then
    one or two dictionary lookups.
    """
    import pycountry

    names: list[tuple[str, str]] = []
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            if name := getattr(country, attribute, None):
                names.append((name, country.alpha_2))
    names.extend(COUNTRY_ALIASES.items())
    codes = {}
    for name, code in names:
        codes.setdefault(name.casefold(), code)
        codes.setdefault(_country_key(name), code)
    return codes


def _country(value: str) -> str | None:
    """A country name, alias or code as its ISO 3166-1 alpha-2 code; None when unknown."""
    codes = country_codes()
    return codes.get(value.casefold()) or codes.get(_country_key(value))


NOT_A_SIZE = "Company size is a number of employees."
# What a cell that a normaliser can't read gets as its problem (the default: NOT_A_SIZE).
NOT_READ = {
    "country": lambda value: (
        f"“{value[:100]}” is not a country we know: use its name in English (e.g. United Kingdom) "
        "or its ISO code (GB or GBR)."
    ),
}


# How a cell becomes the attribute's value (None: it can't).
def _seniority(value: str) -> str:
    return SENIORITY_LOOKUP.get(_compact(value), value)


def _buyer_stage(value: str) -> str:
    return BUYER_STAGE_LOOKUP.get(_compact(value), value)


# Module-level functions, not lambdas: a Plan goes to the parser process by pickle.
NORMALISERS = {
    "email": str.lower,
    "country": _country,
    "seniority": _seniority,
    "buyer_stage": _buyer_stage,
    "company_domain": _domain,
    "company_size": _size,
}


def parse_row(cells: list[str], plan: Plan, line: int, org: Organization) -> tuple[LeadInput, list[Problem]]:
    """The row as lead attributes (empty cells are "not given"), and its problems, if any."""
    values: dict[str, object] = {}
    problems: list[Problem] = []
    width = len(cells)
    for index, attribute, normalise in plan.steps:
        value = cells[index].strip() if index < width else ""
        if not value:
            continue
        if normalise is not None:
            normalised = normalise(value)
            if normalised is None:
                message = NOT_READ[attribute](value) if attribute in NOT_READ else NOT_A_SIZE
                problems.append(_problem(line, plan, attribute, value, message))
                continue
            value = normalised
        values[attribute] = value
    data = LeadInput(**values)
    if "email" not in values:
        problems.append(_problem(line, plan, "email", "", "A lead needs an email address."))
    try:
        _validate(org, data)  # the columns' lengths included
    except InvalidInput:
        # Rare: name every problem of the row, not only the first, by checking each value alone.
        raw = _raw_values(cells, plan)
        for attribute, value in values.items():
            try:
                _validate(org, LeadInput(**{attribute: value}))
            except InvalidInput as exc:
                problems.append(_problem(line, plan, attribute, raw[attribute], exc.message))
    return data, problems


def _raw_values(cells: list[str], plan: Plan) -> dict[str, str]:
    """The row's cells as given (stripped), by attribute: what a problem quotes."""
    width = len(cells)
    return {attribute: cells[index].strip() if index < width else "" for index, attribute in plan.pairs}


def _problem(line: int, plan: Plan, attribute: str, value: object, message: str) -> Problem:
    return Problem(line=line, column=plan.headers.get(attribute, attribute), value=str(value), message=message)


# --- Reading the stored file ------------------------------------------------------------


@dataclass(slots=True)
class Record:
    line: int
    cells: list[str]
    error: str = ""


@contextmanager
def _records(job: Job) -> Iterator[Iterator[Record]]:
    """The file's data rows with the line each starts on (the header is line 1); blank rows
    are left out. A row the csv module cannot read is a record with ``error`` set."""
    raw = job.file.storage.open(job.file.name, "rb")
    try:
        yield _read_records(raw, job.params["encoding"], job.params["delimiter"])
    finally:
        raw.close()


def _read_records(raw: IO[bytes], encoding: str, delimiter: str) -> Iterator[Record]:
    """``_records`` of a binary stream (the stored file, or its bytes piped to the parser process)."""
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    next(reader, None)
    yield from _numbered(reader)


def _numbered(reader) -> Iterator[Record]:
    previous = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, previous = previous + 1, reader.line_num
            yield Record(line=line, cells=[], error=f"The row could not be read: {exc}.")
            continue
        line, previous = previous + 1, reader.line_num
        if any(cells):
            yield Record(line, cells)


def _estimate_rows(job: Job) -> int:
    """Data rows in the file, counted cheaply by line ends (a quoted line break in a cell
    counts one too many; the job's total is set to the real count when it finishes)."""
    lines, last = 0, b""
    with job.file.storage.open(job.file.name, "rb") as raw:
        while block := raw.read(1 << 20):
            lines += block.count(b"\n")
            last = block
    if last and not last.endswith(b"\n"):
        lines += 1
    return max(lines - 1, 0)


# --- Preview ----------------------------------------------------------------------------


@dataclass
class PreviewRow:
    line: int
    values: list[object]  # in the order of the mapped columns
    problems: list[str]
    outcome: str


def import_preview(*, job: Job, mapping: list[str], mode: str, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows as they would be imported, with their problems and what would happen."""
    plan = Plan.of(job.params["columns"], mapping)
    parsed = []
    with _records(job) as records:
        for record in _take(records, limit):
            if record.error:
                parsed.append((record, None, [record.error]))
                continue
            data, problems = parse_row(record.cells, plan, record.line, job.organization)
            parsed.append((record, data, [f"{p.column}: {p.message}" for p in problems]))
    emails = [data.email for _, data, problems in parsed if data is not None and data.email and not problems]
    existing = set(
        Lead.objects.for_org(job.organization)
        .annotate(email_ci=Lower("email"))
        .filter(email_ci__in=emails)
        .values_list("email_ci", flat=True)
    )
    rows, seen = [], {}
    for record, data, problems in parsed:
        if problems:
            outcome = "not imported"
        elif data.email in seen:
            outcome = f"duplicate of line {seen[data.email]}"
        elif data.email in existing:
            outcome = "updates the existing lead" if mode == Mode.UPDATE else "skipped: already a lead"
        else:
            outcome = "new lead"
        if data is not None and data.email and not problems:
            seen.setdefault(data.email, record.line)
        values = [getattr(data, a) if data is not None else None for _, a in plan.pairs]
        rows.append(PreviewRow(line=record.line, values=values, problems=problems, outcome=outcome))
    return rows


# --- Start ------------------------------------------------------------------------------


@transaction.atomic
def import_start(*, job: Job, mapping: list[str], mode: str, now: datetime | None = None) -> Job:
    """Save the column mapping and queue the import (once: a second start is a conflict)."""
    from leads.tasks import import_leads

    validate_mapping(mapping, job.params["columns"])
    if mode not in (Mode.SKIP, Mode.UPDATE):
        raise InvalidInput("Choose whether existing leads are skipped or updated.", field="mode")
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status != Job.Status.PENDING or job.params.get("queued_at"):
        raise Conflict("This import has already been started.")
    job.params = {**job.params, "mapping": mapping, "mode": mode, "queued_at": (now or timezone.now()).isoformat()}
    job.save(update_fields=["params"])
    import_leads.delay_on_commit(job.pk)
    return job


# --- The import -------------------------------------------------------------------------


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def plus(self, other: Counts) -> Counts:
        return Counts(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})


@dataclass(slots=True)
class Row:
    line: int
    data: LeadInput
    email: str
    domain: str = ""  # the company domain, by lead_create's rule
    phone_key: str = ""
    text: str = ""  # on PostgreSQL, the row's own columns of a new lead in COPY format


@dataclass
class Parsed:
    """A chunk of records, read and checked: its valid rows, its problems and counts."""

    rows: list[Row]
    problems: list[Problem]
    counts: Counts
    # When the chunk goes to several writers: each row's group (``_groups``), numbered from 0
    # in the order the groups first appear.
    groups: list[int] | None = None


@dataclass
class Context:
    """What every chunk of one run needs, loaded once."""

    job: Job
    org: Organization
    mode: str
    plan: Plan
    rule: str
    personas: list[Persona]
    model: ScoringModel | None
    definitions_id: int | None
    now: datetime | None
    # Whether some lead may carry this job's rule: it ran before, or created leads in this run.
    # Until then the lookup of the job's own leads is skipped (a new job re-importing a file
    # would otherwise look up the stage changes of every lead the file names).
    may_own_leads: bool = True
    fit_uses_email_domain: bool = False
    # The company sizes the personas and fit rules compare with (``_size_key``); None when a
    # rule reads the size otherwise (equals, in …): then the size itself is the key.
    size_bounds: list[float] | None = None
    copy: bool = False  # PostgreSQL: new leads go by COPY, their text prepared while parsing
    writers: int = 1  # connections writing each chunk (``_chunk_writer``)
    scratch_lead: Lead = field(default_factory=Lead)
    scratch_company: Company = field(default_factory=Company)
    fit_lock: threading.Lock = field(default_factory=threading.Lock)
    fit_cache: dict[tuple, tuple[int | None, int, list[dict]]] = field(default_factory=dict)
    # The COPY text of each cached explanation (by the explanation's id; the explanation is
    # kept with it, so the id cannot be reused), cleared with the cache.
    explanation_text: dict[int, tuple[list[dict], str]] = field(default_factory=dict)


def import_run(*, job_id: int, chunk_size: int | None = None, now: datetime | None = None) -> Job:
    """Run an import job to the end: running → done, or failed with the reason.

    A job already done is left alone (a redelivered task). Anything else (waiting, running
    when a worker died, failed) runs from the top; rows already imported are recognised by
    email and not written twice. An unexpected error fails the job with its message and is
    logged, not raised: the job is the report, and what was committed stays. Errors worth a
    retry (``RETRYABLE_ERRORS``) are raised for the task's retry policy.
    """
    job = Job.objects.select_related("organization").get(pk=job_id, kind=Job.Kind.IMPORT)
    if job.status == Job.Status.DONE:
        return job
    if "mapping" not in job.params:
        raise Conflict("This import has no column mapping yet.")
    # Leads carry rule import:<job id> only if this job ran before: a first run need not look.
    ran_before = job.started_at is not None
    if job.errors_file:
        job.errors_file.delete(save=False)
    job.errors_file = ""
    job.status, job.started_at, job.finished_at, job.error = Job.Status.RUNNING, timezone.now(), None, ""
    job.done, job.result, job.total = 0, {}, None
    job.save(update_fields=["status", "started_at", "finished_at", "error", "done", "result", "total", "errors_file"])
    try:
        job.total = _estimate_rows(job)
        job.save(update_fields=["total"])
        with rare_collections():  # millions of short-lived objects, no cycles (smarketing.collector)
            counts = _run(job, chunk_size=chunk_size or CHUNK_SIZE, now=now, ran_before=ran_before)
    except Exception as exc:
        job.refresh_from_db(fields=["done", "result"])
        job.status, job.finished_at = Job.Status.FAILED, timezone.now()
        job.error = (
            f"The import stopped after {job.done} rows ({type(exc).__name__}: {exc}). "
            "The rows before that are imported; running it again carries on without duplicates."
        )[:2000]
        job.save(update_fields=["status", "finished_at", "error"])
        if isinstance(exc, RETRYABLE_ERRORS):
            raise
        logger.exception("Import job %s failed", job.pk)
        return job
    job.status, job.finished_at, job.total, job.done = Job.Status.DONE, timezone.now(), counts.rows, counts.rows
    job.result = counts.as_dict()
    job.save(update_fields=["status", "finished_at", "total", "done", "result", "errors_file"])
    return job


def _run(job: Job, *, chunk_size: int, now: datetime | None, ran_before: bool = True) -> Counts:
    org = job.organization
    ctx = Context(
        job=job,
        org=org,
        mode=job.params.get("mode", Mode.SKIP),
        plan=Plan.of(job.params["columns"], job.params["mapping"]),
        rule=f"import:{job.pk}",
        personas=list(Persona.objects.for_org(org).filter(archived_at=None).order_by("pk")),
        model=active_scoring_model(org),
        definitions_id=getattr(definitions_in_force(org=org, at=now or timezone.now()), "pk", None),
        now=now,
        may_own_leads=ran_before,
    )
    ctx.size_bounds = _size_bounds(ctx.personas, ctx.model)
    ctx.fit_uses_email_domain = bool(ctx.model) and any(
        rule.get("attribute") == "email_domain" for rule in ctx.model.fit_rules
    )
    ctx.copy = connection.vendor == "postgresql"
    # Several connections only outside a caller's transaction (the import's rows would not be
    # part of it) and where each can use a core of its own.
    ctx.writers = WRITERS if ctx.copy and not connection.in_atomic_block else 1
    if ctx.copy:
        _analyse_without_statistics(PROBED)
    counts = Counts()
    # Problems go to a temporary file as they are found (there may be a million of them).
    with tempfile.TemporaryFile() as raw_errors:
        errors_text = io.TextIOWrapper(raw_errors, encoding="utf-8-sig", newline="")
        try:
            errors = csv.writer(errors_text)
            errors.writerow(["line", "column", "value", "error"])
            with (
                _parsed_chunks(ctx, chunk_size) as chunks,
                _chunk_writer(ctx) as write,
            ):
                written_chunks = itertools.chain.from_iterable(map(write, itertools.chain(chunks, [None])))
                for parsed, written, duplicates in written_chunks:  # as each is written, in file order
                    counts = counts.plus(parsed.counts).plus(written)
                    _record_progress(ctx, counts)
                    if ctx.copy:
                        _analyse_without_statistics(PROBED)  # statistics that count no row yet
                    problems = sorted(parsed.problems + duplicates, key=lambda p: p.line)
                    for p in problems:
                        errors.writerow([p.line, safe_cell(p.column), safe_cell(_clip(p.value)), safe_cell(p.message)])
                    if settings.DEBUG:
                        reset_queries()  # with DEBUG on, Django keeps every statement: megabytes per chunk
            errors_text.flush()
        finally:
            errors_text.detach()
        if counts.errors or counts.duplicates:
            raw_errors.seek(0)
            job.errors_file.save(f"import-{job.pk}-errors.csv", File(raw_errors), save=False)
    return counts


PROBED = [Lead, Company, StageChange]  # the tables the import's probes read


def _analyse_without_statistics(models: list[type[Model]]) -> None:
    """``ANALYZE`` the tables whose statistics tell PostgreSQL nothing: never analysed (a new
    database, before autovacuum's first look), or analysed when they held pages but no live
    row (every lead deleted, or rows rolled back). Run before the first chunk and after each:
    once the import has written rows, the statistics count them and it finds nothing to do.

    Without statistics the planner cannot tell the email probe's unique index from the
    organisation's phone index, and picked the latter: every probe then filtered all of the
    organisation's leads (a 3,000-row file re-imported on a new database: 4–5 s of PostgreSQL
    against 19 ms once analysed). With pages but no live row at the last ``ANALYZE``, the
    planner takes the table for empty however many rows the import adds, and chose the phone
    index the same way (the 20,000-row import of the CI's tests crawled for minutes). A table
    with rows the planner scales by its pages; analysing a table that small takes milliseconds.
    """
    tables = [connection.ops.quote_name(model._meta.db_table) for model in models]  # as regclass reads them
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[])"
            " AND (reltuples < 0 OR reltuples = 0 AND relpages > 0)",
            [tables],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _clip(value: str) -> str:
    return value if len(value) <= ERROR_VALUE_CHARS else value[:ERROR_VALUE_CHARS] + "…"


PARSED_AHEAD = 2  # chunks parsed ahead of the writers: memory is (IN_FLIGHT + 1 + PARSED_AHEAD) chunks
# From this many rows (the job's estimate) the rows are parsed in a process of their own.
PARSER_PROCESS_MIN_ROWS = 50_000


@dataclass
class Parsing:
    """What parsing a chunk needs (picklable: the parser process gets it)."""

    plan: Plan
    org: Organization
    copy: bool  # prepare each new lead's COPY text too
    group: bool = False  # number each row's group (``_groups``): the chunk goes to several writers


@contextmanager
def _parsed_chunks(ctx: Context, chunk_size: int) -> Iterator[Iterator[Parsed]]:
    """The job's records in chunks, parsed and checked ahead of the writers.

    Reading, validating and formatting rows is pure Python and needs no database; writing a
    chunk is mostly waiting on the database. So the next chunks are parsed meanwhile: by a
    thread, or for a large file (``PARSER_PROCESS_MIN_ROWS``) by a process of its own
    (``_ParserProcess``), whose Python does not hold this one's interpreter lock while the
    writer threads wait for it between their statements (bench/README.md, CSV import). A
    bounded queue keeps the parsing at most ``PARSED_AHEAD`` chunks ahead: memory stays flat.
    """
    parsing = Parsing(plan=ctx.plan, org=ctx.org, copy=ctx.copy, group=ctx.writers > 1)
    chunks: queue.Queue = queue.Queue(maxsize=PARSED_AHEAD)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def parsed() -> Iterator[Parsed]:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    with ExitStack() as stack:  # closed last: the reader has stopped using the file or the child
        parser = None
        if (ctx.job.total or 0) >= PARSER_PROCESS_MIN_ROWS and settings.SETTINGS_MODULE:
            with suppress(OSError, RuntimeError):  # no process or thread to be had (a limit)
                parser = stack.enter_context(_ParserProcess(ctx.job, parsing, chunk_size))
            if parser is not None and not parser.started():  # it could not load Django here (settings)
                parser = None
            if parser is None:
                logger.warning("Import job %s: the parser process did not start; parsing in a thread.", ctx.job.pk)
        if parser is not None:
            source = parser.chunks()
        else:
            records = stack.enter_context(_records(ctx.job))
            source = (_parse_chunk(parsing, chunk) for chunk in iter(lambda: list(_take(records, chunk_size)), []))

        def read() -> None:
            try:
                for item in source:
                    if stop.is_set() or not put(item):
                        return
                put(None)
            except BaseException as exc:  # handed to the writer, which raises it as its own
                put(exc)

        reader = threading.Thread(target=read, name=f"import-{ctx.job.pk}-reader", daemon=True)
        reader.start()
        try:
            yield parsed()
        finally:
            stop.set()
            if parser is not None:
                parser.stop()  # the reader may be waiting for its next chunk
            reader.join()


def _parse_chunk(parsing: Parsing, records: list[Record]) -> Parsed:
    """Check a chunk's records (no database: this runs beside the writers)."""
    counts = Counts(rows=len(records))
    problems: list[Problem] = []
    rows: list[Row] = []
    for record in records:
        if record.error:
            problems.append(Problem(record.line, "", "", record.error))
            counts.errors += 1
            continue
        data, row_problems = parse_row(record.cells, parsing.plan, record.line, parsing.org)
        if row_problems:
            problems.extend(row_problems)
            counts.errors += 1
            continue
        row = Row(line=record.line, data=data, email=data.email)
        row.domain = company_domain_for(data, row.email)
        row.phone_key = phone_key_for(data.phone or "")
        if parsing.copy:
            row.text = _lead_text(row)
        rows.append(row)
    return Parsed(rows=rows, problems=problems, counts=counts, groups=_groups(rows) if parsing.group else None)


# --- The parser process -----------------------------------------------------------------
#
# A child interpreter (``subprocess``, not ``multiprocessing``: a Celery worker's pool processes
# are daemons, which multiprocessing does not let have children). It reads the file's bytes on
# its standard input, after a frame saying how to parse them, and writes frames to this process
# on what was its standard output (its own standard output goes to standard error before
# anything is imported, so nothing printed can get in between): "ready" once Django is loaded
# (a child that cannot load it leaves the parsing to a thread), each chunk parsed, then None,
# or the exception that stopped it. A frame is a marker, a length and a pickle. The file comes
# through this process, not from storage in the child: the child has the settings module but
# not this process's overrides (tests, a storage configured at run time).

_FRAME_HEAD = struct.Struct(">4sQ")
_FRAME_PICKLE = b"SMKP"
_FRAME_MARSHAL = b"SMKM"
_FRAME_MAX = 1 << 30
_READY = "ready"  # the child's first frame: Django is loaded
PARSER_START_TIMEOUT_S = 60.0  # loading Django takes the child about 0.6 s
_PARSER_COMMAND = (
    "import os; out = os.dup(1); os.dup2(2, 1); "
    "import django; django.setup(); from leads.imports import parser_main; parser_main(out)"
)
# A parsed chunk goes as plain tuples: unpickling 5,000 Row and LeadInput objects cost this
# process as much of its interpreter lock as parsing them (12.8 µs a row against 2.3). LeadInput
# is rebuilt from its values in field order, so every field must be an ordinary positional one
# (a test says so); the field names go in the header, and a child whose LeadInput differs (code
# updated on disk under a running worker) refuses. The tuples hold only strings, numbers and
# None, so they go by ``marshal``, which writes them in half pickle's time (1.2 µs a row
# against 2.5); anything else (the header, the end, an exception) by pickle.
_INPUT_FIELDS = tuple(f.name for f in dataclass_fields(LeadInput))
_input_values = operator.attrgetter(*_INPUT_FIELDS)  # a LeadInput's values in field order, as a tuple
_problem_values = operator.attrgetter(*(f.name for f in dataclass_fields(Problem)))
_counts_values = operator.attrgetter(*(f.name for f in dataclass_fields(Counts)))


def _packed(parsed: Parsed) -> tuple:
    rows = [(r.line, r.email, r.domain, r.phone_key, r.text, _input_values(r.data)) for r in parsed.rows]
    problems = [_problem_values(problem) for problem in parsed.problems]
    return rows, problems, _counts_values(parsed.counts), parsed.groups


def _unpacked(packed: tuple) -> Parsed:
    rows, problems, counts, groups = packed
    return Parsed(
        rows=[Row(line, LeadInput(*data), email, domain, key, text) for line, email, domain, key, text, data in rows],
        problems=[Problem(*problem) for problem in problems],
        counts=Counts(*counts),
        groups=groups,
    )


def _write_frame(stream: IO[bytes], item: object, *, plain: bool = False) -> None:
    """``item`` as a frame: by ``marshal`` if ``plain`` (tuples, lists, strings, numbers, None)
    and it can be, else by pickle."""
    mark, data = _FRAME_PICKLE, None
    if plain:
        with suppress(ValueError):  # something marshal does not take: pickle does
            mark, data = _FRAME_MARSHAL, marshal.dumps(item)
    if data is None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME_HEAD.pack(mark, len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> object:
    """The next frame's object; EOFError at the end of the stream, ParserStopped if it is no frame."""
    head = stream.read(_FRAME_HEAD.size)
    if len(head) < _FRAME_HEAD.size:
        raise EOFError
    mark, length = _FRAME_HEAD.unpack(head)
    if mark not in (_FRAME_PICKLE, _FRAME_MARSHAL) or length > _FRAME_MAX:
        raise ParserStopped("The parser process's output is garbled.")
    data = stream.read(length)
    if len(data) < length:
        raise EOFError
    if mark == _FRAME_MARSHAL:
        return marshal.loads(data)  # noqa: S302 (our own child's output, over a pipe)
    return pickle.loads(data)  # noqa: S301 (our own child's output, over a pipe)


class ParserStopped(RuntimeError):
    """The parser process ended without finishing the file, or could not be understood."""


class _ParserProcess:
    """The job's file parsed in chunks by a child process (see above). As a context manager:
    on the way out, whatever happened, the child is stopped and waited for."""

    def __init__(self, job: Job, parsing: Parsing, chunk_size: int) -> None:
        self.job = job
        self.child = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed command)
            [sys.executable, "-c", _PARSER_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=settings.BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE},
        )
        self.feeding: list[BaseException] = []  # what stopped the file's bytes going to the child
        self.finished = False  # the child sent its last frame
        header = (parsing, chunk_size, job.params["encoding"], job.params["delimiter"], _INPUT_FIELDS)
        self.feeder = threading.Thread(target=self._feed, args=[header], name=f"import-{job.pk}-feeder", daemon=True)
        try:
            self.feeder.start()
        except BaseException:  # no thread to be had: no child either
            self.child.kill()
            self.child.wait()
            raise

    def _feed(self, header: tuple) -> None:
        stdin = self.child.stdin
        try:
            _write_frame(stdin, header)
            with self.job.file.storage.open(self.job.file.name, "rb") as raw:
                while block := raw.read(1 << 20):
                    stdin.write(block)
        except BrokenPipeError:
            pass  # the child stopped: what it said, or its exit status, tells why
        except BaseException as exc:  # the file could not be read to its end: the import fails with this
            self.feeding.append(exc)
            self.child.kill()  # before its input ends: it must not take what it got for the whole file
        finally:
            with suppress(OSError):
                stdin.close()

    def started(self, timeout: float = PARSER_START_TIMEOUT_S) -> bool:
        """Whether the child loaded Django and said so (its first frame) within ``timeout``
        seconds; if not, it is stopped (and if the file could not be read, that is raised)."""
        ready, _, _ = select.select([self.child.stdout], [], [], timeout)
        try:
            if ready and _read_frame(self.child.stdout) == _READY:
                return True
        except (EOFError, ParserStopped):
            pass
        self._reap()
        return False

    def chunks(self) -> Iterator[Parsed]:
        while True:
            try:
                item = _read_frame(self.child.stdout)
            except EOFError:
                self._reap()
                raise ParserStopped(f"The parser process stopped (exit status {self.child.returncode}).") from None
            except Exception:  # garbled: stop it, or it waits for a reader forever
                self._reap()
                raise
            if item is None or isinstance(item, BaseException):
                self.finished = True  # its last word: it exits now
                self._reap()
                if item is None:
                    return
                raise item
            yield _unpacked(item)

    def _reap(self) -> None:
        """Stop the child (unless it finished), wait for it and for the feeder; what stopped the
        feeder, if anything, is the import's error."""
        self._wait()
        if self.feeding:
            raise self.feeding[0]

    def _wait(self) -> None:
        self.stop()
        self.child.wait()
        self.feeder.join()

    def stop(self) -> None:
        """Kill the child, unless it said it finished: then let it exit."""
        if self.finished:
            with suppress(subprocess.TimeoutExpired):
                self.child.wait(timeout=10)
        if self.child.poll() is None:
            self.child.kill()

    def __enter__(self) -> _ParserProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._wait()
        self.child.stdout.close()


def parser_main(out_fd: int) -> None:
    """The parser process's body (``_PARSER_COMMAND``); its frames go to ``out_fd``."""
    out = os.fdopen(out_fd, "wb")
    stdin = sys.stdin.buffer
    try:
        _write_frame(out, _READY)
        parsing, chunk_size, encoding, delimiter, fields = _read_frame(stdin)
        if fields != _INPUT_FIELDS:
            raise ParserStopped("The parser process runs other code than the import (a deploy under way?).")
        records = _read_records(stdin, encoding, delimiter)
        with rare_collections():
            while chunk := list(_take(records, chunk_size)):
                _write_frame(out, _packed(_parse_chunk(parsing, chunk)), plain=True)
        _write_frame(out, None)
    except BrokenPipeError:
        return  # the importer stopped reading (it failed, or was stopped)
    except BaseException as exc:
        exc.add_note(f"In the parser process:\n{traceback.format_exc()}")
        with suppress(BrokenPipeError):
            try:
                _write_frame(out, exc)
            except Exception:  # not picklable: its type and message are
                _write_frame(out, ParserStopped(f"{type(exc).__name__}: {exc}"))


WRITERS = 2  # on PostgreSQL, outside a caller's transaction: connections writing a chunk at once
IN_FLIGHT = 2  # chunks being written at once: a writer done with its part goes on to the next chunk's
DEADLOCK = "40P01"

Written = tuple["Parsed", Counts, list[Problem]]  # a chunk, what its rows did, its duplicates


@contextmanager
def _chunk_writer(ctx: Context) -> Iterator[Callable[[Parsed | None], Iterator[Written]]]:
    """A function that takes the chunks in file order, then None (the end), and yields each
    chunk once it is written, in file order, with what its rows did and the duplicates.

    On PostgreSQL, when the import is not part of a caller's transaction, each chunk is split
    into ``WRITERS`` parts, each written by a thread with its own connection and transaction
    (``_Pipeline``): the database's work on one part (``COPY``, index and foreign-key checks)
    runs beside the other's on another core. Otherwise the chunk is written there and then.
    """
    if ctx.writers < 2:

        def write_now(parsed: Parsed | None) -> Iterator[Written]:
            if parsed is not None:
                yield (parsed, *_write_part(ctx, parsed.rows))

        yield write_now
        return
    writers: list[_Writer] = []
    try:
        writers.extend(_Writer(ctx, index) for index in range(ctx.writers))
        yield _Pipeline(writers).write
    finally:
        for writer in writers:
            writer.stop()


@dataclass
class _InFlight:
    parsed: Parsed
    futures: list[Future | None]  # by writer: its part's, None if it got no rows
    keys: list[set[str]]  # by writer: the emails and company domains of its part


class _Pipeline:
    """Chunks written in parts by the writers, ``IN_FLIGHT`` chunks at a time.

    Rows that share an email or a company domain are in one part, in file order, so each lead
    and company is written as one writer would (``_groups``). A writer that has finished its
    part of a chunk goes on to its part of the next one while the other writer is still on
    the first (in lockstep, each waited for the slower part: 10% of the writers' time, plus
    the gap between chunks; bench/README.md, CSV import, seventh session). So that rows
    naming one lead or company still follow each other in file order across chunks, the
    rows of the next chunk linked to a part still being written go to that part's writer,
    behind it; rows linked to parts of both writers wait until those parts are committed.
    A lead or company made meanwhile by someone else (another import, a form) fails a part's
    insert, or deadlocks with it: the part is written again (``_write_part``).

    A chunk is done when all its parts are committed; chunks are reported done in file order
    (the job's progress counts only those), and a part that failed fails the import once
    every part handed out has finished.
    """

    def __init__(self, writers: list[_Writer]) -> None:
        self.writers = writers
        self.in_flight: list[_InFlight] = []

    def write(self, parsed: Parsed | None) -> Iterator[Written]:
        if parsed is None:
            while self.in_flight:
                yield self._finish_oldest()
            return
        while len(self.in_flight) >= IN_FLIGHT:
            yield self._finish_oldest()
        while (parts := self._parts(parsed)) is None:
            yield self._finish_oldest()  # rows linked to both writers' parts: let those finish
        futures: list[Future | None] = [
            writer.submit(part) if part else None for writer, part in zip(self.writers, parts, strict=True)
        ]
        keys = [_keys(part) for part in parts]
        self.in_flight.append(_InFlight(parsed, futures, keys))

    def _parts(self, parsed: Parsed) -> list[list[Row]] | None:
        """The chunk's rows by writer, in file order (see the class), or None if some rows are
        linked to parts of two writers still being written."""
        count = len(self.writers)
        groups = parsed.groups  # numbered while parsing: Parsing.group is set when there are writers
        writer_of = [_writer_for(group, count) for group in range(max(groups, default=-1) + 1)]
        busy = [
            (i, chunk.keys[i])
            for chunk in self.in_flight
            for i, future in enumerate(chunk.futures)
            if future is not None and not future.done()
        ]
        if busy:
            pinned: dict[int, int] = {}  # group → the writer it must go to
            for row, group in zip(parsed.rows, groups, strict=True):
                for i, keys in busy:
                    if (row.email in keys or row.domain in keys) and pinned.setdefault(group, i) != i:
                        return None
            for group, i in pinned.items():
                writer_of[group] = i
        parts: list[list[Row]] = [[] for _ in range(count)]
        for row, group in zip(parsed.rows, groups, strict=True):
            parts[writer_of[group]].append(row)
        return parts

    def _finish_oldest(self) -> Written:
        chunk = self.in_flight.pop(0)
        counts, problems, errors = Counts(), [], []
        for future in chunk.futures:
            if future is None:
                continue
            try:
                written, duplicates = future.result()
            except Exception as exc:  # raised below, once every part handed out has finished
                errors.append(exc)
                continue
            counts = counts.plus(written)
            problems.extend(duplicates)
        if errors:
            for later in self.in_flight:
                for future in later.futures:
                    if future is not None:
                        future.exception()  # waits; its own error, if any, comes after this one
            self.in_flight.clear()
            raise errors[0]
        return chunk.parsed, counts, problems


def _keys(rows: list[Row]) -> set[str]:
    """The emails and company domains of the rows."""
    keys = set(map(_email, rows))
    keys.update(map(_domain_of, rows))
    keys.discard("")
    return keys


_email = operator.attrgetter("email")
_domain_of = operator.attrgetter("domain")


def _writer_for(group: int, count: int) -> int:
    """The writer of a group of rows linked to no part still being written: groups are numbered
    in file order, so in turn, and the parts come out even."""
    return group % count


def _groups(rows: list[Row]) -> list[int]:
    """Each row's group, numbered from 0 in the order the groups first appear, such that rows
    sharing an email or a company domain are in the same group: each lead and each company is
    then written by one part only, from its rows in file order, as one writer would.

    The rows linked that way (an email's rows, the domains they name, those domains' other
    rows, …) are found with a disjoint-set forest over emails and domains (an email has an
    "@", a domain none, so one namespace holds both). This runs while parsing (in the parser
    process for a large file), not in the process whose threads write.
    """
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        top = key
        while (up := parent.get(top, top)) != top:
            top = up
        while key != top:  # point the path straight at the root: later finds are one step
            parent[key], key = top, parent[key]
        return top

    for row in rows:
        if row.domain:
            a, b = root(row.email), root(row.domain)
            if a != b:
                parent[a] = b
    numbers: dict[str, int] = {}
    return [numbers.setdefault(root(row.email), len(numbers)) for row in rows]


class _Writer:
    """A thread with its own database connection that writes the parts handed to it, in turn."""

    def __init__(self, ctx: Context, index: int) -> None:
        self.ctx = ctx
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"import-{ctx.job.pk}-writer-{index}", daemon=True)
        self.thread.start()

    def submit(self, rows: list[Row]) -> Future:
        future: Future = Future()
        self.work.put((rows, future))
        return future

    def stop(self) -> None:
        self.work.put(None)
        self.thread.join()

    def _loop(self) -> None:
        try:
            while (item := self.work.get()) is not None:
                rows, future = item
                try:
                    future.set_result(_write_part(self.ctx, rows))
                except BaseException as exc:  # handed to the coordinating thread
                    future.set_exception(exc)
                if settings.DEBUG:
                    reset_queries()  # this thread's connection keeps every statement otherwise
        finally:
            connections.close_all()  # this thread's connection


def _write_part(ctx: Context, rows: list[Row]) -> tuple[Counts, list[Problem]]:
    """Write rows in one transaction (``_write``).

    A lead or company with the same email or domain made meanwhile by someone else (another
    import, a form) fails the insert, or deadlocks with it: try again, and the second look
    finds it.
    """
    for attempt in range(3):
        try:
            with _unflushed_transaction(ctx):
                return _write(ctx, rows)
        except (IntegrityError, OperationalError) as exc:
            retry = isinstance(exc, IntegrityError) or getattr(exc.__cause__, "pgcode", None) == DEADLOCK
            if attempt == 2 or not retry:
                raise
    raise AssertionError("unreachable")


def _record_progress(ctx: Context, counts: Counts) -> None:
    with _unflushed_transaction(ctx):
        Job.objects.filter(pk=ctx.job.pk).update(done=counts.rows, result=counts.as_dict())


@contextmanager
def _unflushed_transaction(ctx: Context) -> Iterator[None]:
    """A transaction whose commit, on PostgreSQL, does not wait for the disk.

    The chunks' commits and then the progress that records them go to the same log in that
    order, so a crash that loses a chunk loses the progress after it too, and the re-run
    redoes it; the job's final save (synchronous) flushes everything before the job says done.
    """
    with transaction.atomic():
        if ctx.copy:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        yield


def _existing_ids(org: Organization, emails: list[str]) -> dict[str, int]:
    """Lead ids by lower-cased email, for the emails that are leads already."""
    if not emails:
        return {}
    if connection.vendor == "postgresql":
        # The email index, as long as the table has statistics (_analyse_without_statistics).
        found = dict(_probe(Lead, "id", "organization_id = %s AND upper(email) = upper(k.key)", [org.pk], emails))
    else:
        leads = Lead.objects.for_org(org).annotate(email_ci=Lower("email")).filter(email_ci__in=emails)
        found = dict(leads.values_list("email_ci", "pk"))
    # Another address of a lead (a record merged into it) is that lead: read only if there are any.
    if org.has_email_aliases and len(found) < len(emails):
        found |= alias_lead_ids(org, set(emails) - found.keys())
    return found


def _own_lines(ctx: Context, lead_ids: Iterable[int]) -> dict[int, int]:
    """The file line each of these leads was created from by this job, if this job created it."""
    ids = list(lead_ids)
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        found = _probe(StageChange, "reason", "lead_id = k.key AND rule = %s", [ctx.rule], ids, key_type="bigint")
    else:
        changes = StageChange.objects.filter(organization=ctx.org, rule=ctx.rule, lead_id__in=ids)
        found = changes.values_list("lead_id", "reason")
    lines = {}
    for lead_id, reason in found:
        match = _LINE_IN_REASON.search(reason)
        if match:
            lines[lead_id] = int(match.group(1))
    return lines


def _probe(
    model: type[Model], columns: str, condition: str, params: list, keys: list, *, key_type: str = "text"
) -> list[tuple]:
    """``(key, *columns)`` of the first ``model`` row matching ``condition`` for each key, by one
    index probe per key (PostgreSQL, ``LATERAL … LIMIT 1``).

    A plain ``IN`` list of 2,000 keys lets the planner choose a sequential scan, and during an
    import the table's statistics lag behind the rows the import itself adds: the probes keep
    each chunk's lookups at a few milliseconds whatever the table's size. The keys go as one
    array literal (``pg_array_of``): a list parameter would be an ``ARRAY[…]`` of a quoted
    constant per key, which PostgreSQL parses and types one by one.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"SELECT k.key, m.* FROM unnest(%s::{key_type}[]) AS k(key) "  # noqa: S608 (identifiers from code)
        f"CROSS JOIN LATERAL (SELECT {columns} FROM {table} WHERE {condition} LIMIT 1) AS m"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pg_array_of(key_type, keys), *params])
        return cursor.fetchall()


def _write(ctx: Context, rows: list[Row]) -> tuple[Counts, list[Problem]]:
    """Write a chunk's valid rows: new leads, updates (or skips) of existing ones; duplicates reported."""
    counts, duplicates = Counts(), []
    existing = _existing_ids(ctx.org, [row.email for row in rows])
    own = _own_lines(ctx, existing.values()) if ctx.may_own_leads else {}
    new_rows: list[Row] = []
    created_at_line: dict[str, int] = {}
    updates: list[tuple[int, Row]] = []
    company_rows: list[Row] = []  # in file order: a company's last non-empty values win
    current = _current_companies(existing.values()) if ctx.mode == Mode.UPDATE and existing else {}
    for row in rows:
        lead_id = existing.get(row.email)
        original = created_at_line.get(row.email) if lead_id is None else own.get(lead_id)
        if original is not None and original != row.line:
            message = f"Duplicate of line {original}; not imported."
            duplicates.append(Problem(row.line, ctx.plan.headers["email"], row.email, message))
            counts.duplicates += 1
        elif original is not None:
            counts.created += 1  # created by this job in an earlier run
        elif lead_id is None:
            created_at_line[row.email] = row.line
            new_rows.append(row)
            company_rows.append(row)
        elif ctx.mode == Mode.UPDATE:
            updates.append((lead_id, row))
            if finds_company_anew(row.data, current.get(lead_id)):
                company_rows.append(row)
        else:
            counts.skipped += 1
    now = ctx.now or timezone.now()
    companies = _companies(ctx, company_rows, now)
    if new_rows:
        ctx.may_own_leads = True
    counts.created += _create(ctx, new_rows, companies, now)
    updated = _update(ctx, updates, companies, now)
    counts.updated += updated
    counts.skipped += len(updates) - updated
    return counts, duplicates


def _create(ctx: Context, rows: list[Row], companies: dict[int, Facts | None], now: datetime) -> int:
    """New leads, their score rows (and fit explanations) and their first stage change, as
    lead_create makes them, a statement each."""
    if not rows:
        return 0
    if ctx.copy:
        return _copy_leads(ctx, rows, companies, now)
    leads: dict[str, list] = {name: [] for name in NEW_LEAD_COLUMNS}
    explanations: dict[int, dict] = {}  # one object per distinct fit explanation: serialised once
    fits: list[int] = []
    whys: list[dict] = []
    for row in rows:
        data, company = row.data, companies.get(row.line)
        title, seniority = data.title or "", data.seniority or ""
        persona_id, fit, why = _fit(ctx, title=title, seniority=seniority, email=row.email, company=company)
        for name, value in (
            ("email", row.email),
            ("first_name", data.first_name or ""),
            ("last_name", data.last_name or ""),
            ("title", title),
            ("seniority", seniority),
            ("phone", data.phone or ""),
            ("phone_key", row.phone_key),
            ("company_name", data.company_name or ""),
            ("company_id", company.pk if company else None),
            ("buyer_stage", data.buyer_stage or ""),
            ("persona_id", persona_id),
        ):
            leads[name].append(value)
        fits.append(fit)
        whys.append(explanations.get(id(why)) or explanations.setdefault(id(why), {"fit": why}))
    n = len(rows)
    leads |= {
        "organization_id": [ctx.org.pk] * n,
        "lifecycle_stage": [Lead.Stage.LEAD.value] * n,
        "created_at": [now] * n,
        "updated_at": [now] * n,
    }
    ids = _insert(Lead, leads)
    _insert(LeadScore, {"lead_id": ids, "organization_id": [ctx.org.pk] * n, "fit": fits, "total": fits})
    explained = [(pk, why) for pk, why in zip(ids, whys, strict=True) if why["fit"]]
    if explained:
        _insert(
            LeadScoreExplanation, {"lead_id": [pk for pk, _ in explained], "explanation": [w for _, w in explained]}
        )
    _insert(
        StageChange,
        {
            "organization_id": [ctx.org.pk] * n,
            "lead_id": ids,
            "from_stage": [""] * n,
            "to_stage": [Lead.Stage.LEAD.value] * n,
            "changed_at": [now] * n,
            "actor_id": [ctx.job.created_by_id] * n,
            "rule": [ctx.rule] * n,
            "reason": [f"Imported from line {row.line}" for row in rows],
            "total_score": fits,
            "definitions_version_id": [ctx.definitions_id] * n,
            "scoring_model_id": [ctx.model.pk if ctx.model else None] * n,
        },
    )
    return n


NEW_LEAD_COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "phone_key",
    "company_name",
    "company_id",
    "buyer_stage",
    "persona_id",
]
UPDATE_FIELDS = [
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "company_name",
    "buyer_stage",
    "company",
    "persona",
    "phone_key",  # set by _apply with the phone; compared by duplicate detection
    "updated_at",
]


def _update(ctx: Context, updates: list[tuple[int, Row]], companies: dict[int, Facts | None], now: datetime) -> int:
    """Give existing leads the rows' non-empty values, as lead_update does; how many rows changed
    a lead (the others are counted as skipped: nothing new)."""
    if not updates:
        return 0
    leads = Lead.objects.select_related("company", "score", "score_explanation_row").in_bulk(
        [lead_id for lead_id, _ in updates]
    )
    shared = {lead.company_id: _facts_of(lead.company) for lead in leads.values() if lead.company_id}
    facts = {pk: shared.get(lead.company_id) for pk, lead in leads.items()}
    before = {pk: _state(lead, facts[pk], lead.fit_score) for pk, lead in leads.items()}
    fits = {pk: lead.fit_score for pk, lead in leads.items()}
    described: dict[int, Facts] = {}  # companies whose industry, size or country rows changed
    for lead_id, row in updates:
        lead = leads[lead_id]
        _apply(lead, row.data)
        if row.line in companies:  # the row named another company, or the lead had none (finds_company_anew)
            facts[lead_id] = company = companies[row.line]
            lead.company_id = company.pk if company else None
        elif facts[lead_id] is not None and _fold(facts[lead_id], [row]):
            described[facts[lead_id].pk] = facts[lead_id]  # its company as it is, described
    if described:
        Company.objects.bulk_update(
            [Company(pk=f.pk, industry=f.industry, size=f.size, country=f.country) for f in described.values()],
            ["industry", "size", "country"],
        )
    # Leads sharing a described company see it as described (their fit reads it).
    facts = {pk: described.get(f.pk, f) if f is not None else None for pk, f in facts.items()}
    changed, explanations = [], []
    for pk, lead in leads.items():
        lead.persona_id, fits[pk], why = _fit(
            ctx, title=lead.title, seniority=lead.seniority, email=lead.email, company=facts[pk]
        )
        if _state(lead, facts[pk], fits[pk]) != before[pk]:
            lead.updated_at = now
            changed.append(lead)
            explanations.append((pk, json.dumps({**lead.score_explanation, "fit": why}, cls=DjangoJSONEncoder)))
    Lead.objects.bulk_update(changed, UPDATE_FIELDS)
    rowless = [lead for lead in changed if lead.current_score._state.adding]  # made around the services
    LeadScore.objects.bulk_create(
        [LeadScore(lead_id=lead.pk, organization_id=lead.organization_id) for lead in rowless], ignore_conflicts=True
    )
    # The total from the engagement as stored now, in the statement: scoring may be changing it.
    update_from_values(
        table=LeadScore._meta.db_table,
        columns=("lead_id", "fit"),
        rows=[(lead.pk, fits[lead.pk]) for lead in changed],
        join="lead_id",
        assignments="fit = v.fit, total = v.fit + CAST(ROUND(leads_leadscore.engagement) AS INTEGER)",
    )
    upsert_rows(
        table=LeadScoreExplanation._meta.db_table,
        columns=("lead_id", "explanation"),
        kinds=(None, "jsonb"),
        rows=explanations,
        conflict="lead_id",
    )
    changed_ids = {lead.pk for lead in changed}
    return sum(1 for lead_id, _ in updates if lead_id in changed_ids)


def _state(lead: Lead, company: Facts | None, fit: int) -> tuple:
    return (
        *(getattr(lead, name) for name in UPDATE_FIELDS[:7]),
        lead.company_id,
        (company.industry, company.size, company.country) if company else None,
        lead.persona_id,
        fit,
    )


def _current_companies(lead_ids: Iterable[int]) -> dict[int, Company | None]:
    """Each lead's company as far as ``finds_company_anew`` needs it (its domain and name)."""
    rows = Lead.objects.filter(pk__in=list(lead_ids)).values_list(
        "pk", "company_id", "company__domain", "company__name"
    )
    return {pk: Company(pk=cid, domain=domain, name=name) if cid else None for pk, cid, domain, name in rows}


def _fit(
    ctx: Context, *, title: str, seniority: str, email: str, company: Facts | None
) -> tuple[int | None, int, list[dict]]:
    """Persona (id), fit points and their explanation, as leads.services._rematch finds them.

    Both depend only on the lead's explicit data, so they are worked out once per distinct
    combination in a run (``match_persona`` and ``fit_points`` are pure given the preloaded
    personas and scoring model), on a scratch lead and company rather than new instances.
    """
    size = company.size if company else None
    key = (
        title,
        seniority,
        company.industry if company else "",
        _size_key(ctx, size),
        company.country if company else "",
        email.rsplit("@", 1)[-1] if ctx.fit_uses_email_domain else "",
    )
    found = ctx.fit_cache.get(key)
    if found is None:
        with ctx.fit_lock:  # the scratch lead is shared by the writers
            return _fit_uncached(ctx, key, email=email, company=company, size=size)
    return found


def _fit_uncached(
    ctx: Context, key: tuple, *, email: str, company: Facts | None, size: int | None
) -> tuple[int | None, int, list[dict]]:
    title, seniority = key[0], key[1]
    found = ctx.fit_cache.get(key)
    if found is None:
        if len(ctx.fit_cache) >= FIT_CACHE_SIZE:
            ctx.fit_cache.clear()
            ctx.explanation_text.clear()
        lead, scratch_company = ctx.scratch_lead, ctx.scratch_company
        lead.email, lead.title, lead.seniority = email, title, seniority
        if company is None:
            lead.company = None
        else:
            scratch_company.industry, scratch_company.size, scratch_company.country = key[2], size, key[4]
            lead.company = scratch_company
        lead.persona = match_persona(lead_attributes(lead), personas=ctx.personas)[0]
        fit, why = fit_points(lead, ctx.model)
        found = ctx.fit_cache[key] = (lead.persona_id, fit, why)
    return found


def _size_bounds(personas: list[Persona], model: ScoringModel | None) -> list[float] | None:
    """The company sizes persona matching and fit scoring compare a lead's with (persona
    ranges, ``gte``/``lte`` rules), sorted; None if a fit rule reads the size in another way."""
    bounds: set[float] = set()
    for persona in personas:
        if persona.company_size_min is not None or persona.company_size_max is not None:
            bounds.add(persona.company_size_min or 0)
            if persona.company_size_max is not None:
                bounds.add(persona.company_size_max)
    for rule in model.fit_rules if model else []:
        if rule.get("attribute") != "company_size" or rule.get("operator") == "is_set":
            continue
        if rule.get("operator") not in ("gte", "lte"):
            return None
        with suppress(TypeError, ValueError):  # a bound that is no number never matches (rule_matches)
            bounds.add(float(rule.get("value")))
    return sorted(bounds)


def _size_key(ctx: Context, size: int | None) -> object:
    """What of a company size persona and fit read: where it falls among the bounds they
    compare it with (below, equal to or above each), so that sizes 1,200 and 1,300 share one
    cached fit when no bound lies between them (a file of 100,000 companies has thousands
    of sizes, and a few ranges)."""
    bounds = ctx.size_bounds
    if size is None or bounds is None:
        return size
    return (bisect.bisect_left(bounds, size), bisect.bisect_right(bounds, size))


def _insert(model: type[Model], columns: dict[str, list], *, ignore_conflicts: bool = False) -> list[int]:
    """Insert rows given as columns (attribute name → values); their ids (none when conflicts
    are ignored: a row that would break a unique constraint is then left out).

    On PostgreSQL the rows go by ``COPY`` (ids drawn from the sequence first), or as arrays
    (``INSERT … SELECT FROM UNNEST … ON CONFLICT DO NOTHING``) when conflicts are ignored;
    Django's bulk_create prepares every value through its field, which at a million rows costs
    more than the database's own work, and its INSERT of literal arrays takes the database
    twice as long as COPY. Elsewhere (SQLite), bulk_create.
    """
    count = len(next(iter(columns.values())))
    if not count:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**{name: values[i] for name, values in columns.items()}) for i in range(count)]
        model.objects.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return [obj.pk for obj in objs]
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in columns]
    names = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        if ignore_conflicts:
            casts = ", ".join(f"%s::{field.db_type(connection).split('(')[0]}[]" for field in fields)
            params = [
                [json.dumps(v) for v in values] if isinstance(field, JSONField) else values
                for field, values in zip(fields, columns.values(), strict=True)
            ]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT * FROM UNNEST({casts}) "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                params,
            )
            return []
        ids = _next_ids(model, count)
        text = [[str(pk) for pk in ids]]
        text += [_copy_text(field, values) for field, values in zip(fields, columns.values(), strict=True)]
        data = io.StringIO("".join("\t".join(row) + "\n" for row in zip(*text, strict=True)))
        with connection.wrap_database_errors:  # a raw cursor call: map errors as Django does
            cursor.copy_expert(f"COPY {quote(meta.db_table)} ({quote(meta.pk.column)}, {names}) FROM STDIN", data)
    return ids


def _copy_text(field, values: list) -> list[str]:
    """Values in COPY's text format (tab-separated; backslash escapes; \\N for null)."""
    first = values[0]
    if all(value is first for value in values):  # organisation, stage, timestamps …: one value
        return [_copy_one(field, first)] * len(values)
    if isinstance(field, JSONField):
        # Rows often share one explanation object: serialise each object once.
        serialised: dict[int, str] = {}
        out = []
        for value in values:
            text = serialised.get(id(value))
            if text is None:
                text = serialised[id(value)] = _copy_one(field, value)
            out.append(text)
        return out
    return [_copy_one(field, value) for value in values]


def _copy_one(field, value) -> str:
    if value is not None and isinstance(field, JSONField):
        return copy_str(json.dumps(value))
    return copy_value(value)


# The new lead's columns in COPY order: the row's own (prepared while parsing), then
# those that need the database (company) or the run (persona, fit, stage, times).
LEAD_TEXT_COLUMNS = [
    "email",
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "phone_key",
    "company_name",
    "buyer_stage",
]
LEAD_COPY_COLUMNS = [
    "id",
    "organization_id",
    *LEAD_TEXT_COLUMNS,
    "company_id",
    "persona_id",
    "lifecycle_stage",
    "created_at",
    "updated_at",
]
SCORE_COPY_COLUMNS = ["lead_id", "organization_id", "fit", "engagement", "total"]
EXPLANATION_COPY_COLUMNS = ["lead_id", "explanation"]
STAGE_CHANGE_COPY_COLUMNS = [  # the id from the table's own default: nothing refers to it here
    "organization_id",
    "lead_id",
    "from_stage",
    "to_stage",
    "changed_at",
    "actor_id",
    "rule",
    "reason",
    "total_score",
    "definitions_version_id",
    "scoring_model_id",
]
NULL = "\\N"  # COPY's null


def _lead_text(row: Row) -> str:
    data = row.data
    values = (
        row.email,
        data.first_name or "",
        data.last_name or "",
        data.title or "",
        data.seniority or "",
        data.phone or "",
        row.phone_key,
        data.company_name or "",
        data.buyer_stage or "",
    )
    text = "\t".join(values)
    # Escaping is rare: check the joined line once, and escape value by value only if needed.
    if text.count("\t") != len(values) - 1 or "\\" in text or "\n" in text or "\r" in text:
        text = "\t".join(copy_str(value) for value in values)
    return text


def _copy_leads(ctx: Context, rows: list[Row], companies: dict[int, Facts | None], now: datetime) -> int:
    """``_create`` on PostgreSQL: the leads, their score rows, fit explanations and stage changes
    by COPY, each line put together from the row's prepared text and what the run adds (ids,
    company, persona, fit)."""
    n = len(rows)
    lead_ids = _next_ids(Lead, n)
    explanations, explanation_field = ctx.explanation_text, LeadScoreExplanation._meta.get_field("explanation")
    org, stamp, stage = ctx.org.pk, _copy_one(None, now), Lead.Stage.LEAD.value
    change_tail = "\t".join(
        _copy_one(None, value)
        for value in (stamp, ctx.job.created_by_id, ctx.rule)  # changed_at, actor, rule
    )
    change_end = "\t".join(
        _copy_one(None, value) for value in (ctx.definitions_id, ctx.model.pk if ctx.model else None)
    )
    leads, scores, explained, changes = [], [], [], []
    for lead_id, row in zip(lead_ids, rows, strict=True):
        company = companies.get(row.line)
        persona_id, fit, why = _fit(
            ctx, title=row.data.title or "", seniority=row.data.seniority or "", email=row.email, company=company
        )
        known = explanations.get(id(why))
        if known is None:
            known = explanations[id(why)] = (why, _copy_one(explanation_field, {"fit": why}))
        company_id = NULL if company is None else company.pk
        persona = NULL if persona_id is None else persona_id
        leads.append(f"{lead_id}\t{org}\t{row.text}\t{company_id}\t{persona}\t{stage}\t{stamp}\t{stamp}\n")
        scores.append(f"{lead_id}\t{org}\t{fit}\t0\t{fit}\n")
        if why:
            explained.append(f"{lead_id}\t{known[1]}\n")
        changes.append(
            f"{org}\t{lead_id}\t\t{stage}\t{change_tail}\tImported from line {row.line}\t{fit}\t{change_end}\n"
        )
    _copy(Lead, LEAD_COPY_COLUMNS, leads)
    _copy(LeadScore, SCORE_COPY_COLUMNS, scores)
    if explained:
        _copy(LeadScoreExplanation, EXPLANATION_COPY_COLUMNS, explained)
    _copy(StageChange, STAGE_CHANGE_COPY_COLUMNS, changes)
    return n


def _next_ids(model: type[Model], count: int) -> list[int]:
    """``count`` ids from the model's sequence, in one round trip and one row.

    The sequence is looked up once per statement: ``nextval(pg_get_serial_sequence(…))``
    looked it up again for every id, eight times the sequence's own cost (3.9 µs of
    PostgreSQL CPU an id against 0.5 µs).
    """
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
            "SELECT array_agg(nextval(s.seq)) FROM s, generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return cursor.fetchone()[0]


def _copy(model: type[Model], columns: list[str], lines: list[str]) -> None:
    meta, quote = model._meta, connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.copy_expert(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN", io.StringIO("".join(lines)))


@dataclass(slots=True)
class Facts:
    """What an import needs of a company: its id and the attributes fit scoring reads."""

    pk: int | None = None
    industry: str = ""
    size: int | None = None
    country: str = ""


def _facts_of(company: Company | None) -> Facts | None:
    return Facts(company.pk, company.industry, company.size, company.country) if company else None


def _companies(ctx: Context, rows: list[Row], now: datetime) -> dict[int, Facts | None]:
    """The company of each row (by line), found or created in bulk by domain, with the rows'
    industry, size and country applied (the last non-empty value in file order wins), as
    leads.services._company_for does one lead at a time. A row without a domain but with a
    company name gets a company of its own, as a lead created by hand does."""
    by_domain: dict[str, list[Row]] = {}
    domainless: list[Row] = []
    for row in rows:
        domain = row.domain
        if domain:
            by_domain.setdefault(domain, []).append(row)
        elif row.data.company_name:
            domainless.append(row)
    if not by_domain and not domainless:
        return {}
    found = _facts_by_domain(ctx.org, by_domain)
    missing = [domain for domain in by_domain if domain not in found]
    if missing:
        # A company made meanwhile by someone else wins; it is read back with the others.
        _insert(
            Company, _company_columns(ctx.org, missing, [by_domain[d] for d in missing], now), ignore_conflicts=True
        )
        found.update(_facts_by_domain(ctx.org, missing))
    stale = [facts for domain, facts in found.items() if _fold(facts, by_domain[domain])]
    if stale:
        Company.objects.bulk_update(
            [Company(pk=f.pk, industry=f.industry, size=f.size, country=f.country) for f in stale],
            ["industry", "size", "country"],
        )
    companies: dict[int, Facts | None] = {
        row.line: found[domain] for domain, domain_rows in by_domain.items() for row in domain_rows
    }
    if domainless:
        columns = _company_columns(ctx.org, [""] * len(domainless), [[row] for row in domainless], now)
        ids = _insert(Company, columns)
        for row, pk, industry, size, country in zip(
            domainless, ids, columns["industry"], columns["size"], columns["country"], strict=True
        ):
            companies[row.line] = Facts(pk, industry, size, country)
    return companies


def _company_columns(org: Organization, domains: list[str], rows: list[list[Row]], now: datetime) -> dict[str, list]:
    """Columns of new companies: named by their first row (else after the domain), with the rows' attributes."""
    columns: dict[str, list] = {name: [] for name in ("name", "industry", "size", "country")}
    for domain, company_rows in zip(domains, rows, strict=True):
        facts = Facts()
        _fold(facts, company_rows)
        columns["name"].append((company_rows[0].data.company_name or domain.split(".")[0].title()).strip()[:200])
        columns["industry"].append(facts.industry)
        columns["size"].append(facts.size)
        columns["country"].append(facts.country)
    n = len(domains)
    return {"organization_id": [org.pk] * n, "domain": domains, "created_at": [now] * n, **columns}


def _facts_by_domain(org: Organization, domains: Iterable[str]) -> dict[str, Facts]:
    domains = list(domains)
    if connection.vendor == "postgresql":
        condition = "organization_id = %s AND domain <> '' AND upper(domain) = upper(k.key)"
        rows = _probe(Company, "id, industry, size, country", condition, [org.pk], domains)
    else:
        companies = Company.objects.for_org(org).exclude(domain="").annotate(domain_ci=Lower("domain"))
        rows = companies.filter(domain_ci__in=domains).values_list("domain_ci", "pk", "industry", "size", "country")
    return {domain: Facts(pk, industry, size, country) for domain, pk, industry, size, country in rows}


def _fold(facts: Facts, rows: list[Row]) -> bool:
    """Apply the rows' company attributes in order; whether anything changed."""
    changed = False
    for row in rows:  # spelled out: it runs for every row of a file
        data = row.data
        if data.industry and data.industry != facts.industry:
            facts.industry, changed = data.industry, True
        if data.company_size is not None and data.company_size != facts.size:
            facts.size, changed = data.company_size, True
        if data.country and data.country != facts.country:
            facts.country, changed = data.country, True
    return changed


# --- Reads for the pages ----------------------------------------------------------------


def import_jobs(*, org: Organization) -> QuerySet[Job]:
    return Job.objects.for_org(org).filter(kind=Job.Kind.IMPORT).select_related("created_by__user")


def import_job_get(*, org: Organization, job_id: int) -> Job:
    return get_for_org(import_jobs(org=org), org=org, pk=job_id)


def import_sample(*, job: Job) -> list[str]:
    """The first data row's cells, to show beside each column on the mapping page."""
    with _records(job) as records:
        first = next(records, None)
    cells = first.cells if first else []
    return [cells[i] if i < len(cells) else "" for i in range(len(job.params["columns"]))]
