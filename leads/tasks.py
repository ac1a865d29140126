"""Celery interface of leads: scoring of stored events, and the sweep that guarantees it."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import OperationalError
from django.db.models import Min

from leads import scoring
from leads.models import ActivityEvent

BATCH = 2000
TIME_BUDGET_S = 20
# A run that has just scored a batch this large is scoring a stream: it waits this long before
# claiming the next, so that batches grow towards BATCH. A batch costs ≈ 5.6 ms of Python
# whatever its size (the statements' building, the cap counts' above all), ≈ 11 µs an event at
# the ≈ 500-event batches of a 10,000-events/s stream that workers claim as fast as they can
# (bench/README.md). A run scoring a handful (a form, a test) never waits.
LINGER_AFTER = 200
LINGER_S = 0.2


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=1, retry_backoff_max=300, max_retries=10)
def score_pending_events(org_id: int) -> int:
    """Score the organisation's stored, unscored events in batches. Safe to run twice at once:
    each batch is claimed with row locks (skip locked) and marked scored in the same
    transaction, so concurrent runs share the backlog. A deadlock or lost connection
    (OperationalError) rolls the batch back whole; the retry scores it."""
    from leads.ingestion import enqueue_scoring, scoring_enqueued_clear

    # Cleared before looking: events stored from now on enqueue a new run (see enqueue_scoring).
    scoring_enqueued_clear(org_id)
    scored, started, run = 0, time.monotonic(), scoring.ScoringRun(0, 0)
    while time.monotonic() - started < TIME_BUDGET_S:
        run = scoring.score_pending(org_id=org_id, limit=BATCH)
        scored += run.scored
        if not run.scored and not run.deferred:  # nothing left, or all of it claimed by a concurrent run
            break
        if not run.scored:  # every lead of the batch busy elsewhere: give that run a moment
            time.sleep(0.05)
        elif run.scored >= LINGER_AFTER and run.scored + run.deferred < BATCH:
            # The claim came back short (a stream, not a backlog): let the next batch gather. A
            # full claim is a backlog, even when some of it waits for a concurrent run's leads.
            time.sleep(LINGER_S)
    if run.scored or run.deferred:  # out of time with work left: hand it to a fresh run, not the sweep
        enqueue_scoring(org_id)
    return scored


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=600, max_retries=5)
def rescore_job(job_id: int) -> None:
    """Full rescore under the job's scoring model, with progress (safe to run again)."""
    from leads.jobs import job_run
    from leads.models import ScoringModel
    from leads.rescoring import rescore_organization

    def work(job, progress):
        model = ScoringModel.objects.select_related("organization").get(pk=job.params["scoring_model"])
        return rescore_organization(model=model, progress=progress)

    job_run(job_id, work)


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=5, retry_backoff_max=60, max_retries=3)
def recount_lead_stages(org_id: int) -> None:
    """Count a large organisation's leads by stage again for the overview (its cached counts aged)."""
    from leads.selectors import lead_stage_counts_refresh
    from smarketing.accounts.models import Organization

    org = Organization.objects.filter(pk=org_id).first()
    if org is not None:
        lead_stage_counts_refresh(org=org)


@shared_task
def sweep_unscored_events() -> int:
    """Beat, every minute: score whatever the request path stored but could not enqueue."""
    orgs = (
        ActivityEvent.objects.filter(scored_at=None, lead__isnull=False)
        .values("organization_id")
        .annotate(oldest=Min("received_at"))
        .values_list("organization_id", flat=True)
    )
    return sum(score_pending_events(org_id) for org_id in orgs)


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=5, retry_backoff_max=300, max_retries=5)
def import_leads(job_id: int) -> None:
    """Run a CSV import job (leads.imports.import_run): running, then done or failed with the
    reason. Safe to run twice (acks_late, retries): rows already imported are found by email."""
    from leads.imports import import_run

    import_run(job_id=job_id)
