"""Running a background job: status, progress and outcome recorded on its Job row."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.utils import timezone

from leads.models import Job

logger = logging.getLogger(__name__)


def job_progress(job: Job) -> Callable[[int, int | None], None]:
    """A callback that records progress (a cheap UPDATE, visible to pollers at once)."""

    def report(done: int, total: int | None = None) -> None:
        fields = {"done": done} | ({"total": total} if total is not None else {})
        Job.objects.filter(pk=job.pk).update(**fields)

    return report


def job_run(job_id: int, work: Callable[[Job, Callable[[int, int | None], None]], dict]) -> Job | None:
    """Run ``work(job, progress)`` for a pending or interrupted job; record its result or failure.

    A job already done is not run again (a redelivered task is harmless); work itself must be
    idempotent, since a job that died while running is run again from the start.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status == Job.Status.DONE:
        return job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(), error="")
    try:
        result = work(job, job_progress(job))
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        raise
    Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, finished_at=timezone.now(), result=result)
    job.refresh_from_db()
    return job
