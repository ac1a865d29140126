"""Incremental scoring under concurrency, decided by row locks on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from leads.models import ActivityEvent, LeadScore, ScoringModel
from leads.scoring import ScoringRun, score_pending
from tests.factories import LeadFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lead_busy_in_another_run_keeps_its_events_pending_for_the_next_batch(org):
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        engagement_rules=[{"event_type": "page_view", "points": 5}],
        decay_half_life_days=30,
        mql_threshold=100,
    )
    busy, free = LeadFactory(organization=org), LeadFactory(organization=org)
    now = timezone.now()
    for i, lead in enumerate([busy, free, busy]):
        ActivityEvent.objects.create(
            organization=org, lead=lead, client_event_id=f"e{i}", event_type="page_view", occurred_at=now
        )
    locked, release = threading.Event(), threading.Event()

    def other_run() -> None:  # holds the busy lead's score row as a concurrent scoring run would
        try:
            with transaction.atomic():
                list(LeadScore.objects.filter(lead=busy).select_for_update(no_key=True))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        assert score_pending(org_id=org.pk, limit=100) == ScoringRun(scored=1, deferred=2)  # no waiting
    finally:
        release.set()
        thread.join(timeout=30)
    assert score_pending(org_id=org.pk, limit=100) == ScoringRun(scored=2, deferred=0)
    busy.refresh_from_db()
    free.refresh_from_db()
    assert (busy.total_score, free.total_score) == (10 + busy.fit_score, 5 + free.fit_score)
    assert not ActivityEvent.objects.filter(scored_at=None).exists()
