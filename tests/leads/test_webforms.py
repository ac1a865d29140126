from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leads import webforms
from leads.models import ActivityEvent, Lead, Visitor, WebForm
from leads.webforms import WebFormInput
from smarketing.accounts.forms import OrganizationForm
from smarketing.errors import InvalidInput
from tests.factories import CampaignFactory, LeadFactory, WebFormFactory, organization_settings_data

pytestmark = pytest.mark.django_db

SITE = "https://www.acme.test"
OTHER_SITE = "https://spam.example"


def make_form(org, *, campaign=None, consent_text="I agree to hear from Acme.", **overrides) -> WebForm:
    data = {
        "name": "Webinar sign-up",
        "campaign": campaign,
        "fields": [
            {"attribute": "email", "label": "Work email"},
            {"attribute": "first_name", "label": "First name", "required": True},
            {"attribute": "company_name", "label": "", "required": False},
            {"attribute": "company_size"},
            {"attribute": "country"},
        ],
        "consent_text": consent_text,
        "success_message": "See you at the webinar!",
        **overrides,
    }
    return webforms.webform_create(org=org, data=WebFormInput(**data))


@pytest.fixture
def site(org):
    org.allowed_origins = [SITE]
    org.save(update_fields=["allowed_origins"])
    return org


@pytest.fixture
def campaign(org):
    return CampaignFactory(
        organization=org, name="Q3 webinars", utm_source="webinar", utm_medium="email", utm_campaign="q3-webinars"
    )


def submission(**overrides) -> dict:
    return {
        "email": "Ann@Buyer.test",
        "first_name": "Ann",
        "company_name": "Buyer Ltd",
        "company_size": "250",
        "country": "gb",
        "consent": True,
        "anonymous_id": "anon-123",
        "page_url": f"{SITE}/webinars/forecasting?ref=nav",
        "website": "",
        **overrides,
    }


def submit(client, form, data=None, *, origin=SITE, **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        f"/f/{form.key}/submit",
        json.dumps(submission() if data is None else data),
        content_type="application/json",
        **headers,
        **extra,
    )


def track(client, form, data=None, *, origin=SITE):
    body = data or {"anonymous_id": "anon-123", "url": f"{SITE}/pricing", "referrer": "", "title": "Pricing"}
    return client.post(f"/t/{form.key}", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=origin)


def throttle(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


# --- Services -------------------------------------------------------------------------


def test_create_gives_an_unguessable_key_and_always_asks_for_email(org, marketer):
    form = webforms.webform_create(
        org=org, data=WebFormInput(name=" Contact us ", fields=[{"attribute": "last_name"}]), actor=marketer
    )
    other = webforms.webform_create(org=org, data=WebFormInput(name="Other"))
    assert form.name == "Contact us" and form.created_by == marketer
    assert len(form.key) >= 22 and form.key != other.key
    assert [(f["name"], f["label"], f["required"]) for f in form.fields] == [
        ("email", "Work email", True),
        ("last_name", "Last name", False),
    ]
    assert form.success_message == WebForm._meta.get_field("success_message").default


def test_fields_follow_the_attribute_order_with_default_labels(org):
    form = make_form(org, fields=[{"attribute": "country"}, {"attribute": "email", "required": False}])
    assert [f["name"] for f in form.fields] == ["email", "country"]
    assert form.fields[0]["required"] is True  # email cannot be made optional
    assert form.fields[1]["label"] == webforms.ATTRIBUTES["country"].label


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the form a name"),
        ({"fields": [{"attribute": "password"}]}, "fields", "can't ask for"),
        ({"fields": [{"attribute": "title", "label": "x" * 201}]}, "fields", "200 characters"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url", "full web address"),
        ({"consent_text": "x" * 501}, "consent_text", "500 characters"),
    ],
)
def test_invalid_forms_are_refused(org, overrides, field, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        make_form(org, **overrides)
    assert caught.value.field == field


def test_campaign_of_another_organisation_is_refused(org, other_org):
    with pytest.raises(InvalidInput, match="Unknown campaign"):
        make_form(org, campaign=CampaignFactory(organization=other_org))


def test_update_keeps_the_key(org, campaign):
    form = make_form(org)
    data = WebFormInput.from_webform(form)
    data.name, data.campaign, data.consent_text = "Renamed", campaign, ""
    updated = webforms.webform_update(form=form, data=data)
    assert (updated.key, updated.name, updated.campaign, updated.consent_text) == (form.key, "Renamed", campaign, "")


def test_archive_takes_the_form_off_the_public_endpoints(client, site):
    form = make_form(site)
    webforms.webform_archive(form=form)
    assert form.archived_at is not None
    assert webforms.webform_by_key(key=form.key) is None
    assert client.get(f"/f/{form.key}/", HTTP_ORIGIN=SITE).status_code == 404
    assert submit(client, form).status_code == 404
    assert track(client, form).status_code == 404
    assert not Lead.objects.exists()


# --- Pages ----------------------------------------------------------------------------


def fields_post(**overrides) -> dict:
    data = {
        "name": "Ebook download",
        "campaign": "",
        "email__label": "Your work email",
        "first_name__ask": "on",
        "first_name__required": "on",
        "title__ask": "on",
        "title__label": "Role",
        "consent_text": "Send me the ebook and related news.",
        "success_message": "Check your inbox.",
        "redirect_url": "",
    }
    return {**data, **overrides}


def test_marketer_creates_a_form_and_gets_the_embed_snippet(login, org, marketer, campaign, settings):
    client = login(marketer)
    response = client.post(reverse("webforms:webform_create"), fields_post(campaign=campaign.pk))
    form = WebForm.objects.get(organization=org)
    assert response.status_code == 302 and response.url == reverse("webforms:webform_detail", args=[form.pk])
    assert form.campaign == campaign and form.created_by == marketer
    assert [(f["name"], f["label"], f["required"]) for f in form.fields] == [
        ("email", "Your work email", True),
        ("first_name", "First name", True),
        ("title", "Role", False),
    ]
    page = client.get(response.url).content.decode()
    snippet = (
        f"&lt;div data-smarketing-form=&quot;{form.key}&quot;&gt;&lt;/div&gt;\n"
        f"&lt;script src=&quot;{settings.SITE_URL}/static/tracking/sm.js&quot; "
        f"data-smarketing=&quot;{settings.SITE_URL}&quot; async&gt;&lt;/script&gt;"
    )
    assert snippet in page
    assert 'data-testid="no-origins"' in page  # the organisation lists no sites yet


def test_detail_lists_allowed_origins_and_links_admins_to_settings(login, site, admin):
    form = make_form(site)
    page = login(admin).get(reverse("webforms:webform_detail", args=[form.pk])).content.decode()
    assert f"<code>{SITE}</code>" in page and 'data-testid="no-origins"' not in page
    assert reverse("accounts:organization_settings") in page


def test_form_page_rejects_invalid_input_with_field_errors(login, marketer):
    response = login(marketer).post(reverse("webforms:webform_create"), fields_post(name="", redirect_url="nope"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "redirect_url"}
    assert not WebForm.objects.exists()


def test_edit_shows_current_choices_and_saves(login, org, marketer):
    form = make_form(org)
    client = login(marketer)
    url = reverse("webforms:webform_edit", args=[form.pk])
    initial = client.get(url).context["form"].initial
    assert initial["first_name__ask"] and initial["first_name__required"] and initial["country__ask"]
    assert not initial.get("title__ask")
    response = client.post(url, fields_post(name="Webinar sign-up (EMEA)", consent_text=""))
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "Webinar sign-up (EMEA)" and form.consent_text == ""
    assert [f["name"] for f in form.fields] == ["email", "first_name", "title"]


def test_archive_moves_it_to_the_archived_list(login, org, marketer):
    form = make_form(org)
    client = login(marketer)
    response = client.post(reverse("webforms:webform_archive", args=[form.pk]))
    assert response.status_code == 302
    assert list(client.get(reverse("webforms:webform_list")).context["webforms"]) == []
    assert list(client.get(reverse("webforms:webform_list"), {"archived": "1"}).context["webforms"]) == [form]


def test_list_queries_are_constant(login, org, marketer, campaign, django_assert_max_num_queries):
    for i in range(12):
        make_form(org, name=f"Form {i}", campaign=campaign)
    client = login(marketer)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("webforms:webform_list"))
    assert len(response.context["webforms"]) == 12


@pytest.mark.parametrize("role", ["rep", "partner_user"])
def test_sales_and_partners_cannot_build_forms(request, login, org, role):
    form = make_form(org)
    client = login(request.getfixturevalue(role))
    for url in (
        reverse("webforms:webform_list"),
        reverse("webforms:webform_create"),
        reverse("webforms:webform_detail", args=[form.pk]),
        reverse("webforms:webform_edit", args=[form.pk]),
    ):
        assert client.get(url).status_code == 403
    assert client.post(reverse("webforms:webform_archive", args=[form.pk])).status_code == 403
    assert b'href="/forms/"' not in client.get(reverse("home")).content


def test_another_organisations_form_is_404(login, org, outsider):
    form = make_form(org)
    client = login(outsider)
    assert client.get(reverse("webforms:webform_detail", args=[form.pk])).status_code == 404
    assert client.post(reverse("webforms:webform_archive", args=[form.pk])).status_code == 404
    form.refresh_from_db()
    assert form.archived_at is None


def test_marketers_see_forms_in_the_navigation(login, marketer):
    assert b'href="/forms/"' in login(marketer).get(reverse("home")).content


# --- Allowed origins (organisation settings) ------------------------------------------


def test_allowed_origins_are_normalised_one_per_line(org):
    text = "https://WWW.Acme.test/\nhttp://localhost:8000\n\nhttps://www.acme.test:443\nhttp://[::1]:3000"
    form = OrganizationForm(
        organization_settings_data(org, allowed_origins=text),
        instance=org,
    )
    assert form.is_valid(), form.errors
    form.save()
    org.refresh_from_db()
    assert org.allowed_origins == ["https://www.acme.test", "http://localhost:8000", "http://[::1]:3000"]
    assert OrganizationForm(instance=org)["allowed_origins"].value() == "\n".join(org.allowed_origins)


def test_admin_lists_allowed_origins_in_settings(login, org, admin):
    client = login(admin)
    url = reverse("accounts:organization_settings")
    data = organization_settings_data(org)
    response = client.post(url, {**data, "allowed_origins": "https://www.acme.test/pricing"})
    assert response.status_code == 200 and "is not an origin" in response.content.decode()
    assert (
        client.post(url, {**data, "allowed_origins": "https://www.acme.test\r\nhttps://blog.acme.test"}).status_code
        == 302
    )
    org.refresh_from_db()
    assert org.allowed_origins == ["https://www.acme.test", "https://blog.acme.test"]
    assert "https://www.acme.test\nhttps://blog.acme.test</textarea>" in client.get(url).content.decode()


@pytest.mark.parametrize(
    "bad", ["https://www.acme.test/contact", "www.acme.test", "ftp://acme.test", "https://*.acme.test", "*"]
)
def test_allowed_origins_must_be_scheme_host_port(org, bad):
    form = OrganizationForm(
        {"name": org.name, "time_zone": "UTC", "content_request_turnaround_days": 10, "allowed_origins": bad},
        instance=org,
    )
    assert not form.is_valid()
    assert "is not an origin" in form.errors["allowed_origins"][0]


# --- Public: definition ---------------------------------------------------------------


def test_definition_has_fields_labels_and_consent(client, site):
    form = make_form(site)
    response = client.get(f"/f/{form.key}/", HTTP_ORIGIN=SITE)
    body = response.json()
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SITE and "Origin" in response["Vary"]
    assert [(f["name"], f["label"], f["required"], f["type"]) for f in body["fields"]] == [
        ("email", "Work email", True, "email"),
        ("first_name", "First name", True, "text"),
        ("company_name", "Company", False, "text"),
        ("company_size", "Company size (employees)", False, "number"),
        ("country", webforms.ATTRIBUTES["country"].label, False, "text"),
    ]
    assert body["consent_text"] == "I agree to hear from Acme." and body["honeypot"] == "website"
    assert set(body) == {"key", "fields", "consent_text", "success_message", "redirect_url", "honeypot"}


def test_definition_is_refused_to_other_sites(client, site):
    form = make_form(site)
    response = client.get(f"/f/{form.key}/", HTTP_ORIGIN=OTHER_SITE)
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response


def test_unknown_key_is_404_without_cors(client, site):
    response = client.get("/f/no-such-key/", HTTP_ORIGIN=SITE)
    assert response.status_code == 404 and response.json()["detail"] == "No such form."
    assert "Access-Control-Allow-Origin" not in response
    posted = client.post("/f/no-such-key/submit", "{}", content_type="application/json", HTTP_ORIGIN=SITE)
    assert posted.status_code == 404


# --- Public: submissions --------------------------------------------------------------


def test_valid_submission_creates_the_lead_and_one_form_submit_event(client, site, campaign):
    form = make_form(site, campaign=campaign)
    response = submit(client, form)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "See you at the webinar!", "redirect_url": ""}
    assert response["Access-Control-Allow-Origin"] == SITE

    lead = Lead.objects.get(organization=site)
    assert (lead.email, lead.first_name, lead.company_name) == ("ann@buyer.test", "Ann", "Buyer Ltd")
    assert (lead.company.size, lead.company.country) == (250, "GB")
    assert lead.first_campaign == campaign and lead.latest_campaign == campaign
    event = ActivityEvent.objects.get(organization=site)
    assert event.event_type == "form_submit" and event.lead == lead and event.campaign == campaign
    assert event.client_event_id.startswith(f"form-{form.key}-") and event.anonymous_id == "anon-123"
    assert event.properties == {
        "form": form.key,
        "page_url": f"{SITE}/webinars/forecasting?ref=nav",
        "consent": True,
        "utm_source": "webinar",
        "utm_medium": "email",
        "utm_campaign": "q3-webinars",
    }


def test_without_a_campaign_the_pages_utm_values_attribute_it(client, site, campaign):
    form = make_form(site)
    page_url = f"{SITE}/webinars?utm_source=webinar&utm_medium=email&utm_campaign=q3-webinars&utm_term=ops"
    assert submit(client, form, submission(page_url=page_url)).status_code == 200
    event = ActivityEvent.objects.get()
    assert event.properties["utm_term"] == "ops" and event.campaign == campaign
    assert Lead.objects.get().first_campaign == campaign


def test_existing_lead_is_updated_not_duplicated(client, site):
    lead = LeadFactory(organization=site, email="ann@buyer.test", first_name="A.", company_name="Old name")
    form = make_form(site)
    assert submit(client, form, submission(company_name="")).status_code == 200
    lead.refresh_from_db()
    assert Lead.objects.count() == 1
    assert lead.first_name == "Ann" and lead.company_name == "Old name"  # an empty answer changes nothing
    assert ActivityEvent.objects.get().lead == lead


def test_form_encoded_submissions_are_accepted(client, site):
    form = make_form(site)
    data = {k: ("on" if k == "consent" else v) for k, v in submission().items()}
    response = client.post(f"/f/{form.key}/submit", data, HTTP_ORIGIN=SITE)
    assert response.status_code == 200
    assert ActivityEvent.objects.get().properties["consent"] is True


def test_honeypot_answers_ok_and_stores_nothing(client, site):
    form = make_form(site)
    response = submit(client, form, submission(website="http://cheap-pills.example"))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "See you at the webinar!", "redirect_url": ""}
    assert not Lead.objects.exists() and not ActivityEvent.objects.exists() and not Visitor.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"consent": False}, {"consent": "Please tick the box to agree."}),
        ({"email": "ann-at-buyer"}, {"email": "Enter a valid email address."}),
        (
            {"email": "", "first_name": ""},
            {"email": "This field is required.", "first_name": "This field is required."},
        ),
        ({"first_name": "A" * 101}, {"first_name": "Keep this to 100 characters (it has 101)."}),
        ({"company_name": "B" * 1001}, {"company_name": "Keep this to 200 characters (it has 1,001)."}),
        ({"company_size": "lots"}, {"company_size": "Enter the number of employees, e.g. 250."}),
        ({"country": "United Kingdom"}, {"country": "Use a two-letter country code, e.g. GB."}),
        ({"first_name": {"nested": "object"}}, {"first_name": "Send this field as text."}),
    ],
)
def test_invalid_submissions_are_400_with_field_errors(client, site, overrides, errors):
    form = make_form(site)
    response = submit(client, form, submission(**overrides))
    body = response.json()
    assert response.status_code == 400
    assert body["errors"] == errors and body["detail"] and body["field"] == next(iter(errors))
    assert response["Access-Control-Allow-Origin"] == SITE  # so the script can show the errors
    assert not Lead.objects.exists() and not ActivityEvent.objects.exists()


def test_no_consent_box_no_consent_needed(client, site):
    form = make_form(site, consent_text="")
    assert submit(client, form, submission(consent=None)).status_code == 200
    assert ActivityEvent.objects.get().properties["consent"] is False


def test_malformed_body_is_400(client, site):
    form = make_form(site)
    response = client.post(f"/f/{form.key}/submit", "not json", content_type="application/json", HTTP_ORIGIN=SITE)
    assert response.status_code == 400 and "JSON" in response.json()["detail"]


def test_other_sites_and_pageless_posts_are_403(client, site):
    form = make_form(site)
    refused = submit(client, form, origin=OTHER_SITE)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert "origin" in refused.json()["detail"]
    assert submit(client, form, origin="null").status_code == 403
    assert submit(client, form, origin=None).status_code == 403  # no Origin: not sent by a page
    assert not Lead.objects.exists()


def test_another_organisations_origin_is_not_enough(client, site, other_org):
    other_org.allowed_origins = [OTHER_SITE]
    other_org.save()
    assert submit(client, make_form(site), origin=OTHER_SITE).status_code == 403


def test_the_apps_own_pages_may_submit(client, site, settings):
    form = make_form(site)
    response = submit(client, form, origin="http://testserver")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "http://testserver"


def test_cors_header_is_the_exact_origin_never_a_wildcard(client, site):
    site.allowed_origins = [SITE, "http://localhost:8000"]
    site.save()
    form = make_form(site)
    response = submit(client, form, origin="http://localhost:8000")
    assert response["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert "Origin" in response["Vary"] and "Access-Control-Allow-Credentials" not in response


def test_preflight_allows_the_post_from_allowed_origins(client, site):
    form = make_form(site)
    response = client.options(
        f"/f/{form.key}/submit",
        HTTP_ORIGIN=SITE,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    refused = client.options(f"/f/{form.key}/submit", HTTP_ORIGIN=OTHER_SITE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused


def test_wrong_method_is_405(client, site):
    form = make_form(site)
    assert client.get(f"/f/{form.key}/submit", HTTP_ORIGIN=SITE).status_code == 405
    assert client.post(f"/f/{form.key}/", HTTP_ORIGIN=SITE).status_code == 405


def test_submissions_are_rate_limited_per_client_and_form(client, site, settings):
    throttle(settings, webform="3/min")
    form, other = make_form(site), make_form(site, name="Other")
    codes = [submit(client, form, submission(email=f"p{i}@buyer.test")).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = submit(client, form)
    assert limited.json()["detail"].startswith("Too many") and limited["Access-Control-Allow-Origin"] == SITE
    assert submit(client, other).status_code == 200  # another form has its own allowance
    assert submit(client, form, REMOTE_ADDR="10.0.0.9").status_code == 200  # and another client
    assert Lead.objects.count() == 4  # three people, then ann@buyer.test twice


def test_lead_creation_goes_through_ingestion(client, site, monkeypatch):
    calls = []
    original = webforms.events_ingest

    def spy(**kwargs):
        calls.append(kwargs["payload"])
        return original(**kwargs)

    monkeypatch.setattr(webforms, "events_ingest", spy)
    submit(client, make_form(site))
    assert len(calls) == 1 and [e["type"] for e in calls[0]["events"]] == ["form_submit"]


# --- Public: tracking -----------------------------------------------------------------


def test_page_view_is_stored_with_the_anonymous_id(client, site):
    form = make_form(site)
    response = track(
        client,
        form,
        {
            "anonymous_id": "anon-123",
            "url": f"{SITE}/pricing?utm_source=webinar",
            "referrer": "https://search.example/",
            "title": "Pricing",
        },
    )
    assert response.status_code == 202 and response["Access-Control-Allow-Origin"] == SITE
    event = ActivityEvent.objects.get(organization=site)
    assert event.event_type == "page_view" and event.lead is None and event.anonymous_id == "anon-123"
    assert event.client_event_id.startswith("pv-")
    assert event.properties == {
        "url": f"{SITE}/pricing?utm_source=webinar",
        "referrer": "https://search.example/",
        "title": "Pricing",
        "form": form.key,
        "utm_source": "webinar",
    }
    assert Visitor.objects.get(organization=site).anonymous_id == "anon-123"


def test_submission_stitches_the_visitors_earlier_page_views(client, site):
    form = make_form(site)
    track(client, form)
    track(client, form, {"anonymous_id": "anon-123", "url": f"{SITE}/webinars", "title": "Webinars"})
    track(client, form, {"anonymous_id": "someone-else", "url": f"{SITE}/", "title": "Home"})
    submit(client, form)
    lead = Lead.objects.get()
    assert set(lead.events.values_list("event_type", flat=True)) == {"page_view", "form_submit"}
    assert lead.events.filter(event_type="page_view").count() == 2
    assert ActivityEvent.objects.get(anonymous_id="someone-else").lead is None
    # Later page views of the identified visitor are the lead's straight away.
    track(client, form, {"anonymous_id": "anon-123", "url": f"{SITE}/pricing", "title": "Pricing"})
    assert lead.events.filter(event_type="page_view").count() == 3


def test_tracking_needs_an_anonymous_id_and_an_allowed_origin(client, site):
    form = make_form(site)
    missing = track(client, form, {"url": f"{SITE}/"})
    assert missing.status_code == 400 and missing.json()["field"] == "anonymous_id"
    assert track(client, form, origin=OTHER_SITE).status_code == 403
    assert not ActivityEvent.objects.exists()


def test_tracking_is_rate_limited_per_client(client, site, settings):
    throttle(settings, tracking="2/min")
    form, other = make_form(site), make_form(site, name="Other")
    assert [track(client, f).status_code for f in (form, other, form)] == [202, 202, 429]
    assert ActivityEvent.objects.count() == 2


def test_factory_form_works_end_to_end(client, site):
    form = WebFormFactory(organization=site)
    assert submit(client, form, {"email": "bob@buyer.test", "first_name": "Bob"}).status_code == 200
    assert Lead.objects.get().first_name == "Bob"
