from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from leads.models import ActivityEvent, Lead, StageChange
from leads.services import LeadInput, lead_create
from tests.factories import LeadFactory, MembershipFactory, PersonaFactory

pytestmark = pytest.mark.django_db


def rows(response):
    return list(response.context["page"])


@pytest.mark.parametrize("count", [5, 60])
def test_list_query_count_does_not_grow_with_page_size(login, org, marketer, django_assert_max_num_queries, count):
    persona = PersonaFactory(organization=org)
    for i in range(count):
        LeadFactory(organization=org, owner=marketer, persona=persona, email=f"l{i}@x.test")
    client = login(marketer)
    # Session, user, membership; the filter menus' campaigns, personas and members (which the rows
    # reuse); the page's leads with their company and score; stage wording; unread notifications.
    with django_assert_max_num_queries(9):
        response = client.get(reverse("leads:lead_list"))
    assert len(rows(response)) == min(count, 50)


def test_keyset_pages_walk_every_lead_once_without_counting(login, org, marketer, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(120):
        LeadFactory(organization=org, email=f"l{i}@x.test", created_at=now - timedelta(minutes=i % 7))
    client = login(marketer)
    seen, cursor = [], None
    while True:
        response = client.get(reverse("leads:lead_list"), {"cursor": cursor} if cursor else {})
        seen += [lead.pk for lead in rows(response)]
        cursor = response.context["page"].next_cursor
        if not cursor:
            break
    assert len(seen) == 120 and len(set(seen)) == 120


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"stage": "mql"}, {"hot@x.test"}),
        ({"q": "ACME"}, {"hot@x.test"}),
        ({"q": "smith"}, {"cold@x.test"}),
        ({"score_min": 50}, {"hot@x.test"}),
        ({"score_max": 10}, {"cold@x.test", "mine@x.test"}),
        ({"owner": "none"}, {"hot@x.test", "cold@x.test"}),
        ({"sort": "score"}, {"hot@x.test", "cold@x.test", "mine@x.test"}),
    ],
)
def test_filters(login, org, marketer, params, expected):
    # Names fixed: random ones could contain the search text.
    names = {"first_name": "Kim", "last_name": "Lee"}
    LeadFactory(
        organization=org, email="hot@x.test", company_name="Acme", lifecycle_stage="mql", total_score=80, **names
    )
    LeadFactory(
        organization=org, email="cold@x.test", first_name="Jo", last_name="Smith", company_name="Other", total_score=5
    )
    LeadFactory(organization=org, email="mine@x.test", company_name="Other", owner=marketer, **names)
    response = login(marketer).get(reverse("leads:lead_list"), params)
    assert {lead.email for lead in rows(response)} == expected


def test_owner_filter_and_invalid_filters_show_errors(login, org, marketer):
    LeadFactory(organization=org, email="mine@x.test", owner=marketer)
    LeadFactory(organization=org, email="other@x.test")
    client = login(marketer)
    assert {lead.email for lead in rows(client.get(reverse("leads:lead_list"), {"owner": marketer.pk}))} == {
        "mine@x.test"
    }
    response = client.get(reverse("leads:lead_list"), {"score_min": 50, "score_max": 10})
    assert "The upper score is below the lower one." in response.content.decode()


def test_created_range_uses_the_organisation_time_zone(login, org, marketer):
    org.time_zone = "Pacific/Auckland"
    org.save()
    LeadFactory(organization=org, email="late@x.test", created_at=timezone.now() - timedelta(days=40))
    recent = LeadFactory(organization=org, email="new@x.test")
    today = timezone.localtime(recent.created_at, timezone=__import__("zoneinfo").ZoneInfo("Pacific/Auckland")).date()
    response = login(marketer).get(reverse("leads:lead_list"), {"created_from": today - timedelta(days=1)})
    assert {lead.email for lead in rows(response)} == {"new@x.test"}


def test_export_all_matching_is_streamed_and_formula_safe(login, org, marketer):
    LeadFactory(organization=org, email="evil@x.test", first_name='=HYPERLINK("http://x")', lifecycle_stage="mql")
    LeadFactory(organization=org, email="other@x.test", lifecycle_stage="lead")
    response = login(marketer).get(reverse("leads:lead_export"), {"stage": "mql"})
    assert response["Content-Type"] == "text/csv"
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["email"] for r in table] == ["evil@x.test"]
    assert table[0]["first_name"].startswith("'=")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"stage": "mql", "score_min": "50", "score_max": "10"}, "The upper score is below the lower one."),
        ({"created_from": "2026-03-09", "created_to": "2026-03-01"}, "The end date is before the start date."),
        ({"moved_since": "2026-03-09", "moved_until": "2026-03-01"}, "The end date is before the start date."),
        ({"owner": "987654321"}, "Unknown owner."),
        ({"stage": "won"}, "Select a valid choice."),
        ({"score_min": "lots"}, "Enter a whole number."),
    ],
)
def test_export_with_invalid_filters_exports_nothing_and_shows_the_list_with_the_error(
    login, org, marketer, params, error
):
    """An invalid filter form filters by nothing: exported, that was every lead of the organisation."""
    LeadFactory(organization=org, email="hot@x.test", lifecycle_stage="mql", total_score=80)
    LeadFactory(organization=org, email="cold@x.test", total_score=5)
    client = login(marketer)
    response = client.get(reverse("leads:lead_export"), params)
    assert response.status_code == 302 and not response.streaming
    path, query = response["Location"].split("?", 1)
    assert path == reverse("leads:lead_list") and QueryDict(query).dict() == params  # the same filters, to correct
    page = client.get(response["Location"]).content.decode()
    assert "Nothing was exported: correct the filters first." in page and error in page


def test_bulk_export_exports_the_selection_and_never_more(login, org, other_org, marketer):
    picked = LeadFactory(organization=org, email="picked@x.test")
    LeadFactory(organization=org, email="not-picked@x.test")
    foreign = LeadFactory(organization=other_org, email="foreign@x.test")
    client = login(marketer)
    export = client.post(reverse("leads:lead_bulk"), {"action": "export", "leads": [picked.pk, foreign.pk]})
    table = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [r["email"] for r in table] == ["picked@x.test"]
    # Nothing selected, or something that is not a lead id: no file (not every lead), and the reason.
    back = f"{reverse('leads:lead_list')}?stage=mql"
    for leads in ([], [""], ["all"], ["-1"], [str(2**64)], [str(picked.pk), "*"]):
        response = client.post(reverse("leads:lead_bulk"), {"action": "export", "leads": leads, "next": back})
        assert response.status_code == 302 and not response.streaming and response["Location"] == back, leads
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Select a valid choice" in m for m in messages)


def test_bulk_assign_stage_and_export(login, org, marketer, rep):
    a, b = LeadFactory(organization=org), LeadFactory(organization=org, lifecycle_stage="customer")
    client = login(marketer)
    client.post(reverse("leads:lead_bulk"), {"action": "assign", "leads": [a.pk, b.pk], "owner": rep.pk})
    assert set(Lead.objects.values_list("owner", flat=True)) == {rep.pk}
    response = client.post(
        reverse("leads:lead_bulk"),
        {"action": "stage", "leads": [a.pk, b.pk], "to": "nurture", "reason": "Budget next year"},
        follow=True,
    )
    body = response.content.decode()
    assert "1 lead moved to Nurture" in body and b.email in body
    a.refresh_from_db()
    assert a.lifecycle_stage == "nurture"
    export = client.post(reverse("leads:lead_bulk"), {"action": "export", "leads": [a.pk]})
    assert b"".join(export.streaming_content).decode().count("\n") == 2


def test_bulk_ignores_other_organisations_leads(login, org, other_org, marketer, rep):
    foreign = LeadFactory(organization=other_org)
    login(marketer).post(reverse("leads:lead_bulk"), {"action": "assign", "leads": [foreign.pk], "owner": rep.pk})
    foreign.refresh_from_db()
    assert foreign.owner is None


def test_bulk_refuses_an_offsite_redirect(login, org, marketer):
    lead = LeadFactory(organization=org)
    response = login(marketer).post(
        reverse("leads:lead_bulk"), {"action": "assign", "leads": [lead.pk], "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("leads:lead_list")


@pytest.mark.parametrize("role", ["sales_rep", "partner"])
def test_reps_cannot_bulk_or_export_and_partners_see_no_leads(login, org, role):
    client = login(MembershipFactory(organization=org, role=role))
    assert client.get(reverse("leads:lead_export")).status_code == 403
    assert client.post(reverse("leads:lead_bulk"), {"action": "export"}).status_code == 403
    assert client.get(reverse("leads:lead_list")).status_code == (200 if role == "sales_rep" else 403)


def test_lead_page_shows_timeline_persona_messaging_and_recommendations(login, org, marketer, rep):
    from personas import services as persona_services
    from personas.services import AssetInput, PersonaInput

    persona = persona_services.persona_create(
        org=org,
        data=PersonaInput(
            name="Ops Oliver", title_keywords=["operations"], messaging={"decision": ("Prove the ROI", "")}
        ),
    )
    asset = persona_services.asset_save(
        org=org,
        data=AssetInput(
            title="ROI guide", asset_type="ebook", buyer_stage="decision", url="https://x.test", personas=[persona]
        ),
    )
    lead = lead_create(
        org=org, data=LeadInput(email="o@firm.test", title="Head of Operations", buyer_stage="decision"), actor=marketer
    )
    ActivityEvent.objects.create(
        organization=org,
        lead=lead,
        client_event_id="e1",
        event_type="pricing_view",
        occurred_at=timezone.now(),
        properties={"url": "https://site/pricing"},
    )
    body = login(rep).get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "Ops Oliver" in body and "Prove the ROI" in body and asset.title in body
    assert "Pricing view" in body and "https://site/pricing" in body and "New lead" in body


def test_create_edit_and_move_from_the_pages(login, org, marketer):
    client = login(marketer)
    response = client.post(reverse("leads:lead_create"), {"email": "new@firm.test", "first_name": "Nia"}, follow=True)
    lead = Lead.objects.get()
    assert "Lead new@firm.test created" in response.content.decode()
    duplicate = client.post(reverse("leads:lead_create"), {"email": "NEW@firm.test"})
    assert "already a lead" in duplicate.content.decode()
    client.post(reverse("leads:lead_edit", args=[lead.pk]), {"email": "new@firm.test", "title": "CTO"})
    lead.refresh_from_db()
    assert lead.title == "CTO"
    refused = client.post(reverse("leads:lead_move", args=[lead.pk]), {"to": "disqualified"}, follow=True)
    assert "Say why" in refused.content.decode()
    client.post(reverse("leads:lead_move", args=[lead.pk]), {"to": "disqualified", "reason": "Student"})
    assert StageChange.objects.filter(lead=lead, to_stage="disqualified", actor=marketer).exists()


def test_a_company_size_too_large_for_its_column_is_a_form_error(login, org, marketer):
    client = login(marketer)
    data = {"email": "new@firm.test", "company_size": "3000000000"}
    response = client.post(reverse("leads:lead_create"), data)
    assert response.status_code == 200
    assert "from 1 to 2,147,483,647" in " ".join(response.context["form"].errors["company_size"])
    assert not Lead.objects.exists()
    lead = lead_create(org=org, data=LeadInput(email="new@firm.test", company_size=20), rule="test")
    response = client.post(reverse("leads:lead_edit", args=[lead.pk]), data)
    assert response.status_code == 200 and response.context["form"].errors["company_size"]
    assert Lead.objects.get().company.size == 20


def test_lead_page_explains_the_score_even_after_a_rescore(login, org, marketer):
    from leads.models import ScoringModel
    from leads.rescoring import rescore_organization

    model = ScoringModel.objects.create(
        organization=org, version=1, status="active",
        fit_rules=[{"attribute": "title", "operator": "contains", "value": "cto", "points": 25, "label": "CTO"}],
        engagement_rules=[{"event_type": "pricing_view", "points": 15}],
    )  # fmt: skip
    lead = LeadFactory(organization=org, title="CTO")
    ActivityEvent.objects.create(
        organization=org, lead=lead, client_event_id="p", event_type="pricing_view", occurred_at=timezone.now()
    )
    rescore_organization(model=model)
    body = login(marketer).get(reverse("leads:lead_detail", args=[lead.pk])).content.decode()
    assert "CTO <strong>+25</strong>" in body and "Pricing view <strong>+15</strong>" in body


def test_list_rows_show_each_lead_escaped(login, org, marketer, rep):
    from leads.models import Company
    from tests.factories import CampaignFactory

    company = Company.objects.create(organization=org, name="Globex <Corp>")
    persona = PersonaFactory(organization=org, name="Ops & Oliver")
    campaign = CampaignFactory(organization=org, name="Spring <webinar>")
    lead = LeadFactory(
        organization=org,
        email="o'hara@x.test",
        first_name="<b>Kim</b>",
        last_name="O'Hara",
        company_name="",
        company=company,
        persona=persona,
        first_campaign=campaign,
        owner=rep,
        lifecycle_stage="mql",
        fit_score=20,
        engagement_score=12.5,
        total_score=33,
        created_at=timezone.make_aware(timezone.datetime(2026, 3, 4, 12)),
    )
    bare = LeadFactory(organization=org, email="bare@x.test", first_name="", last_name="", company_name="")

    html = login(marketer).get(reverse("leads:lead_list")).content.decode()
    detail = reverse("leads:lead_detail", args=[lead.pk])
    assert f'<a href="{detail}">&lt;b&gt;Kim&lt;/b&gt; O&#x27;Hara</a>' in html
    assert '<span class="muted small">o&#x27;hara@x.test</span>' in html
    assert "<td>Globex &lt;Corp&gt;</td>" in html  # the company's name when the lead has none of its own
    assert 'class="stage stage-mql"' in html
    assert '<td title="fit 20 + engagement 13"><strong>33</strong></td>' in html  # rounded half up
    assert "<td>Ops &amp; Oliver</td>" in html and "<td>Spring &lt;webinar&gt;</td>" in html
    assert f"<td>{rep.user}</td>" in html and "<td>4 Mar 2026</td>" in html
    assert f'value="{lead.pk}" aria-label="Select o&#x27;hara@x.test"' in html
    # A lead with no name shows its email as the link, and dashes for what it lacks.
    assert f'<a href="{reverse("leads:lead_detail", args=[bare.pk])}">bare@x.test</a></td><td>—</td>' in html
    # A sales rep may read the list but not act on many leads at once: no checkboxes.
    assert 'name="leads"' not in login(rep).get(reverse("leads:lead_list")).content.decode()


def test_list_reads_personas_campaigns_and_owners_once_even_those_not_in_its_menus(login, org, marketer, rep):
    from tests.factories import CampaignFactory, OrganizationFactory

    campaign = CampaignFactory(organization=org, name="Ours")
    theirs = CampaignFactory(organization=OrganizationFactory(), name="Theirs")
    LeadFactory(organization=org, email="a@x.test", owner=rep, first_campaign=campaign)
    rep.removed_at = timezone.now()  # no longer in the owner menu, still the lead's owner
    rep.save()
    client = login(marketer)
    response = client.get(reverse("leads:lead_list"), {"campaign": campaign.pk})
    assert [lead.email for lead in rows(response)] == ["a@x.test"]
    html = response.content.decode()
    assert f"<td>{rep.user}</td>" in html and "<td>Ours</td>" in html
    # Another organisation's campaign is not a choice: an error, not its leads.
    response = client.get(reverse("leads:lead_list"), {"campaign": theirs.pk})
    assert "Select a valid choice." in response.content.decode()


def test_lead_page_of_an_id_no_lead_can_have_is_not_found(login, org, marketer):
    client = login(marketer)
    for lead_id in (0, 2**63, 10**30):
        assert client.get(f"/leads/{lead_id}/").status_code == 404
    lead = LeadFactory(organization=org)
    response = client.get(reverse("leads:lead_detail", args=[lead.pk]))
    assert response.status_code == 200 and response.context["lead"].organization == org
