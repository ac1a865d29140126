"""Each SLA figure links to the records it counts: follow the link, find exactly those records.

One March 2026 in Berlin, built through the services: handoffs inside and outside the month
(one at 00:30 on 1 March local, which is still February in UTC), one accepted in March that
was made in February, one a manager moved in time and one moved after it breached, won and
lost deals inside and outside the month, and another organisation's MQL in the same days.
"""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.handoffs import handoff_accept, handoff_create, handoff_reassign, handoff_return
from leads.models import Lead
from leads.opportunities import opportunity_create, opportunity_lose, opportunity_win
from leads.services import lead_transition
from leads.touches import touch_log
from sla.compliance import compliance
from sla.deadlines import check_deadlines
from tests.factories import HandoffFactory, LeadFactory, MembershipFactory, TeamFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
MARCH = date(2026, 3, 1)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def rep2(org):
    rep2 = MembershipFactory(organization=org, role="sales_rep", user__email="rep2@acme.test", user__full_name="Zoe")
    TeamMemberFactory(team=TeamFactory(organization=org, name="Field"), membership=rep2)
    return rep2


@pytest.fixture
def march(org, sales, rep, rep2, manager, marketer, other_org):
    """The month's records, by name. Everything happens through the services at its own time."""
    org.time_zone = "Europe/Berlin"
    org.handoff_response_hours = 4
    org.save()

    def hand(name: str, when: datetime) -> object:
        return handoff_create(lead=LeadFactory(organization=org, email=f"{name}@x.test"), actor=marketer, now=when)

    def touch(handoff, actor, when: datetime, kind: str = "call") -> None:
        touch_log(lead=handoff.lead, actor=actor, kind=kind, outcome="no_answer", occurred_at=when, now=when)

    h = {}
    h["d"] = hand("d", at(2, 27, 10))  # made in February, accepted in March
    touch(h["d"], rep, at(2, 27, 11))
    h["a"] = hand("a", at(3, 1, 0, 30))  # Sunday 00:30 local: 28 Feb in UTC, in March here; due Mon 13:00
    touch(h["a"], rep, at(3, 2, 9, 30))
    touch(h["a"], rep, at(3, 2, 10), kind="email")  # two attempts
    handoff_accept(handoff=h["a"], actor=rep, now=at(3, 2, 10, 30))
    handoff_accept(handoff=h["d"], actor=rep, now=at(3, 2, 10))
    h["b"] = hand("b", at(3, 3, 10))  # due 14:00, touched two days late, returned
    touch(h["b"], rep, at(3, 5, 10))
    handoff_return(handoff=h["b"], actor=rep, reason="bad_contact_data", now=at(3, 5, 11))
    h["c"] = hand("c", at(3, 4, 10))  # never touched: breached
    h["e"] = hand("e", at(3, 10, 10))  # moved by a manager in time: held against nobody
    h["e2"] = handoff_reassign(handoff=h["e"], actor=manager, to=rep2, now=at(3, 10, 11))
    touch(h["e2"], rep2, at(3, 10, 12))
    handoff_accept(handoff=h["e2"], actor=rep2, now=at(3, 10, 12, 30))
    h["f"] = hand("f", at(3, 11, 10))  # breached, then moved: counts against its rep
    check_deadlines(now=at(3, 12, 10))
    h["f2"] = handoff_reassign(handoff=h["f"], actor=manager, to=rep2, now=at(3, 12, 10, 30))
    h["g"] = hand("g", at(4, 1, 0, 30))  # 31 March in UTC, April here
    for handoff in h.values():
        handoff.refresh_from_db()
    assert (h["c"].status, h["e"].status, h["f"].status) == ("breached", "reassigned", "reassigned")
    assert h["e"].breached_at is None and h["f"].breached_at is not None

    deals = {}
    deals["won"] = opportunity_create(
        lead=h["a"].lead, actor=rep, amount=Decimal(3000), currency=org.currency, expected_close_date=date(2026, 3, 20)
    )
    opportunity_win(
        opportunity=deals["won"], actor=rep, amount=Decimal(3000), currency=org.currency, close_date=date(2026, 3, 20)
    )
    deals["lost"] = opportunity_create(
        lead=h["d"].lead, actor=rep, amount=Decimal(500), currency=org.currency, expected_close_date=date(2026, 3, 9)
    )
    opportunity_lose(opportunity=deals["lost"], actor=rep, reason="price", close_date=date(2026, 3, 9))
    deals["april"] = opportunity_create(
        lead=h["e2"].lead, actor=rep2, amount=Decimal(700), currency=org.currency, expected_close_date=date(2026, 4, 3)
    )
    opportunity_win(
        opportunity=deals["april"], actor=rep2, amount=Decimal(700), currency=org.currency, close_date=date(2026, 4, 3)
    )

    # Another organisation, the same days: an MQL and a handoff that must never show.
    other_lead = LeadFactory(organization=other_org, email="other@x.test")
    lead_transition(lead=other_lead, to=Lead.Stage.MQL, rule="scoring v1", reason="scored", now=at(3, 5, 10))
    other = HandoffFactory(rep=MembershipFactory(organization=other_org, role="sales_rep"), created_at=at(3, 5, 10))
    return {"handoffs": h, "deals": deals, "other_lead": other_lead, "other_handoff": other}


def figure_links(page: str) -> dict[str, str]:
    """The figures' labels and where they link, as the SLA page shows them."""
    links = re.findall(r'<a href="([^"]+)" data-testid="figure-link"[^>]*>([^<]+)</a>', page)
    return {html.unescape(label): html.unescape(url) for url, label in links}


def listed_handoffs(client, url: str) -> dict[int, dict]:
    response = client.get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    rows = re.findall(r'data-handoff="(\d+)" data-touch="(\w+)" data-status="(\w+)"', page)
    assert 'data-testid="next-page"' not in page
    return {int(pk): {"touch": touch, "status": status} for pk, touch, status in rows}


def ids(*handoffs) -> set[int]:
    return {h.pk for h in handoffs}


def test_each_figure_of_the_organisation_links_to_exactly_what_it_counts(
    login, api, org, manager, rep, rep2, march, signed_agreement
):
    agreement = signed_agreement(
        MARCH, "10000", mql_target=10, sql_target=5, min_acceptance_percent=50, attempts_min=2, attempts_days=3
    )
    h = march["handoffs"]
    c = compliance(agreement)
    mqls, sqls, acceptance = c.marketing
    in_window, median, p90, attempts = c.sales
    assert (mqls.actual, sqls.actual) == (5, 3)
    assert (acceptance.numerator, acceptance.denominator) == (3, 4)
    assert (in_window.numerator, in_window.denominator) == (2, 6)
    assert (attempts.numerator, attempts.denominator) == (1, 6)
    assert c.revenue.numerator == 1

    client = login(manager)
    page = client.get(f"/sla/{agreement.pk}/").content.decode()
    links = figure_links(page)
    assert set(links) == {
        "MQLs delivered",
        "SQLs accepted",
        "Acceptance rate",
        "First touch within 4 business hours",
        "Median response",
        "p90 response",
        "2 attempts within 3 days",
        "Won revenue",
    }

    figures = api(manager).get(f"/api/v1/slas/{agreement.pk}/compliance").json()
    assert [f["url"] for f in figures["sales"]] == [links[f.label] for f in c.sales]

    # MQLs and SQLs: the lead list, moved to the stage in March (Berlin), this organisation only.
    mql_page = client.get(links["MQLs delivered"]).content.decode()
    assert "Leads moved to" in mql_page and "in March 2026" in mql_page
    listed = {int(pk) for pk in re.findall(r'href="/leads/(\d+)/"', mql_page)}
    assert listed == {h[k].lead_id for k in "abcef"} and len(listed) == mqls.actual
    assert march["other_lead"].pk not in listed
    assert f'href="/sla/{agreement.pk}/" data-testid="back"' in mql_page
    sql_page = client.get(links["SQLs accepted"]).content.decode()
    assert {int(pk) for pk in re.findall(r'href="/leads/(\d+)/"', sql_page)} == {h[k].lead_id for k in ("a", "d", "e")}

    # Acceptance: the four handoffs accepted or returned in March, three of them accepted.
    ended = listed_handoffs(client, links["Acceptance rate"])
    assert set(ended) == ids(h["a"], h["d"], h["e2"], h["b"])
    assert sum(r["status"] == "accepted" for r in ended.values()) == acceptance.numerator

    # First touch: the six decided handoffs made in March (not the one moved in time), two within.
    decided = listed_handoffs(client, links["First touch within 4 business hours"])
    assert set(decided) == ids(h["a"], h["b"], h["c"], h["e2"], h["f"], h["f2"])
    assert {pk for pk, r in decided.items() if r["touch"] == "within"} == ids(h["a"], h["e2"])
    assert len(decided) == in_window.denominator

    # Response times: the touched ones, each with its business hours (the middle and the slowest of three).
    assert links["Median response"] == links["p90 response"]
    assert set(listed_handoffs(client, links["Median response"])) == ids(h["a"], h["b"], h["e2"])
    touched_page = client.get(links["p90 response"]).content.decode()
    hours = sorted(map(float, re.findall(r'<td class="num">([\d.]+) h</td>', touched_page)))
    assert (median.actual, p90.actual) == (hours[1], hours[2])

    # Attempts: all six counted, one with two attempts within three days.
    attempts_page = client.get(links["2 attempts within 3 days"]).content.decode()
    assert set(re.findall(r'data-handoff="(\d+)"', attempts_page)) == {str(pk) for pk in decided}
    assert attempts_page.count("2 ✓") == attempts.numerator == 1

    # Revenue: the deal won in March, not the lost one nor April's.
    deals_page = client.get(links["Won revenue"]).content.decode()
    assert {int(pk) for pk in re.findall(r'href="/deals/(\d+)/"', deals_page)} == {march["deals"]["won"].pk}
    assert "Won deals closed in March 2026" in deals_page
    assert march["other_handoff"].pk not in decided


def test_the_handoff_list_says_what_it_shows_and_adds_it_up(login, manager, march, signed_agreement):
    agreement = signed_agreement(MARCH, "10000", attempts_min=2, attempts_days=3)
    client = login(manager)
    links = figure_links(client.get(f"/sla/{agreement.pk}/").content.decode())
    page = client.get(links["First touch within 4 business hours"]).content.decode()
    assert "Handoffs made in March 2026, decided (touched, or past due untouched)" in page
    assert "not counting those a manager moved before they breached" in page
    assert "6 handoffs: 2 first touched within the window" in page
    assert f'href="/sla/{agreement.pk}/" data-testid="back">← Back to the SLA' in page


def test_per_rep_and_per_team_numbers_link_to_their_handoffs(login, manager, rep, rep2, march, signed_agreement):
    agreement = signed_agreement(MARCH, "10000", attempts_min=2, attempts_days=3)
    h = march["handoffs"]
    c = compliance(agreement)
    by_rep = {r.rep: r for r in c.reps}
    client = login(manager)
    page = client.get(f"/sla/{agreement.pk}/").content.decode()
    for r in c.reps:
        assert html.escape(r.handoffs_url) in page
    mine = by_rep[rep]
    assert set(listed_handoffs(client, mine.handoffs_url)) == ids(h["a"], h["b"], h["c"], h["f"]) and mine.handoffs == 4
    decided = listed_handoffs(client, mine.decided_url)
    assert len(decided) == mine.decided and sum(r["touch"] == "within" for r in decided.values()) == mine.in_window
    assert set(listed_handoffs(client, mine.accepted_url)) == ids(h["a"])
    assert set(listed_handoffs(client, mine.returned_url)) == ids(h["b"])
    assert set(listed_handoffs(client, by_rep[rep2].handoffs_url)) == ids(h["e2"], h["f2"])

    teams = dict(c.teams)
    assert set(listed_handoffs(client, teams["Sales"].handoffs_url)) == ids(h["a"], h["b"], h["c"], h["f"])
    assert set(listed_handoffs(client, teams["Field"].decided_url)) == ids(h["e2"], h["f2"])


def test_a_team_agreement_links_to_its_reps_handoffs(login, org, manager, sales, march, signed_agreement):
    team = sales.team
    agreement = signed_agreement(MARCH, "10000", team=team, mql_target=3, sql_target=2)
    h = march["handoffs"]
    c = compliance(agreement)
    mqls, sqls, _ = c.marketing
    client = login(manager)
    links = figure_links(client.get(f"/sla/{agreement.pk}/").content.decode())

    made = listed_handoffs(client, links["MQLs delivered"])  # the handoffs its reps got, not reassigned
    assert set(made) == ids(h["a"], h["b"], h["c"]) and len(made) == mqls.actual
    accepted = listed_handoffs(client, links["SQLs accepted"])
    assert set(accepted) == ids(h["a"], h["d"]) and len(accepted) == sqls.actual
    decided = listed_handoffs(client, links["First touch within 4 business hours"])
    assert set(decided) == ids(h["a"], h["b"], h["c"], h["f"])  # Zoe (Field) is not in the team
    assert "for team Sales" in client.get(links["MQLs delivered"]).content.decode()
    deals_page = client.get(links["Won revenue"]).content.decode()
    assert {int(pk) for pk in re.findall(r'href="/deals/(\d+)/"', deals_page)} == {march["deals"]["won"].pk}
    assert "by team Sales" in deals_page


def test_a_rep_following_a_figure_sees_only_their_own_handoffs(login, rep, rep2, march, signed_agreement):
    agreement = signed_agreement(MARCH, "10000", attempts_min=2, attempts_days=3)
    h = march["handoffs"]
    client = login(rep2)
    links = figure_links(client.get(f"/sla/{agreement.pk}/").content.decode())
    page = client.get(links["First touch within 4 business hours"]).content.decode()
    assert "only your own handoffs are shown" in page
    assert set(map(int, re.findall(r'data-handoff="(\d+)"', page))) == ids(h["e2"], h["f2"])


def test_the_lead_api_filters_by_a_move_as_the_page_does(api, manager, march):
    h = march["handoffs"]
    response = api(manager).get(
        "/api/v1/leads", {"moved_to": "mql", "moved_since": "2026-03-01", "moved_until": "2026-03-31"}
    )
    assert response.status_code == 200
    assert {lead["id"] for lead in response.json()["results"]} == {h[k].lead_id for k in "abcef"}
    bad = api(manager).get("/api/v1/leads", {"moved_since": "2026-03-31", "moved_until": "2026-03-01"})
    assert bad.status_code == 400 and "moved_until" in bad.json()["errors"]


def test_another_organisations_team_or_rep_filters_nothing_in(login, manager, outsider, march):
    client = login(outsider)
    team = march["handoffs"]["a"].rep.team_memberships.get().team_id
    response = client.get("/handoffs/history/", {"team": team})
    assert response.status_code == 400 and 'data-testid="handoff-row"' not in response.content.decode()
    response = client.get("/handoffs/history/", {"rep": march["handoffs"]["a"].rep_id})
    assert response.status_code == 400
    theirs = client.get("/handoffs/history/").content.decode()
    assert set(map(int, re.findall(r'data-handoff="(\d+)"', theirs))) == {march["other_handoff"].pk}
    assert client.get("/deals/", {"team": team, "owner": ""}).status_code == 200  # ignored: no such team here


def test_a_back_link_must_be_one_of_ours(login, manager):
    client = login(manager)
    page = client.get("/handoffs/history/", {"back": "https://evil.test/sla/1/"}).content.decode()
    assert 'data-testid="back"' not in page
    page = client.get("/handoffs/history/", {"back": "//evil.test/"}).content.decode()
    assert 'data-testid="back"' not in page


def test_empty_states(login, manager, rep):
    assert "No handoffs yet" in login(manager).get("/handoffs/history/").content.decode()
    page = login(manager).get("/handoffs/history/", {"status": "accepted"}).content.decode()
    assert "No handoffs match these filters" in page and "Accepted handoffs" in page
    page = login(manager).get("/handoffs/history/", {"attempts": "met"})
    assert page.status_code == 400 and "Give the number of attempts" in page.content.decode()
    page = login(manager).get("/deals/", {"status": "won", "closed_from": "2026-03-01", "closed_to": "2026-03-31"})
    assert "No deals match" in page.content.decode()


def test_partners_cannot_read_the_handoff_list(login, partner_user):
    assert login(partner_user).get("/handoffs/history/").status_code == 403


def test_the_handoff_list_reads_a_page_in_a_constant_number_of_queries(login, org, manager, sales, rep):
    client = login(manager)
    url = "/handoffs/history/?created_from=2026-01-01&created_to=2026-12-31&counted=1&attempts_min=2&attempts_days=3"

    def add(n: int) -> None:
        for _ in range(n):
            HandoffFactory(rep=rep, created_at=at(3, 2, 10), first_touch_at=at(3, 2, 11))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    add(2)
    few = count()
    add(40)
    assert count() == few


def test_the_handoff_list_pages_by_fifty(login, org, manager, sales, rep):
    for _ in range(55):
        HandoffFactory(rep=rep, created_at=at(3, 2, 10))
    client = login(manager)
    first = client.get("/handoffs/history/", {"created_from": "2026-03-01", "created_to": "2026-03-31"})
    page = first.content.decode()
    shown = re.findall(r'data-handoff="(\d+)"', page)
    assert len(shown) == 50 and "55 handoffs" in page
    next_url = html.unescape(re.search(r'href="([^"]+)" data-testid="next-page"', page).group(1))
    rest = re.findall(r'data-handoff="(\d+)"', client.get(f"/handoffs/history/{next_url}").content.decode())
    assert len(rest) == 5 and not set(rest) & set(shown)
