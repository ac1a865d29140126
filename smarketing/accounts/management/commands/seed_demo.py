from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from smarketing.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo organisation (once) with one user per role and realistic data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=2000, help="How many leads to create (default 2000).")
        parser.add_argument("--reset", action="store_true", help="Delete the demo organisation and build it again.")

    def handle(self, *args, leads: int, reset: bool, **options) -> None:
        if leads < 0:
            self.stderr.write("--leads must be 0 or more.")
            raise SystemExit(2)
        started = time.perf_counter()
        result = seed_demo(leads=leads, reset=reset)
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo organisation “{result.organization.slug}” created with {result.leads} leads "
                    f"in {time.perf_counter() - started:.1f}s."
                )
            )
        else:
            self.stdout.write(
                f"Demo organisation “{result.organization.slug}” already exists (use --reset to rebuild)."
            )
        self.stdout.write(f"Log in with any of these (password “{DEMO_PASSWORD}”): " + ", ".join(result.users))
