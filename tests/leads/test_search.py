"""The lead list's text search: whole words, the last one by its beginning (leads/search.py),
the same on PostgreSQL (its GIN index) and SQLite, through the API and the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from leads import search
from leads.models import Lead
from leads.search import lead_search, words
from tests.factories import LeadFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads"


@pytest.fixture
def people(org):
    for email, first, last, company in [
        ("jane.doe+news@acme.co.uk", "Jane", "Doe", "Acme Ltd"),
        ("j.smith@globex.test", "John", "Smith-Jones", "Globex (UK)"),
        ("maria@garcia-partners.test", "María", "García", "García & Partners"),
        ("sean@northwind.test", "Seán", "O'Brien", "Northwind"),
        ("ops@initech.test", "Ops", "Team", "Initech"),
        ("yamada@nbsp.test", "山田\u3000太郎", "Field", "Acme\xa0Logistics"),  # an ideographic, a no-break space
    ]:
        LeadFactory(organization=org, email=email, first_name=first, last_name=last, company_name=company)


def found(api, rep, search: str) -> set[str]:
    response = api(rep).get(URL, {"search": search})
    assert response.status_code == 200, response.content
    return {row["email"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("jane", {"jane.doe+news@acme.co.uk"}),
        ("JA", {"jane.doe+news@acme.co.uk"}),  # the start of a word, in any case
        ("acme", {"jane.doe+news@acme.co.uk", "yamada@nbsp.test"}),  # a word of a domain or a name
        ("news", {"jane.doe+news@acme.co.uk"}),  # the address's tag
        ("doe acme", {"jane.doe+news@acme.co.uk"}),  # every word, in any order
        ("acme doe", {"jane.doe+news@acme.co.uk"}),
        ("acme ja", {"jane.doe+news@acme.co.uk"}),  # the last word as a beginning
        ("ja acme", set()),  # the others as whole words
        ("jane jane", {"jane.doe+news@acme.co.uk"}),
        ("ja ja", set()),  # typed twice: once whole
        ("doe, jane", {"jane.doe+news@acme.co.uk"}),  # punctuation at a part's ends: a separator
        ("jane smith", set()),  # every word must match
        ("jane.doe@acme", set()),  # written with punctuation: must appear as written
        ("jane.doe+news@acme", {"jane.doe+news@acme.co.uk"}),
        ("jane.doe+news@acme.co.uk", {"jane.doe+news@acme.co.uk"}),  # the whole address
        ("smith-jones", {"j.smith@globex.test"}),
        ("jones", {"j.smith@globex.test"}),  # a word after a hyphen
        ("(uk)", {"jane.doe+news@acme.co.uk", "j.smith@globex.test"}),  # the brackets at its ends cut
        ("uk", {"jane.doe+news@acme.co.uk", "j.smith@globex.test"}),
        ("garcía", {"maria@garcia-partners.test"}),  # accents as written, upper or lower case
        ("GARCÍA &", {"maria@garcia-partners.test"}),
        ("garcia", {"maria@garcia-partners.test"}),  # the email's domain has it unaccented
        ("o'brien", {"sean@northwind.test"}),
        ("brien", {"sean@northwind.test"}),  # a word after an apostrophe
        # A no-break or ideographic space is no separator: the same on both databases.
        ("acme\xa0log", {"yamada@nbsp.test"}),
        ("logistics", set()),
        ("山田", {"yamada@nbsp.test"}),
        ("太郎", set()),
        ("ith", set()),  # inside a word: not a match
        ("nitech", set()),
    ],
)
def test_search_matches_words_the_last_by_its_beginning(api, rep, people, search, expected):
    assert found(api, rep, search) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("a & b", set()),
        ("!jane", {"jane.doe+news@acme.co.uk"}),  # punctuation at the ends cuts like a space
        ("jane:*", {"jane.doe+news@acme.co.uk"}),
        ("jane | smith", set()),
        ("\\", set()),
        ("100%", set()),
        ("a_b", set()),
        ("<->", set()),
        ("(x", set()),
        ("@@", set()),
        ("'", {"sean@northwind.test"}),  # only punctuation: as written (O'Brien)
    ],
)
def test_search_text_is_never_read_as_query_syntax(api, rep, people, search, expected):
    assert found(api, rep, search) == expected


def test_only_punctuation_searches_the_text_as_written(api, rep, people):
    assert found(api, rep, "+") == {"jane.doe+news@acme.co.uk"}


def test_the_page_searches_the_same_way(login, org, marketer, people):
    response = login(marketer).get(reverse("leads:lead_list"), {"q": "garcía part"})
    assert response.status_code == 200
    assert {lead.email for lead in response.context["page"]} == {"maria@garcia-partners.test"}


def test_another_organisations_leads_are_not_found(api, rep, people):
    LeadFactory(organization=OrganizationFactory(), email="jane@other.test", first_name="Jane")
    assert found(api, rep, "jane") == {"jane.doe+news@acme.co.uk"}


def test_words_are_cut_at_punctuation_and_spaces():
    assert words("Jane.Doe+news@Acme.co.uk  O'Brien (Acme)") == [
        "jane", "doe", "news", "acme", "co", "uk", "o", "brien", "acme"
    ]  # fmt: skip


def test_the_search_uses_the_words_index(people):
    # PostgreSQL only: the index (migration 0029) must be on the very expression the search
    # builds (leads.search.SearchWords), or every search reads the whole lead table.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # five leads: a scan would do, but not at scale
    plan = Lead.objects.filter(lead_search("doe acme")).explain()
    assert "Bitmap Index Scan on lead_words_idx" in plan, plan


@pytest.mark.parametrize(
    "text",
    [
        "jane.doe+news@acme.co.uk jane doe acme ltd",
        "a@b.c+d_e-f,g;h:i(j)k[l]m{n}o/p|q&r\"s!t?u<v>w#x*y=z~a'b\tc\nd\re",
        "back\\slash ^caret^ $dollar$ %percent% `tick` a]b[c-d",
        "山田\u3000太郎 acme\xa0logistics — “quoted” ünïcödé",
        "  many   spaces  ",
        "",
    ],
)
def test_postgresql_cuts_the_words_as_python_does(text):
    # The index's expression (leads.search.SearchWords, migration 0029) and words() must agree,
    # or a search cut in Python would look for words the index does not hold.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    expression = search._WORDS_SQL % {"expressions": "%s::text"}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression} = array_to_tsvector(%s::text[])", [text, words(text)])
        assert cursor.fetchone()[0]
