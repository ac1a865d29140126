"""A marketer imports a HubSpot contacts export: upload, columns mapped, preview, progress, errors CSV.

On the README's test command the import runs in the request that starts it (tasks run in
process); in CI's PostgreSQL stage it runs on the real Celery worker, with the writers on
their own connections, while the page polls its progress.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from leads.models import Company, Lead
from smarketing.accounts.models import Membership
from tests.browser.pages import log_in
from tests.factories import LeadFactory, MembershipFactory, OrganizationFactory

HEADER = ["Record ID", "First Name", "Last Name", "Email", "Job Title", "Company Name", "Company Domain Name"]
ROWS = 240


def contacts_export(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(ROWS):
            c = i % 30
            writer.writerow([i + 1, f"Ann{i}", f"Lee{i}", f"ann{i}@co{c}.example", "Head of Ops", f"Co {c}", ""])
        writer.writerow([901, "Bad", "Email", "not-an-email", "", "", ""])  # line 242
        writer.writerow([902, "Ann0", "Lee0", "ANN0@co0.example", "", "", ""])  # line 243: line 2 again
        writer.writerow([903, "Kim", "Known", "kim@known.example", "", "", ""])  # line 244: a lead already
    return path


def test_marketer_imports_a_contacts_export_and_downloads_the_rows_not_imported(page: Page, screenshot, tmp_path):
    org = OrganizationFactory(name="Northwind Software", slug="northwind")
    marketer = MembershipFactory(organization=org, role=Membership.Role.MARKETER, user__email="mia@northwind.test")
    LeadFactory(organization=org, email="kim@known.example")
    export = contacts_export(tmp_path / "hubspot-contacts.csv")

    # 1. Upload: the columns come back mapped from HubSpot's names, with a preview.
    log_in(page, marketer.user.email, lands=r"/home/$")
    page.goto("/leads/import/")
    expect(page.get_by_text("No imports yet.")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(export)
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_role("heading", name="Map the columns of hubspot-contacts.csv")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("email")
    expect(page.get_by_label("Company Name")).to_have_value("company_name")
    preview = page.locator("#preview")
    expect(preview.get_by_text("ann0@co0.example")).to_be_visible()
    expect(preview.get_by_text("new lead").first).to_be_visible()
    screenshot(1, "import-map-and-preview")

    # 2. Start: the progress page polls until the job is done.
    page.get_by_test_id("start-import").click()
    progress = page.get_by_test_id("import-progress")
    expect(progress.get_by_text("Done", exact=True)).to_be_visible(timeout=60_000)
    expect(progress).to_contain_text(f"{ROWS + 3} of {ROWS + 3} rows")
    stats = {
        label: progress.locator(".stat", has_text=label).locator(".stat-value").inner_text()
        for label in ("created", "skipped (already leads)", "duplicates in the file", "rows with errors")
    }
    assert stats == {
        "created": str(ROWS),
        "skipped (already leads)": "1",
        "duplicates in the file": "1",
        "rows with errors": "1",
    }
    screenshot(2, "import-done")

    # 3. The rows not imported, with their line numbers and why.
    with page.expect_download() as download:
        page.get_by_test_id("errors-csv").click()
    rows = list(csv.reader(Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["line", "column", "value", "error"]
    assert [tuple(r[:3]) for r in rows[1:]] == [("242", "Email", "not-an-email"), ("243", "Email", "ann0@co0.example")]
    assert "not a valid email" in rows[1][3] and rows[2][3] == "Duplicate of line 2; not imported."

    # 4. The leads are there, one company per domain, and the import is listed.
    assert Lead.objects.filter(organization=org).count() == ROWS + 1
    assert Company.objects.filter(organization=org, domain__endswith=".example").count() == 30
    page.get_by_role("link", name="See the leads").click()
    expect(page.get_by_role("link", name=re.compile(r"^Ann\d+ Lee\d+$")).first).to_be_visible()
    page.goto("/leads/?q=ann239")  # created together, the leads are in no particular order: search
    expect(page.get_by_role("link", name="Ann239 Lee239")).to_be_visible()
    page.goto("/leads/import/")
    listed = page.get_by_test_id("imports")
    expect(listed.get_by_role("link", name="hubspot-contacts.csv")).to_be_visible()
    expect(listed.get_by_text("Done")).to_be_visible()
    screenshot(3, "import-listed")
