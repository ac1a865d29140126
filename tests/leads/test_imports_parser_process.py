"""A large file's rows are parsed by a child process (leads.imports._ParserProcess): the import's
outcome is the same as with the parsing thread, and whatever happens the child is stopped."""

from __future__ import annotations

import dataclasses
import io

import pytest

from leads import imports
from leads.imports import Mode, import_run, import_upload
from leads.models import Job, Lead, StageChange
from leads.services import LeadInput
from tests.leads.test_imports import FIXTURES, csv_bytes, errors_csv, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def processes(monkeypatch) -> list[imports._ParserProcess]:
    """Every file parsed in a process, and the processes made, to look at afterwards."""
    made: list[imports._ParserProcess] = []

    class Recorded(imports._ParserProcess):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(imports, "PARSER_PROCESS_MIN_ROWS", 1)
    monkeypatch.setattr(imports, "_ParserProcess", Recorded)
    return made


def mapped_job(org, actor, content: bytes) -> Job:
    job = import_upload(org=org, actor=actor, upload=upload("leads.csv", content))
    job.params |= {"mapping": imports.suggest_mapping(job.params["columns"]), "mode": Mode.SKIP}
    job.save()
    return job


def test_rows_parsed_in_a_process_import_as_with_the_thread(org, marketer, processes):
    content = (FIXTURES / "rows_with_problems.csv").read_bytes()
    content += b"good@acme.example,Again,Twice,Acme,GB,10,CTO\r\n"  # a duplicate of line 2
    job = import_run(job_id=mapped_job(org, marketer, content).pk, chunk_size=2)

    assert len(processes) == 1 and processes[0].child.returncode == 0
    assert job.status == Job.Status.DONE
    assert job.result == {"rows": 6, "created": 2, "updated": 0, "skipped": 0, "duplicates": 1, "errors": 3}
    assert set(Lead.objects.values_list("email", flat=True)) == {"good@acme.example", "formula@acme.example"}
    assert Lead.objects.get(email="good@acme.example").title == "Head of\r\nMarketing"
    by_line = {int(line): (column, error) for line, column, _, error in errors_csv(job)[1:]}
    assert by_line[4] == ("email", "“not-an-email” is not a valid email address.")
    assert by_line[7] == ("company_size", "Company size is a number of employees.")
    assert by_line[9][1] == "Duplicate of line 2; not imported."
    assert sorted(by_line) == [4, 5, 7, 9]


def test_an_error_in_the_parser_process_fails_the_job_with_it_and_keeps_the_chunks_before(
    org, marketer, processes, monkeypatch
):
    content = csv_bytes([["email"], *[[f"l{i}@x.example"] for i in range(10)]])
    job = mapped_job(org, marketer, content)
    # The child's parse_row breaks on line 8 (a mock here would not reach the child).
    breaks = imports._PARSER_COMMAND.replace(
        "from leads.imports import parser_main;",
        "from leads import imports; real = imports.parse_row; "
        "imports.parse_row = lambda cells, plan, line, org: real(cells, plan, line, org) if line != 8 else 1 / 0; "
        "from leads.imports import parser_main;",
    )
    monkeypatch.setattr(imports, "_PARSER_COMMAND", breaks)

    job = import_run(job_id=job.pk, chunk_size=3)
    assert job.status == Job.Status.FAILED and "ZeroDivisionError: division by zero" in job.error
    assert job.done == 6 and Lead.objects.count() == 6
    assert processes[0].child.returncode == 0

    monkeypatch.undo()  # the real parser, in the thread: the re-run carries on
    job = import_run(job_id=job.pk, chunk_size=3)
    assert job.status == Job.Status.DONE and Lead.objects.count() == 10 and StageChange.objects.count() == 10


def test_a_parser_process_that_cannot_load_django_leaves_the_parsing_to_a_thread(
    org, marketer, processes, monkeypatch, caplog
):
    monkeypatch.setattr(imports, "_PARSER_COMMAND", "import sys; sys.exit(3)")
    job = import_run(job_id=mapped_job(org, marketer, b"email\na@x.example\n").pk)
    assert job.status == Job.Status.DONE and job.result["created"] == 1
    assert processes[0].child.returncode == 3 and "parsing in a thread" in caplog.text


def test_a_parser_process_that_dies_after_starting_fails_the_job(org, marketer, processes, monkeypatch):
    dies = imports._PARSER_COMMAND.replace(
        "parser_main(out)", "_write_frame(os.fdopen(out, 'wb'), _READY); os._exit(3)"
    ).replace("import parser_main", "import _READY, _write_frame")
    monkeypatch.setattr(imports, "_PARSER_COMMAND", dies)
    job = import_run(job_id=mapped_job(org, marketer, b"email\na@x.example\n").pk)
    assert job.status == Job.Status.FAILED
    assert "ParserStopped: The parser process stopped (exit status 3)" in job.error
    assert not Lead.objects.exists()


def test_the_parser_process_is_stopped_when_the_writing_fails(org, marketer, processes, monkeypatch):
    content = csv_bytes([["email"], *[[f"l{i}@x.example"] for i in range(50)]])
    job = mapped_job(org, marketer, content)

    def fails(ctx, rows):
        raise RuntimeError("database gone")

    monkeypatch.setattr(imports, "_write", fails)
    job = import_run(job_id=job.pk, chunk_size=2)
    assert job.status == Job.Status.FAILED and "database gone" in job.error
    # Stopped and waited for: it was still parsing when the writer failed.
    assert processes[0].child.returncode is not None
    assert not processes[0].feeder.is_alive()


def test_without_a_parser_process_a_thread_parses(org, marketer, processes, monkeypatch, caplog):
    def cannot_start(*args, **kwargs):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(imports.subprocess, "Popen", cannot_start)
    job = import_run(job_id=mapped_job(org, marketer, b"email\na@x.example\nb@x.example\n").pk)
    assert job.status == Job.Status.DONE and job.result["created"] == 2
    assert not processes and "parsing in a thread" in caplog.text


def test_a_file_whose_reading_fails_midway_fails_the_job_and_imports_nothing_made_up(
    org, marketer, processes, monkeypatch
):
    """The child must not take the bytes it got for the whole file (its last row cut short)."""
    job = mapped_job(org, marketer, csv_bytes([["email", "first_name"], ["a@x.example", "Ann"]]))
    storage = job.file.storage
    real_open = storage.open

    class FailsOnTheSecondRead:
        def __init__(self, raw) -> None:
            self.raw, self.reads = raw, 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads == 2:
                raise OSError(5, "Input/output error")
            return self.raw.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc_info) -> None:
            self.raw.close()

    opened = []

    def open_(name, mode="rb"):  # the row count reads the file first; the parser's reading fails
        opened.append(name)
        return FailsOnTheSecondRead(real_open(name, mode)) if len(opened) > 1 else real_open(name, mode)

    monkeypatch.setattr(storage, "open", open_)
    with pytest.raises(OSError, match="Input/output error"):  # raised for the task's retry
        import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "OSError" in job.error
    assert not Lead.objects.exists()
    assert processes[0].child.returncode is not None and not processes[0].feeder.is_alive()


def test_what_the_child_prints_while_starting_does_not_reach_the_frames(org, marketer, processes, monkeypatch):
    # Printed while Django and the apps load (after the command has set its frames' channel aside).
    chatty = imports._PARSER_COMMAND.replace("django.setup();", "print('starting'); django.setup(); print('ready');")
    assert chatty != imports._PARSER_COMMAND
    monkeypatch.setattr(imports, "_PARSER_COMMAND", chatty)
    job = import_run(job_id=mapped_job(org, marketer, b"email\na@x.example\n").pk)
    assert job.status == Job.Status.DONE and job.result["created"] == 1


def test_garbled_output_stops_the_child_and_fails_the_job(org, marketer, processes, monkeypatch):
    garbles = imports._PARSER_COMMAND.replace(
        "parser_main(out)",
        "f = os.fdopen(out, 'wb'); _write_frame(f, _READY); f.write(b'x' * 64); f.flush(); time.sleep(60)",
    ).replace("import parser_main", "import _READY, _write_frame; import time")
    monkeypatch.setattr(imports, "_PARSER_COMMAND", garbles)
    job = import_run(job_id=mapped_job(org, marketer, b"email\na@x.example\n").pk)
    assert job.status == Job.Status.FAILED and "garbled" in job.error
    assert processes[0].child.returncode is not None  # killed, not waited for a minute


def test_lead_input_can_be_rebuilt_from_its_values_in_field_order():
    """What the parser process sends a row's LeadInput as (imports._packed / _unpacked)."""
    assert all(f.init and not f.kw_only for f in dataclasses.fields(LeadInput))
    data = LeadInput(email="a@x.example", title="CTO", company_size=10)
    assert LeadInput(*(getattr(data, name) for name in imports._INPUT_FIELDS)) == data


def test_a_parsed_chunk_goes_through_a_frame_as_it_was():
    """A chunk goes by marshal (imports._write_frame with plain=True), other frames by pickle."""
    data = LeadInput(email="a@x.example", first_name="Ann", company_size=10, country="GB")
    parsed = imports.Parsed(
        rows=[imports.Row(2, data, "a@x.example", "x.example", "", "a@x.example\tAnn")],
        problems=[imports.Problem(3, "Email", "nope", "Enter a valid email address.")],
        counts=imports.Counts(rows=2, errors=1),
        groups=[0],
    )
    stream = io.BytesIO()
    imports._write_frame(stream, imports._packed(parsed), plain=True)
    imports._write_frame(stream, ValueError("stopped"), plain=True)  # marshal cannot: pickled
    stream.seek(0)
    assert stream.getvalue()[:4] == b"SMKM"
    assert imports._unpacked(imports._read_frame(stream)) == parsed
    error = imports._read_frame(stream)
    assert isinstance(error, ValueError) and str(error) == "stopped"
