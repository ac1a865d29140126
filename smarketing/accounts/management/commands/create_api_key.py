from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smarketing.accounts import services
from smarketing.accounts.models import Organization
from smarketing.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for an organisation and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization_slug")
        parser.add_argument("--name", default="Command-line key")

    def handle(self, *args, organization_slug: str, name: str, **options) -> None:
        org = Organization.objects.filter(slug=organization_slug).first()
        if org is None:
            raise CommandError(f"No organisation with the address “{organization_slug}”.")
        try:
            api_key, raw = services.api_key_create(organization=org, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"API key “{api_key.name}” for {org.slug}: store it now; it cannot be shown again.")
        self.stdout.write(raw)
