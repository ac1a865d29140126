"""In-app notifications: what happened that a member should know about, read or unread."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import OrgQuerySet


class Notification(models.Model):
    """Something a member should know about (a delivered content request, a new handoff …), with a link to it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50, help_text="What happened, e.g. “content_request.delivered”.")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="An in-app path, e.g. “/leads/12/”.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox_idx"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
