"""The Celery app: configuration from Django settings (``CELERY_*``), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery, signals
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")

app = Celery("smarketing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def longest_task_delay(celery_app: Celery) -> int:
    """The longest delay (seconds) before any registered task's message is acted on."""
    longest = 0
    for task in celery_app.tasks.values():
        if getattr(task, "retry_backoff", False):
            longest = max(longest, int(getattr(task, "retry_backoff_max", 600)))
        longest = max(longest, int(getattr(task, "default_retry_delay", 0) or 0))
    return longest


def check_visibility_timeout(celery_app: Celery = app) -> None:
    """Refuse to start when a countdown or retry could outlive Redis's visibility timeout.

    A message not acknowledged within the timeout is delivered again: a retry scheduled past
    it would run twice. ``CELERY_MAX_TASK_DELAY_SECONDS`` is the promise every task keeps.
    """
    from django.conf import settings
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    promised = settings.CELERY_MAX_TASK_DELAY_SECONDS
    longest = longest_task_delay(celery_app)
    if longest > promised:
        raise ImproperlyConfigured(
            f"A task may wait {longest}s before running, above CELERY_MAX_TASK_DELAY_SECONDS={promised}."
        )
    if timeout <= promised:
        raise ImproperlyConfigured(
            f"Broker visibility_timeout ({timeout}s) must exceed the longest task delay ({promised}s)."
        )


@signals.worker_init.connect
@signals.beat_init.connect
def _check_on_start(**kwargs) -> None:
    check_visibility_timeout()


@signals.worker_process_init.connect
def _settle(**kwargs) -> None:
    """Each worker process, once started with the app loaded: the garbage collector stops
    walking what was loaded (smarketing.collector)."""
    from smarketing.collector import settle_for_serving

    settle_for_serving()
