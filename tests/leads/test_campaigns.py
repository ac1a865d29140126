from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import campaigns
from leads.campaigns import CampaignInput
from leads.models import Campaign
from smarketing.errors import InvalidInput
from tests.factories import CampaignFactory, LeadFactory, MembershipFactory, PersonaFactory

pytestmark = pytest.mark.django_db


def make_campaign(org, name="SaaS benchmark", **overrides):
    data = {"channel": "paid_social", **overrides}
    return campaigns.campaign_create(org=org, data=CampaignInput(name=name, **data))


def campaign_post(**overrides):
    data = {
        "name": "Ops webinar series",
        "channel": "webinar",
        "starts_on": "2025-03-01",
        "ends_on": "2025-04-30",
        "budget": "6000",
        "actual_cost": "6480.50",
        "utm_source": "webinar",
        "utm_medium": "email",
        "utm_campaign": "ops-webinars",
    }
    return {**data, **overrides}


def campaign_payload(**overrides):
    data = {
        "name": "Founders' free-trial push",
        "channel": "paid_search",
        "starts_on": "2025-01-10",
        "ends_on": "2025-03-31",
        "budget": "15000.00",
        "actual_cost": "13900.00",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "founder-free-trial",
    }
    return {**data, **overrides}


# --- Services -------------------------------------------------------------------------


def test_create_trims_utm_values_and_the_creator_owns_it(org, marketer):
    campaign = campaigns.campaign_create(
        org=org,
        data=CampaignInput(
            name="  Q3 webinars ",
            channel="webinar",
            budget=Decimal("5000"),
            utm_source=" Webinar ",
            utm_medium="email ",
            utm_campaign=" q3-webinars",
        ),
        actor=marketer,
    )
    campaign.refresh_from_db()
    assert campaign.name == "Q3 webinars" and campaign.owner == marketer
    assert (campaign.utm_source, campaign.utm_medium, campaign.utm_campaign) == ("Webinar", "email", "q3-webinars")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "   "}, "name", "Give the campaign a name"),
        ({"name": "x" * 201}, "name", "200 characters"),
        ({"channel": "carrier_pigeon"}, "channel", "Unknown channel"),
        ({"starts_on": date(2025, 5, 1), "ends_on": date(2025, 4, 30)}, "ends_on", "before it starts"),
        ({"budget": Decimal("-1")}, "budget", "0 or more"),
        ({"actual_cost": Decimal("-0.01")}, "actual_cost", "0 or more"),
        ({"budget": Decimal("10000000000")}, "budget", "largest amount"),
        ({"utm_source": "s" * 101}, "utm_source", "100 characters"),
        ({"utm_medium": "m" * 101}, "utm_medium", "100 characters"),
        ({"utm_campaign": "c" * 101}, "utm_campaign", "100 characters"),
    ],
)
def test_invalid_input_is_refused_with_its_field_and_nothing_is_created(org, overrides, field, message):
    data = {"name": "Spring push", "channel": "email", **overrides}
    with pytest.raises(InvalidInput, match=message) as exc:
        campaigns.campaign_create(org=org, data=CampaignInput(**data))
    assert exc.value.field == field
    assert not Campaign.objects.exists()


def test_a_one_day_campaign_and_free_campaigns_are_fine(org):
    campaign = make_campaign(
        org, starts_on=date(2025, 5, 1), ends_on=date(2025, 5, 1), budget=Decimal(0), actual_cost=Decimal(0)
    )
    assert campaign.ends_on == campaign.starts_on and campaign.actual_cost == 0


def test_names_are_unique_per_organisation_ignoring_case(org, other_org):
    make_campaign(org, "SaaS Benchmark")
    make_campaign(other_org, "SaaS Benchmark")  # another organisation may use it
    with pytest.raises(InvalidInput, match="already a campaign") as exc:
        make_campaign(org, " saas benchmark ")
    assert exc.value.field == "name"
    assert Campaign.objects.for_org(org).count() == 1


def test_persona_and_owner_must_belong_to_the_organisation(org, other_org, outsider):
    foreign_persona = PersonaFactory(organization=other_org)
    with pytest.raises(InvalidInput) as exc:
        make_campaign(org, target_persona=foreign_persona)
    assert exc.value.field == "target_persona"
    with pytest.raises(InvalidInput) as exc:
        make_campaign(org, owner=outsider)
    assert exc.value.field == "owner"
    assert not Campaign.objects.exists()


def test_archived_persona_and_departed_owner_are_refused_but_kept_where_already_set(org, marketer):
    persona = PersonaFactory(organization=org)
    campaign = make_campaign(org, target_persona=persona, owner=marketer)
    persona.archived_at = timezone.now()
    persona.save()
    marketer.removed_at = timezone.now()
    marketer.save()
    with pytest.raises(InvalidInput, match="archived") as exc:
        make_campaign(org, "Another", target_persona=persona)
    assert exc.value.field == "target_persona"
    with pytest.raises(InvalidInput, match="left") as exc:
        make_campaign(org, "Another", owner=marketer)
    assert exc.value.field == "owner"
    # Editing the campaign that already points at them keeps them.
    data = CampaignInput.from_campaign(campaign)
    data.budget = Decimal("100")
    updated = campaigns.campaign_update(campaign=campaign, data=data)
    assert (updated.target_persona, updated.owner, updated.budget) == (persona, marketer, Decimal("100"))


def test_a_utm_triple_names_one_campaign_per_organisation(org, other_org):
    make_campaign(org, "Benchmark", utm_source="linkedin", utm_medium="paid_social", utm_campaign="benchmark")
    make_campaign(other_org, "Theirs", utm_source="linkedin", utm_medium="paid_social", utm_campaign="benchmark")
    with pytest.raises(InvalidInput, match="Benchmark") as exc:
        make_campaign(org, "Copy", utm_source=" LinkedIn", utm_medium="Paid_Social", utm_campaign="BENCHMARK ")
    assert exc.value.field == "utm_campaign"
    assert Campaign.objects.for_org(org).count() == 1
    # A different value in any of the three is another triple.
    make_campaign(org, "Retargeting", utm_source="linkedin", utm_medium="paid_social", utm_campaign="retarget")


def test_campaigns_without_utm_values_do_not_clash(org):
    make_campaign(org, "Roundtable", channel="event")
    make_campaign(org, "Referral push", channel="referral")
    assert Campaign.objects.for_org(org).count() == 2


def test_update_keeps_its_own_name_and_utm_but_not_another_campaigns(org):
    make_campaign(org, "Benchmark", utm_source="linkedin", utm_medium="social", utm_campaign="bench")
    webinar = make_campaign(org, "Webinar", utm_source="webinar", utm_medium="email", utm_campaign="ops")
    data = CampaignInput.from_campaign(webinar)
    data.name, data.actual_cost = "webinar", Decimal("900")  # a change of case only is no clash with itself
    assert campaigns.campaign_update(campaign=webinar, data=data).actual_cost == Decimal("900")
    data = CampaignInput.from_campaign(webinar)
    data.utm_source, data.utm_medium, data.utm_campaign = "LINKEDIN", "social", "bench"
    with pytest.raises(InvalidInput) as exc:
        campaigns.campaign_update(campaign=webinar, data=data)
    assert exc.value.field == "utm_campaign"
    data = CampaignInput.from_campaign(webinar)
    data.name = "benchmark"
    with pytest.raises(InvalidInput) as exc:
        campaigns.campaign_update(campaign=webinar, data=data)
    assert exc.value.field == "name"
    webinar.refresh_from_db()
    assert (webinar.name, webinar.utm_source) == ("webinar", "webinar")


def test_list_counts_first_touch_leads_and_cost_per_lead(org, other_org):
    paid = make_campaign(org, "Paid", actual_cost=Decimal("1000"))
    later = make_campaign(org, "Later touch", actual_cost=Decimal("500"))
    make_campaign(org, "No cost")
    LeadFactory.create_batch(3, organization=org, first_campaign=paid, latest_campaign=later)
    by_name = {c.name: c for c in campaigns.campaign_list(org=org)}
    assert by_name["Paid"].lead_count == 3
    assert round(by_name["Paid"].cost_per_lead, 2) == 333.33
    assert by_name["Later touch"].lead_count == 0 and by_name["Later touch"].cost_per_lead is None
    assert by_name["No cost"].cost_per_lead is None
    assert list(campaigns.campaign_list(org=other_org)) == []


def test_list_filters_by_channel_and_words_in_the_name(org):
    make_campaign(org, "Ops webinar", channel="webinar")
    make_campaign(org, "Ops newsletter", channel="email")
    make_campaign(org, "Founders webinar", channel="webinar")
    assert {c.name for c in campaigns.campaign_list(org=org, channel="webinar")} == {"Ops webinar", "Founders webinar"}
    assert [c.name for c in campaigns.campaign_list(org=org, channel="webinar", search="ops")] == ["Ops webinar"]


def test_campaign_leads_are_its_first_touch_leads_newest_first(org):
    campaign, other = make_campaign(org, "Mine"), make_campaign(org, "Other")
    now = timezone.now()
    old = LeadFactory(organization=org, first_campaign=campaign, created_at=now - timedelta(days=3))
    new = LeadFactory(organization=org, first_campaign=campaign, created_at=now)
    LeadFactory(organization=org, first_campaign=other, latest_campaign=campaign)
    assert list(campaigns.campaign_leads(campaign=campaign)) == [new, old]


def test_campaigns_by_utm_is_exact_ignoring_case_and_spaces(org, other_org):
    campaign = make_campaign(org, utm_source="google", utm_medium="cpc", utm_campaign="trial")
    make_campaign(org, "No UTM")
    make_campaign(other_org, "Theirs", utm_source="google", utm_medium="cpc", utm_campaign="trial-2")
    utms = [
        ("Google", "CPC ", "trial"),
        ("google", "cpc", "TRIAL"),  # a case variant in the same batch: the same campaign
        ("google", "cpc", "trial-2"),  # another organisation's
        ("google", "", "trial"),
        ("", "", ""),
    ]
    assert campaigns.campaigns_by_utm(org=org, utms=utms) == {
        ("Google", "CPC ", "trial"): campaign.pk,
        ("google", "cpc", "TRIAL"): campaign.pk,
        ("google", "cpc", "trial-2"): None,
        ("google", "", "trial"): None,
        ("", "", ""): None,
    }
    assert campaigns.campaigns_by_utm(org=other_org, utms=[("google", "cpc", "trial")]) == {
        ("google", "cpc", "trial"): None
    }
    assert campaigns.campaigns_by_utm(org=org, utms=[]) == {}


def test_campaigns_by_utm_takes_more_triples_than_a_query_holds(org, django_assert_num_queries):
    many = [make_campaign(org, f"C{i}", utm_source="news", utm_medium="email", utm_campaign=f"c{i}") for i in range(3)]
    utms = [("news", "email", f"C{i}") for i in range(campaigns.UTM_LOOKUP_CHUNK + 5)]
    with django_assert_num_queries(2):
        found = campaigns.campaigns_by_utm(org=org, utms=utms)
    assert [found[utm] for utm in utms[:4]] == [c.pk for c in many] + [None]
    assert set(found.values()) == {None, *(c.pk for c in many)}


# --- Pages ----------------------------------------------------------------------------


def test_campaign_list_queries_are_constant(login, org, rep, django_assert_max_num_queries):
    persona = PersonaFactory(organization=org)
    for i in range(20):
        campaign = CampaignFactory(organization=org, target_persona=persona, owner=rep, actual_cost=Decimal(100 + i))
        LeadFactory.create_batch(2, organization=org, first_campaign=campaign)
    client = login(rep)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("campaigns:campaign_list"))
    assert len(response.context["page"].object_list) == 20
    assert "Campaign" in response.content.decode() and "New campaign" not in response.content.decode()


def test_campaign_list_filters_and_empty_states(login, org, marketer):
    client = login(marketer)
    body = client.get(reverse("campaigns:campaign_list")).content.decode()
    assert "No campaigns yet" in body and "New campaign" in body
    make_campaign(org, "Ops webinar", channel="webinar")
    make_campaign(org, "Newsletter", channel="email")
    response = client.get(reverse("campaigns:campaign_list"), {"channel": "webinar"})
    assert [c.name for c in response.context["page"].object_list] == ["Ops webinar"]
    body = client.get(reverse("campaigns:campaign_list"), {"q": "nothing-like-this"}).content.decode()
    assert "No campaign matches these filters" in body


def test_marketer_creates_a_campaign_from_the_form(login, org, marketer):
    persona = PersonaFactory(organization=org, name="Ops Oliver")
    client = login(marketer)
    form_page = client.get(reverse("campaigns:campaign_create")).content.decode()
    assert 'type="date"' in form_page
    response = client.post(
        reverse("campaigns:campaign_create"), campaign_post(target_persona=persona.pk, owner=marketer.pk), follow=True
    )
    campaign = Campaign.objects.get()
    assert response.redirect_chain[-1][0] == reverse("campaigns:campaign_detail", args=[campaign.pk])
    assert (campaign.starts_on, campaign.ends_on) == (date(2025, 3, 1), date(2025, 4, 30))
    assert campaign.actual_cost == Decimal("6480.50") and campaign.target_persona == persona
    assert campaign.owner == marketer
    body = response.content.decode()
    assert "Ops webinar series" in body and "utm_campaign=ops-webinars" in body


def test_form_shows_the_services_field_errors(login, org, marketer):
    make_campaign(org, "Benchmark", utm_source="webinar", utm_medium="email", utm_campaign="ops-webinars")
    client = login(marketer)
    response = client.post(reverse("campaigns:campaign_create"), campaign_post())
    assert "already uses these UTM values" in response.content.decode()
    response = client.post(reverse("campaigns:campaign_create"), campaign_post(utm_campaign="x", ends_on="2025-02-01"))
    assert "before it starts" in response.content.decode()
    response = client.post(reverse("campaigns:campaign_create"), campaign_post(utm_campaign="x", budget="-5"))
    assert "0 or more" in response.content.decode()
    assert Campaign.objects.count() == 1


def test_another_organisations_persona_is_not_a_choice(login, org, other_org, marketer):
    foreign = PersonaFactory(organization=other_org)
    response = login(marketer).post(reverse("campaigns:campaign_create"), campaign_post(target_persona=foreign.pk))
    assert response.status_code == 200 and "target_persona" in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_marketer_edits_a_campaign(login, org, marketer):
    campaign = make_campaign(org, "Benchmark", utm_source="linkedin", utm_medium="social", utm_campaign="bench")
    client = login(marketer)
    form = client.get(reverse("campaigns:campaign_edit", args=[campaign.pk])).context["form"]
    assert form.initial["utm_campaign"] == "bench"
    response = client.post(
        reverse("campaigns:campaign_edit", args=[campaign.pk]),
        campaign_post(name="Benchmark 2025", utm_campaign="bench-2025"),
        follow=True,
    )
    assert "Benchmark 2025" in response.content.decode()
    campaign.refresh_from_db()
    assert (campaign.name, campaign.channel, campaign.utm_campaign) == ("Benchmark 2025", "webinar", "bench-2025")
    assert campaign.owner is None  # cleared in the form


def test_detail_lists_its_leads_with_stages(login, org, rep):
    campaign = make_campaign(org, "Benchmark", actual_cost=Decimal("300"), utm_source="linkedin")
    LeadFactory(organization=org, first_campaign=campaign, email="ann@buyer.test", lifecycle_stage="mql")
    LeadFactory(organization=org, first_campaign=campaign, email="bob@buyer.test")
    LeadFactory(organization=org, latest_campaign=campaign, email="cid@buyer.test")  # not brought in by it
    response = login(rep).get(reverse("campaigns:campaign_detail", args=[campaign.pk]))
    body = response.content.decode()
    assert "ann@buyer.test" in body and "bob@buyer.test" in body and "cid@buyer.test" not in body
    assert 'class="stage stage-mql"' in body
    assert "150.00" in body  # cost per lead
    assert "?utm_source=linkedin" in body
    assert "Nothing yet: outcomes appear here" in body
    assert "Edit" not in body.split("<main")[1].split("Facts")[0]  # a rep reads but does not edit


def test_rep_reads_but_cannot_create_or_edit(login, org, rep):
    campaign = make_campaign(org)
    client = login(rep)
    assert client.get(reverse("campaigns:campaign_list")).status_code == 200
    assert client.get(reverse("campaigns:campaign_detail", args=[campaign.pk])).status_code == 200
    assert client.get(reverse("campaigns:campaign_create")).status_code == 403
    assert client.post(reverse("campaigns:campaign_create"), campaign_post()).status_code == 403
    assert client.post(reverse("campaigns:campaign_edit", args=[campaign.pk]), campaign_post()).status_code == 403
    assert Campaign.objects.count() == 1


def test_partner_gets_403(login, org, partner_user):
    campaign = make_campaign(org)
    client = login(partner_user)
    assert client.get(reverse("campaigns:campaign_list")).status_code == 403
    assert client.get(reverse("campaigns:campaign_detail", args=[campaign.pk])).status_code == 403


def test_another_organisations_campaign_page_is_404(login, org, outsider):
    campaign = make_campaign(org)
    client = login(outsider)
    assert client.get(reverse("campaigns:campaign_detail", args=[campaign.pk])).status_code == 404
    assert client.post(reverse("campaigns:campaign_edit", args=[campaign.pk]), campaign_post()).status_code == 404
    assert client.get(reverse("campaigns:campaign_list")).context["page"].paginator.count == 0


# --- API ------------------------------------------------------------------------------


def test_marketer_creates_a_campaign(api, org, marketer):
    persona = PersonaFactory(organization=org, name="Founder Fiona")
    client = api(marketer)
    response = client.post("/api/v1/campaigns", campaign_payload(target_persona=persona.pk), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["target_persona"] == {"id": persona.pk, "name": "Founder Fiona"}
    assert body["owner"] == {"id": marketer.pk, "email": "marketer@acme.test"}
    assert body["budget"] == "15000.00" and body["lead_count"] == 0 and body["cost_per_lead"] is None
    assert client.get(f"/api/v1/campaigns/{body['id']}").json() == body


def test_list_filters_and_counts_leads(api, org, rep):
    webinar = make_campaign(org, "Ops webinar", channel="webinar", actual_cost=Decimal("100"))
    make_campaign(org, "Founders webinar", channel="webinar")
    make_campaign(org, "Newsletter", channel="email")
    LeadFactory.create_batch(3, organization=org, first_campaign=webinar)
    client = api(rep)
    body = client.get("/api/v1/campaigns", {"channel": "webinar"}).json()
    assert [c["name"] for c in body["results"]] == ["Founders webinar", "Ops webinar"]  # newest first
    ops = client.get("/api/v1/campaigns", {"channel": "webinar", "search": "ops"}).json()["results"]
    assert [(c["id"], c["lead_count"], c["cost_per_lead"]) for c in ops] == [(webinar.pk, 3, "33.33")]
    bad = client.get("/api/v1/campaigns", {"channel": "fax"})
    assert bad.status_code == 400 and bad.json()["field"] == "channel"


def test_campaign_list_api_queries_are_constant(api, org, rep, django_assert_max_num_queries):
    persona = PersonaFactory(organization=org)
    for _ in range(20):
        LeadFactory(organization=org, first_campaign=CampaignFactory(organization=org, target_persona=persona))
    client = api(rep)
    with django_assert_max_num_queries(4):
        body = client.get("/api/v1/campaigns?page_size=20").json()
    assert len(body["results"]) == 20 and all(c["lead_count"] == 1 for c in body["results"])


def test_patch_changes_only_what_is_sent(api, org, marketer):
    client = api(marketer)
    campaign_id = client.post("/api/v1/campaigns", campaign_payload(), format="json").json()["id"]
    response = client.patch(f"/api/v1/campaigns/{campaign_id}", {"actual_cost": "14250.75"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["actual_cost"] == "14250.75" and body["name"] == "Founders' free-trial push"
    assert body["utm_campaign"] == "founder-free-trial" and body["ends_on"] == "2025-03-31"
    cleared = client.patch(f"/api/v1/campaigns/{campaign_id}", {"owner": None}, format="json").json()
    assert cleared["owner"] is None and cleared["actual_cost"] == "14250.75"


def test_patch_ending_before_the_start_is_refused(api, org, marketer):
    campaign = make_campaign(org, starts_on=date(2025, 5, 1))
    response = api(marketer).patch(f"/api/v1/campaigns/{campaign.pk}", {"ends_on": "2025-04-01"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "ends_on"
    campaign.refresh_from_db()
    assert campaign.ends_on is None


def test_campaigns_are_not_deleted(api, org, marketer):
    campaign = make_campaign(org)
    response = api(marketer).delete(f"/api/v1/campaigns/{campaign.pk}")
    assert response.status_code == 405 and "attributed" in response.json()["detail"]
    assert Campaign.objects.filter(pk=campaign.pk).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"channel": "fax"}, "channel"),
        ({"budget": "-10"}, "budget"),
        ({"ends_on": "2024-12-31"}, "ends_on"),
        ({"utm_source": "s" * 101}, "utm_source"),
        ({"utm_campaign": "BENCH", "utm_source": "LinkedIn", "utm_medium": "social"}, "utm_campaign"),
    ],
)
def test_bad_input_is_400_with_field(api, org, marketer, overrides, field):
    make_campaign(org, "Benchmark", utm_source="linkedin", utm_medium="social", utm_campaign="bench")
    response = api(marketer).post("/api/v1/campaigns", campaign_payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert Campaign.objects.count() == 1


def test_another_organisations_persona_or_member_is_400(api, org, other_org, marketer, outsider):
    client = api(marketer)
    foreign = PersonaFactory(organization=other_org)
    response = client.post("/api/v1/campaigns", campaign_payload(target_persona=foreign.pk), format="json")
    assert response.status_code == 400 and response.json()["field"] == "target_persona"
    assert "in your organisation" in response.json()["detail"]
    response = client.post("/api/v1/campaigns", campaign_payload(owner=outsider.pk), format="json")
    assert response.status_code == 400 and response.json()["field"] == "owner"
    assert not Campaign.objects.exists()


def test_rep_reads_but_cannot_create_or_change(api, org, rep):
    campaign = make_campaign(org)
    client = api(rep)
    assert client.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 200
    assert client.post("/api/v1/campaigns", campaign_payload(), format="json").status_code == 403
    assert client.patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "Mine"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/campaigns/{campaign.pk}").status_code == 403
    assert Campaign.objects.get().name == "SaaS benchmark"


def test_partner_and_api_key_cannot_read_campaigns(api, api_key_client, org, partner_user):
    make_campaign(org)
    assert api(partner_user).get("/api/v1/campaigns").status_code == 403
    assert api_key_client.get("/api/v1/campaigns").status_code == 403


def test_another_organisations_campaign_is_404(api, org, outsider):
    campaign = make_campaign(org)
    client = api(outsider)
    assert client.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 404
    assert client.patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "Mine"}, format="json").status_code == 404
    assert client.get("/api/v1/campaigns").json()["results"] == []


def test_a_sales_side_manager_may_edit_campaigns(api, org):
    manager = MembershipFactory(organization=org, role="manager", side="sales")
    campaign = make_campaign(org)
    response = api(manager).patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
