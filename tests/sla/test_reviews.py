"""The monthly review: its snapshot, notes and action items, and the period-end check that emails it once."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from leads.handoffs import handoff_accept, handoff_create, handoff_return
from leads.opportunities import opportunity_create, opportunity_win
from sla.models import ActionItem, Agreement, Review
from sla.reviews import period_end_check, review_generate
from smarketing.notifications.models import Notification
from tests.factories import CampaignFactory, ContentRequestFactory, LeadFactory

pytestmark = pytest.mark.django_db
UTC = zoneinfo.ZoneInfo("UTC")
NOV_10 = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def november(signed_agreement):
    return signed_agreement(date(2026, 11, 1), "5000", mql_target=3)


def test_the_review_snapshot_has_results_wins_sources_reasons_and_requests(
    org, sales, rep, marketer, manager, november
):
    webinar = CampaignFactory(organization=org, name="Webinar")
    won = handoff_create(lead=LeadFactory(organization=org, first_campaign=webinar), actor=marketer, now=NOV_10)
    handoff_accept(handoff=won, actor=rep, now=NOV_10 + timedelta(hours=1))
    deal = opportunity_create(
        lead=won.lead,
        actor=rep,
        amount=Decimal("8000"),
        currency="USD",
        expected_close_date=date(2026, 11, 20),
        now=NOV_10 + timedelta(hours=2),
    )
    opportunity_win(
        opportunity=deal,
        actor=rep,
        amount=Decimal("8000"),
        currency="USD",
        close_date=date(2026, 11, 12),
        now=datetime(2026, 11, 12, 12, 0, tzinfo=UTC),
    )
    returned = handoff_create(lead=LeadFactory(organization=org, first_campaign=webinar), actor=marketer, now=NOV_10)
    handoff_return(handoff=returned, actor=rep, reason="competitor", now=NOV_10 + timedelta(hours=1))
    ContentRequestFactory(organization=org, requested_by=rep, question="How do you compare with Acme?")

    review = review_generate(org=org, day=date(2026, 11, 30), now=datetime(2026, 12, 1, 0, 5, tzinfo=UTC))

    f = review.figures
    assert (review.starts_on, review.ends_on) == (date(2026, 11, 1), date(2026, 11, 30))
    assert f["agreements"][0]["revenue"]["actual"] == 8000.0 and f["agreements"][0]["revenue"]["met"] is True
    assert f["wins"][0]["amount"] == "8000.00"
    assert f["best_sources"] == [{"campaign": "Webinar", "revenue": "8000.00"}]
    assert f["acceptance_best"][0] == {"campaign": "Webinar", "accepted": 1, "ended": 2, "rate": 50.0}
    assert f["return_reasons"] == [{"reason": "Competitor", "count": 1}]
    assert f["open_content_request_count"] == 1


def test_the_period_end_check_records_marketing_and_emails_the_review_once(
    org, manager, november, django_capture_on_commit_callbacks
):
    first_of_december = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

    with django_capture_on_commit_callbacks(execute=True):
        assert period_end_check(now=first_of_december) == 1
    assert period_end_check(now=first_of_december + timedelta(hours=1)) == 0

    november.refresh_from_db()
    assert november.marketing_result["figures"][0]["label"] == "MQLs delivered"
    review = Review.objects.get()
    assert review.emailed_at is not None
    assert Notification.objects.filter(kind="sla.review", recipient=manager).count() == 1
    assert any("review of November 2026" in m.subject for m in mail.outbox)


def test_no_review_mid_month(org, november):
    assert period_end_check(now=datetime(2026, 11, 15, 6, 0, tzinfo=UTC)) == 0
    assert not Review.objects.exists()


def test_the_meeting_adds_notes_and_actions_and_the_owner_marks_one_done(login, org, manager, rep, november):
    review = review_generate(org=org, day=date(2026, 11, 5))
    client = login(manager)
    assert (
        client.post(f"/sla/reviews/{review.pk}/notes/", {"notes": "Webinars convert; more of them."}).status_code == 302
    )
    response = client.post(
        f"/sla/reviews/{review.pk}/actions/", {"text": "Plan two webinars", "owner": rep.pk, "due_on": "2026-12-15"}
    )
    assert response.status_code == 302
    action = ActionItem.objects.get()
    assert login(rep).post(f"/sla/actions/{action.pk}/done/").status_code == 302
    action.refresh_from_db()
    assert action.done_at is not None
    page = login(rep).get(f"/sla/reviews/{review.pk}/").content.decode()
    assert "Webinars convert" in page and "<s>Plan two webinars</s>" in page


def test_a_bad_action_is_refused_on_its_field(login, org, manager, november):
    review = review_generate(org=org, day=date(2026, 11, 5))
    response = login(manager).post(
        f"/sla/reviews/{review.pk}/actions/", {"text": "  ", "owner": manager.pk, "due_on": "2026-12-15"}
    )
    assert response.status_code == 400 and not ActionItem.objects.exists()


def test_managers_generate_a_review_from_the_page(login, manager, rep):
    client = login(manager)
    response = client.post("/sla/reviews/generate/", {"day": "2026-11-25"})
    review = Review.objects.get()
    assert response["Location"] == f"/sla/reviews/{review.pk}/"
    assert login(rep).post("/sla/reviews/generate/", {"day": "2026-11-25"}).status_code == 403
    assert "No agreement was active" in client.get(f"/sla/reviews/{review.pk}/").content.decode()
    assert Agreement.objects.count() == 0
