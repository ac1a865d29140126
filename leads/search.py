"""The lead list's text search: the words of a lead's name, email and company, the last word
of the search matched by its beginning.

A lead's ``search_text`` (email, first and last name, company name, lower-cased) is cut into
words at spaces and at the punctuation in ``SEPARATORS``: ``jane.doe+news@acme.co.uk`` gives
``jane``, ``doe``, ``news``, ``acme``, ``co``, ``uk``. A search cut the same way matches the
leads that have each of its words, in any order, the last one as the beginning of a word (as
one types: ``gar`` finds Garcia, ``acme ja`` finds Jane Doe at acme.co.uk, ``ja acme`` does
not). A part of the search written with punctuation (``jane.doe@acme``, ``smith-jones``) must
also appear in the lead's text as written.

Only the last word is a beginning because PostgreSQL's index finds a whole word by walking its
list of leads alongside the other words', but a word's beginning by collecting every lead of
every word that starts so: two common names both as beginnings took 17 ms, as words 2 ms.

Why words and not any text inside them (trigrams, until migration 0026): a lead has about
fifty trigrams and eight words, and the words' index is the cheaper to keep up on every lead
written. The CSV import of 1,000,000 leads went from 10,980 to 12,268 rows/s, on the means of
two runs and six (bench/README.md, CSV import). People search a CRM for names, companies and addresses by their
beginnings; ``ith`` no longer finds Smith, and ``doe jane`` now finds Jane Doe.

On PostgreSQL the words are a ``tsvector`` built with ``array_to_tsvector`` (no text-search
parser, no dictionary: the words as they are) and indexed by GIN (lead_words_idx, migrations
0026, 0027 and 0029); the search is a ``tsquery`` of words, the last one a prefix. On SQLite the
same match is a ``LIKE`` on the text with its words between spaces, by a function registered
on each connection.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, TextField, Value
from django.db.models.functions import Least, StrIndex
from django.db.models.lookups import Contains, GreaterThan

# Where words are cut, besides spaces: ASCII punctuation (the apostrophe included) and the
# tab and line breaks. Migration 0029's index repeats this list in its SQL: change both
# together (a test checks that the search uses the index). ASCII only: other characters, a
# no-break space included, stay inside a word, in Python (which cuts at " " only) as in
# PostgreSQL.
SEPARATORS = "@.+_-,;:()[]{}/|&\"!?<>#*=~'\t\n\r"
_TO_SPACES = str.maketrans(SEPARATORS, " " * len(SEPARATORS))
MAX_WORDS = 10  # the words of a search after the tenth are ignored


def _sql_literal(text: str) -> str:
    """``text`` as a PostgreSQL escape string, every character outside printable ASCII (and the
    quote and backslash) written as ``\\uXXXX``: nothing in it for SQL or Python to read."""
    escaped = "".join(c if " " <= c <= "~" and c not in "'\\%" else f"\\u{ord(c):04x}" for c in text)
    return f"E'{escaped}'"


# On PostgreSQL the separators become spaces by one regular expression (a character class),
# not translate(): translate() compares each character of the text with each separator in
# turn, 20 µs for a lead's 96 characters against 3 (bench/README.md, CSV import), and the index
# computes this for every lead written.
_SEPARATOR_CLASS = "[" + "".join(f"\\{c}" if c in "\\[]^-" else c for c in SEPARATORS) + "]"
_WORDS_SQL = (
    "array_to_tsvector(array_remove(string_to_array("
    f"regexp_replace(%(expressions)s, {_sql_literal(_SEPARATOR_CLASS)}, ' ', 'g'), ' '), ''))"
)


class SearchWords(Func):
    """The distinct words of a text as a ``tsvector`` (PostgreSQL; the expression of the index)."""

    template = _WORDS_SQL
    output_field = TextField()


class _Matches(Func):
    """``words @@ 'w1' & … & 'wn':*``: the lead has the search's words, the last as a beginning."""

    template = "%(expressions)s"
    arg_joiner = " @@ "
    output_field = BooleanField()


class _TsQuery(Func):
    template = "%(expressions)s::tsquery"
    output_field = TextField()


def words(text: str) -> list[str]:
    """The words of ``text`` as the search cuts them, lower-cased, in order (cut at " " only, as
    PostgreSQL's ``string_to_array`` does)."""
    return [word for word in text.lower().translate(_TO_SPACES).split(" ") if word]


def _query(whole: list[str], beginning: str) -> str:
    """A ``tsquery`` of the whole words and the beginning, each quoted: none is read as an operator."""

    def quoted(word: str) -> str:
        return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"

    return " & ".join([*(quoted(w) for w in whole), quoted(beginning) + ":*"])


def lead_search(search: str) -> Q:
    """The condition on leads for the list's search ``search`` (see the module's docstring)."""
    text = search.strip().lower()
    typed = words(text)[:MAX_WORDS]
    # Parts written with punctuation inside must appear as written ("jane.doe@acme",
    # "smith-jones"; not "doe," or "(uk)"): checked on the rows the words found.
    condition = Q()
    for part in text.split(" "):
        core = part.strip(SEPARATORS)
        if core.translate(_TO_SPACES) != core:
            condition &= Q(search_text__contains=core)
    if not typed:
        return Q(search_text__contains=text)  # only punctuation: the text as written, unindexed
    *before, beginning = typed
    whole = list(dict.fromkeys(before))  # "ja ja": "ja" whole, and "ja" a beginning
    if connection.vendor == "postgresql":
        # Each word is also in the text as written (a word starting with "garcia" has "garcia" in
        # it): a cheap test PostgreSQL makes before building a row's words, where it reads the
        # leads in the list's order rather than by the index (a common word: the first fifty
        # found soon). Building the words of 2,200 rows took 28 ms; the list's target is 50.
        # One clause, by strpos, not a LIKE per word: the planner then counts it once, at a
        # third, where LIKE's own estimate times the words' made it expect a few hundred leads
        # of 22,000 and read them with parallel workers (p50 117 ms against 3 ms without).
        positions = [StrIndex(F("search_text"), Value(word)) for word in dict.fromkeys(typed)]
        condition &= Q(GreaterThan(Least(*positions) if len(positions) > 1 else positions[0], 0))
        query = _query(whole, beginning)
        return Q(_Matches(SearchWords(F("search_text")), _TsQuery(Value(query)))) & condition
    spaced = Func(F("search_text"), function=SQLITE_WORDS_FUNCTION, output_field=TextField())
    for word in whole:
        condition &= Q(Contains(spaced, f" {word} "))
    return condition & Q(Contains(spaced, " " + beginning))


SQLITE_WORDS_FUNCTION = "smk_search_words"


def _spaced_words(text: str | None) -> str | None:
    """SQLite's ``smk_search_words``: the text's words between spaces (`` jane doe acme ``)."""
    return None if text is None else " " + " ".join(words(text)) + " "


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """On each new SQLite connection (the ``connection_created`` signal, LeadsConfig.ready)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_WORDS_FUNCTION, 1, _spaced_words, deterministic=True)
