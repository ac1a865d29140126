"""The CSV import's writers, outside a test transaction (``transaction=True``).

On PostgreSQL an import that is not part of a caller's transaction writes each chunk in parts,
each by a thread with its own connection (``leads.imports._chunk_writer``); the other import
tests run inside the test's transaction, where there is one writer. These tests run the import
as the Celery task does, and hold on either database: on SQLite they check the one writer.
"""

from __future__ import annotations

import csv
import io
import threading
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from leads import imports
from leads.imports import Mode, import_run, import_upload, suggest_mapping
from leads.models import Company, Job, Lead, StageChange
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def start(org, actor, rows: list[list[str]], *, mode: str = Mode.SKIP) -> Job:
    job = import_upload(org=org, actor=actor, upload=SimpleUploadedFile("leads.csv", csv_bytes(rows)))
    job.params |= {"mapping": suggest_mapping(job.params["columns"]), "mode": mode}
    job.save()
    return job


def errors_csv(job: Job) -> list[list[str]]:
    with job.errors_file.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))


def open_connections() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.fixture
def writing_threads(monkeypatch):
    """The names of the threads that wrote rows."""
    names: set[str] = set()
    real_write = imports._write

    def write(ctx, rows):
        names.add(threading.current_thread().name)
        return real_write(ctx, rows)

    monkeypatch.setattr(imports, "_write", write)
    return names


def test_chunks_written_in_parts_import_as_one_writer_would(org, marketer, writing_threads):
    LeadFactory(organization=org, email="known@co1.example")
    rows = [["Email", "Company", "Website", "Job Title"]]
    for i in range(60):
        rows.append([f"p{i}@co{i % 9}.example", f"Co {i % 9}", f"co{i % 9}.example", "Engineer"])
    rows.append(["P3@CO3.EXAMPLE", "Other", "elsewhere.example", "Engineer"])  # line 62: p3 again, another company
    rows.append(["known@co1.example", "Co 1", "co1.example", ""])  # line 63: a lead already
    rows.append(["friend@gmail.com", "", "", ""])  # line 64: free mail, no company
    rows.append(["p10@co1.example", "Co 1", "co1.example", ""])  # line 65: p10 again
    job = start(org, marketer, rows)
    before = open_connections()

    job = import_run(job_id=job.pk, chunk_size=16)

    assert job.status == Job.Status.DONE, job.error
    assert job.result == {"rows": 64, "created": 61, "updated": 0, "skipped": 1, "duplicates": 2, "errors": 0}
    assert Lead.objects.filter(organization=org).count() == 62
    assert StageChange.objects.filter(organization=org, rule=f"import:{job.pk}").count() == 61
    # One company per domain, whichever part of a chunk made it; none for free mail.
    domains = sorted(Company.objects.filter(organization=org).values_list("domain", flat=True))
    assert domains == sorted({f"co{i}.example" for i in range(9)})
    assert Lead.objects.get(email="p13@co4.example").company.domain == "co4.example"
    assert Lead.objects.get(email="friend@gmail.com").company is None
    # Duplicates name the first line of their email, in line order.
    assert errors_csv(job)[1:] == [
        ["62", "Email", "p3@co3.example", "Duplicate of line 5; not imported."],
        ["65", "Email", "p10@co1.example", "Duplicate of line 12; not imported."],
    ]
    if connection.vendor == "postgresql":
        assert len(writing_threads) == imports.WRITERS and all("writer" in name for name in writing_threads)
        assert open_connections() == before  # the writers' connections are closed


def test_rows_updating_one_lead_apply_in_file_order(org, marketer):
    LeadFactory(organization=org, email="kim@old.example", title="Intern")
    rows = [["Email", "Job Title", "Website"]]
    rows += [[f"filler{i}@f{i}.example", "Engineer", f"f{i}.example"] for i in range(20)]
    rows.append(["kim@old.example", "Manager", "first.example"])
    rows += [[f"more{i}@m{i}.example", "Engineer", f"m{i}.example"] for i in range(5)]
    rows.append(["KIM@old.example", "Director", "second.example"])  # another company: still after the first
    job = start(org, marketer, rows, mode=Mode.UPDATE)

    job = import_run(job_id=job.pk, chunk_size=100)

    assert job.status == Job.Status.DONE, job.error
    kim = Lead.objects.get(email="kim@old.example")
    assert (kim.title, kim.company.domain) == ("Director", "second.example")
    assert job.result["updated"] == 2 and job.result["created"] == 25


def test_rows_linked_by_an_email_and_a_company_are_written_together(org, marketer, monkeypatch):
    """Kim's rows name two companies; Lee's names the second. All three are one part's, so the
    second company gets Kim's size and Lee's industry, as one writer gives it (two parts each
    folding their own rows onto what they read would lose one of them)."""
    Company.objects.create(organization=org, name="Shared", domain="shared.example")
    LeadFactory(organization=org, email="kim@kim.example")
    LeadFactory(organization=org, email="lee@lee.example")
    rows = [["Email", "Website", "Industry", "Company size"]]
    rows += [[f"filler{i}@f{i}.example", f"f{i}.example", "", ""] for i in range(12)]
    rows += [
        ["kim@kim.example", "first.example", "", ""],
        ["kim@kim.example", "shared.example", "", "500"],
        ["lee@lee.example", "shared.example", "Software", ""],
    ]
    job = start(org, marketer, rows, mode=Mode.UPDATE)
    parts: list[list[str]] = []
    real_write = imports._write

    def write(ctx, rows_):
        parts.append([row.email for row in rows_])
        return real_write(ctx, rows_)

    monkeypatch.setattr(imports, "_write", write)
    job = import_run(job_id=job.pk, chunk_size=100)

    assert job.status == Job.Status.DONE, job.error
    company = Company.objects.get(organization=org, domain="shared.example")
    assert (company.industry, company.size) == ("Software", 500)
    assert Lead.objects.get(email="lee@lee.example").company_id == company.pk
    assert Lead.objects.get(email="kim@kim.example").company_id == company.pk
    linked = [part for part in parts if "kim@kim.example" in part]
    assert len(linked) == 1 and "lee@lee.example" in linked[0]


def test_a_lead_made_meanwhile_by_someone_else_is_found_on_the_second_try(org, marketer):
    rows = [["Email"], *[[f"l{i}@x{i}.example"] for i in range(10)]]
    job = start(org, marketer, rows)
    real_existing, calls = imports._existing_ids, []

    def create_elsewhere():
        try:
            LeadFactory(organization=org, email="l4@x4.example")
        finally:
            connection.close()

    def blind_the_first_time(org_, emails):
        calls.append(list(emails))
        if "l4@x4.example" in emails and sum("l4@x4.example" in seen for seen in calls) == 1:
            # Someone (another connection) creates l4 after the import looked: the import's
            # insert breaks the unique email.
            elsewhere = threading.Thread(target=create_elsewhere)
            elsewhere.start()
            elsewhere.join()
            return {}
        return real_existing(org_, emails)

    with mock.patch.object(imports, "_existing_ids", blind_the_first_time):
        job = import_run(job_id=job.pk, chunk_size=100)

    assert job.status == Job.Status.DONE, job.error
    assert job.result == {"rows": 10, "created": 9, "updated": 0, "skipped": 1, "duplicates": 0, "errors": 0}
    assert Lead.objects.filter(email="l4@x4.example").count() == 1
    assert sum("l4@x4.example" in emails for emails in calls) == 2  # its part was written again
    assert StageChange.objects.filter(rule=f"import:{job.pk}").count() == 9


def test_a_part_that_fails_fails_the_job_and_the_run_again_completes_it(org, marketer):
    rows = [["Email", "Website"], *[[f"l{i}@x{i}.example", f"x{i}.example"] for i in range(30)]]
    job = start(org, marketer, rows)
    real_write = imports._write

    def breaks_on_l17(ctx, rows_):
        if any(row.email == "l17@x17.example" for row in rows_):
            raise RuntimeError("disk full")
        return real_write(ctx, rows_)

    with mock.patch.object(imports, "_write", breaks_on_l17):
        job = import_run(job_id=job.pk, chunk_size=10)
    assert job.status == Job.Status.FAILED and "RuntimeError: disk full" in job.error
    assert job.done == 10  # the first chunk; of the second, at most the part without l17 is written
    assert Lead.objects.filter(email="l17@x17.example").count() == 0

    job = import_run(job_id=job.pk, chunk_size=10)
    assert job.status == Job.Status.DONE, job.error
    assert job.result == {"rows": 30, "created": 30, "updated": 0, "skipped": 0, "duplicates": 0, "errors": 0}
    assert Lead.objects.filter(organization=org).count() == 30


needs_writers = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one writer outside PostgreSQL: chunks follow one another"
)


@pytest.fixture
def parts_log(monkeypatch):
    """Each part's writing as (event, thread name, the part's emails), in the order they
    happened. (Groups of linked rows go to the writers in turn, in the order they first appear
    in the chunk, unless linked to a part still being written.)"""
    log: list[tuple[str, str, list[str]]] = []
    real_write = imports._write

    def write(ctx, rows):
        emails = [row.email for row in rows]
        log.append(("start", threading.current_thread().name, emails))
        try:
            return real_write(ctx, rows)
        finally:
            log.append(("end", threading.current_thread().name, emails))

    monkeypatch.setattr(imports, "_write", write)
    return log


@needs_writers
def test_a_writer_goes_on_to_the_next_chunk_and_rows_of_one_lead_stay_in_file_order(
    org, marketer, parts_log, monkeypatch
):
    """Kim's first row is in a slow part of chunk 1 (writer 0). Writer 1 writes its part of
    chunk 2 meanwhile; Kim's row in chunk 2 waits behind the first, on the same writer."""
    LeadFactory(organization=org, email="kim@kim.example", title="Intern")
    rows = [["Email", "Job Title"]]
    rows += [["kim@kim.example", "Manager"], ["b1@b.example", "Engineer"], ["a1@a.example", "Engineer"]]
    rows += [["kim@kim.example", "Director"], ["b2@b.example", "Engineer"], ["a2@a.example", "Engineer"]]
    job = start(org, marketer, rows, mode=Mode.UPDATE)
    ahead = threading.Event()
    real_write = imports._write

    def slow_first_kim(ctx, rows_):
        emails = [row.email for row in rows_]
        if "b2@b.example" in emails:
            ahead.set()
        if emails == ["kim@kim.example", "a1@a.example"]:
            assert ahead.wait(10), "writer 1 did not go on to chunk 2 while writer 0 was on chunk 1"
        return real_write(ctx, rows_)

    monkeypatch.setattr(imports, "_write", slow_first_kim)

    job = import_run(job_id=job.pk, chunk_size=3)

    assert job.status == Job.Status.DONE, job.error
    assert Lead.objects.get(email="kim@kim.example").title == "Director"  # the later row last
    assert job.result == {"rows": 6, "created": 4, "updated": 2, "skipped": 0, "duplicates": 0, "errors": 0}
    starts = [(thread, emails) for event, thread, emails in parts_log if event == "start"]
    kims = [thread for thread, emails in starts if "kim@kim.example" in emails]
    assert len(kims) == 2 and kims[0] == kims[1]  # one writer, in turn
    assert ["b2@b.example"] in [emails for _, emails in starts]


@needs_writers
def test_rows_linked_to_both_writers_parts_wait_for_them(org, marketer, parts_log, monkeypatch):
    """Chunk 2's row names Kim (writer 0's part of chunk 1) and the company of bo's row
    (writer 1's): it is written only once both parts of chunk 1 are committed."""
    LeadFactory(organization=org, email="kim@kim.example")
    rows = [["Email", "Website", "Industry"]]
    rows += [["kim@kim.example", "kim.example", ""], ["bo@bo.example", "shared.example", "Software"]]
    rows += [["kim@kim.example", "shared.example", ""], ["b9@b9.example", "b9.example", ""]]
    job = start(org, marketer, rows, mode=Mode.UPDATE)
    refused = threading.Event()
    real_parts = imports._Pipeline._parts

    def parts(self, rows_):
        found = real_parts(self, rows_)
        if found is None:
            refused.set()
        return found

    real_write = imports._write

    def held(ctx, rows_):
        if rows_[0].line in (2, 3):  # chunk 1's parts stay busy until chunk 2 has been looked at
            refused.wait(10)
        return real_write(ctx, rows_)

    monkeypatch.setattr(imports._Pipeline, "_parts", parts)
    monkeypatch.setattr(imports, "_write", held)

    job = import_run(job_id=job.pk, chunk_size=2)

    assert job.status == Job.Status.DONE, job.error
    assert refused.is_set()
    kim = Lead.objects.get(email="kim@kim.example")
    assert kim.company.domain == "shared.example" and kim.company.industry == "Software"
    # Chunk 2's Kim row started only after both parts of chunk 1 had ended.
    order = [(event, emails) for event, _, emails in parts_log]
    kim_starts = [i for i, (event, emails) in enumerate(order) if event == "start" and "kim@kim.example" in emails]
    assert len(kim_starts) == 2
    assert ("end", ["kim@kim.example"]) in order[: kim_starts[1]]
    assert ("end", ["bo@bo.example"]) in order[: kim_starts[1]]
