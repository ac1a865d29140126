"""Celery interface of sla: the deadline checks beat runs every minute."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from sla.deadlines import check_deadlines as run_checks


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=1, retry_backoff_max=60, max_retries=3)
def check_deadlines() -> dict:
    """Warn at-risk handoffs, breach overdue ones, re-route after the grace; safe to run twice at once."""
    result = run_checks()
    return {"at_risk": result.at_risk, "breached": result.breached, "rerouted": result.rerouted}


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=5, retry_backoff_max=300, max_retries=5)
def period_end_check() -> int:
    """Record ended agreements' marketing results; generate and email last month's review, once."""
    from sla.reviews import period_end_check as run

    return run()


@shared_task(autoretry_for=(OSError, OperationalError), retry_backoff=5, retry_backoff_max=300, max_retries=3)
def reroute_predicted() -> int:
    """Route handoffs predicted to breach to someone else, where the organisation asks for it."""
    from sla.forecast import reroute_predicted as run

    return run()
