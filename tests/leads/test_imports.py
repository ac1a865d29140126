from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from leads import imports
from leads.exports import LEAD_COLUMNS
from leads.imports import Mode, import_run, import_start, import_upload, suggest_mapping
from leads.models import Company, Job, Lead, LeadScore, LeadScoreExplanation, ScoringModel, StageChange
from leads.services import LeadInput, lead_create
from leads.tasks import import_leads
from smarketing.errors import Conflict, InvalidInput
from tests.factories import LeadFactory, PersonaFactory

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content if content is not None else (FIXTURES / name).read_bytes())


def run_import(org, actor, content: bytes, *, mode=Mode.SKIP, mapping=None, capture) -> Job:
    """Upload, map (the suggestion unless given), start, and run through the task: the job, reloaded."""
    job = import_upload(org=org, actor=actor, upload=upload("leads.csv", content))
    with capture(execute=True):
        import_start(job=job, mapping=mapping or suggest_mapping(job.params["columns"]), mode=mode)
    job.refresh_from_db()
    return job


@pytest.fixture
def do_import(org, marketer, django_capture_on_commit_callbacks):
    def _do(content: bytes, **kwargs) -> Job:
        return run_import(org, marketer, content, capture=django_capture_on_commit_callbacks, **kwargs)

    return _do


def errors_csv(job: Job) -> list[list[str]]:
    with job.errors_file.open("rb") as f:
        return list(csv.reader(io.StringIO(f.read().decode("utf-8-sig"))))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


# --- Mapping ------------------------------------------------------------------------------


def test_our_own_export_maps_without_manual_mapping():
    columns = [name for name, _ in LEAD_COLUMNS]
    mapping = dict(zip(columns, suggest_mapping(columns), strict=True))
    assert mapping["email"] == "email"
    assert mapping["first_name"] == "first_name" and mapping["last_name"] == "last_name"
    assert mapping["title"] == "title" and mapping["company"] == "company_name"
    assert mapping["buyer_stage"] == "buyer_stage"
    assert {mapping[c] for c in ("id", "lifecycle_stage", "persona", "owner", "fit_score", "created_at")} == {""}


def test_our_own_export_imports_back(do_import):
    job = do_import((FIXTURES / "smarketing_export.csv").read_bytes())
    assert job.result["created"] == 1
    eve = Lead.objects.get(email="eve@tailspin.example")
    assert (eve.first_name, eve.title, eve.company_name, eve.buyer_stage) == (
        "Eve",
        "Operations Lead",
        "Tailspin",
        "consideration",
    )
    assert eve.lifecycle_stage == "lead" and eve.company.domain == "tailspin.example"  # stage is ours to set


def test_hubspot_contacts_export_maps_and_imports(org, marketer, do_import):
    job = import_upload(org=org, actor=marketer, upload=upload("hubspot_contacts.csv"))
    mapping = dict(zip(job.params["columns"], suggest_mapping(job.params["columns"]), strict=True))
    assert {k: v for k, v in mapping.items() if v} == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Job Title": "title",
        "Company Name": "company_name",
        "Website URL": "company_domain",  # the first of the two domain columns
        "Industry": "industry",
        "Number of Employees": "company_size",
        "Country/Region": "country",
    }

    job = do_import((FIXTURES / "hubspot_contacts.csv").read_bytes())
    assert job.status == Job.Status.DONE and job.result["created"] == 2
    ann = Lead.objects.get(email="ann.archer@northwind.example")
    assert (ann.first_name, ann.title, ann.phone) == ("Ann", "Head of Marketing", "+44 20 7946 0001")
    assert (ann.company.domain, ann.company.name, ann.company.size, ann.company.country) == (
        "northwind.example",
        "Northwind Traders",
        250,
        "GB",  # "United Kingdom" in the file
    )
    bo = Lead.objects.get(email="bo@contoso.example")
    assert (bo.company.size, bo.company.country) == (1200, "DE")  # "Deutschland"


def test_salesforce_leads_export_maps_and_imports(org, marketer, do_import):
    columns = next(csv.reader(io.StringIO((FIXTURES / "salesforce_leads.csv").read_text())))
    mapping = dict(zip(columns, suggest_mapping(columns), strict=True))
    assert {k: v for k, v in mapping.items() if v} == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Title": "title",
        "Company": "company_name",
        "Email": "email",
        "Phone": "phone",  # "Mobile" also means phone: the first column wins
        "Industry": "industry",
        "No. of Employees": "company_size",
        "Website": "company_domain",
        "Country": "country",
    }
    job = do_import((FIXTURES / "salesforce_leads.csv").read_bytes())
    assert job.result["created"] == 2 and job.result["errors"] == 0
    dev = Lead.objects.select_related("company").get(email="dev@litware.example")
    assert (dev.company.domain, dev.company.industry, dev.company.country) == ("litware.example", "Software", "IN")
    assert Lead.objects.get(email="cleo@fabrikam.example").company.country == "US"  # "USA" in the file


# --- Upload ------------------------------------------------------------------------------


def test_utf16_file_is_refused_with_a_clear_message(login, marketer):
    content = "email,first_name\nann@x.example,Ann\n".encode("utf-16")
    response = login(marketer).post(reverse("imports:upload"), {"file": upload("leads.csv", content)})
    assert response.status_code == 200
    assert "The file is not UTF-8 text; save it as CSV UTF-8" in response.content.decode()
    assert not Job.objects.exists()


def test_spreadsheet_file_is_refused(org, marketer):
    with pytest.raises(InvalidInput, match="not UTF-8 text"):
        import_upload(
            org=org, actor=marketer, upload=upload("leads.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00")
        )


def test_windows_1252_file_is_read_as_such(org, marketer, do_import):
    job = do_import("email;first_name;last_name\nzoe@x.example;Zoë;Lefèvre\n".encode("cp1252"))
    assert job.params["encoding"] == "cp1252" and job.params["delimiter"] == ";"
    assert Lead.objects.get(email="zoe@x.example").last_name == "Lefèvre"


def test_utf8_with_byte_order_mark_maps_the_first_column(org, marketer):
    job = import_upload(
        org=org, actor=marketer, upload=upload("leads.csv", "\ufeffEmail,Name\na@x.example,A\n".encode())
    )
    assert job.params["columns"][0] == "Email" and suggest_mapping(job.params["columns"])[0] == "email"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"email,first_name\n", "no rows"), (b"\n\nann@x.example\n", "first line should name")],
)
def test_files_without_rows_or_header_are_refused(org, marketer, content, message):
    with pytest.raises(InvalidInput, match=message):
        import_upload(org=org, actor=marketer, upload=upload("leads.csv", content))


def test_file_over_the_size_limit_is_refused(org, marketer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(InvalidInput, match="the limit is"):
        import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\nann@x.example\n"))


# --- Map and start -----------------------------------------------------------------------


def test_upload_map_preview_start_and_progress_pages(login, org, marketer, django_capture_on_commit_callbacks):
    LeadFactory(organization=org, email="bo@contoso.example")
    client = login(marketer)
    response = client.post(reverse("imports:upload"), {"file": upload("hubspot_contacts.csv")})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:map", args=[job.pk])
    assert (job.kind, job.status, job.created_by) == (Job.Kind.IMPORT, Job.Status.PENDING, marketer)

    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<option value="email" selected>' in html  # pre-filled from the header
    rows = page.context["rows"]
    assert [(r.line, r.outcome) for r in rows] == [(2, "new lead"), (3, "skipped: already a lead")]

    fields = {f"column_{i}": a for i, a in enumerate(suggest_mapping(job.params["columns"]))}
    preview = client.get(reverse("imports:preview", args=[job.pk]), {**fields, "mode": "update"})
    assert "Updates the existing lead" in preview.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:map", args=[job.pk]), {**fields, "mode": "update", "action": "start"})
    assert response.status_code == 302 and response.url == reverse("imports:progress", args=[job.pk])
    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert (job.result["created"], job.result["updated"]) == (1, 1)
    assert job.params["mode"] == "update" and job.params["mapping"][3] == "email"

    progress = client.get(response.url).content.decode()
    assert "hx-trigger" not in progress and reverse("leads:lead_list") in progress
    # A started import's mapping page leads to its progress.
    assert client.get(reverse("imports:map", args=[job.pk])).url == reverse("imports:progress", args=[job.pk])
    listing = client.get(reverse("imports:upload")).content.decode()
    assert "hubspot_contacts.csv" in listing and "Done" in listing


def test_import_cannot_start_without_an_email_column(login, org, marketer):
    job = import_upload(org=org, actor=marketer, upload=upload("hubspot_contacts.csv"))
    mapping = ["" if a == "email" else a for a in suggest_mapping(job.params["columns"])]
    fields = {f"column_{i}": a for i, a in enumerate(mapping)}
    response = login(marketer).post(
        reverse("imports:map", args=[job.pk]), {**fields, "mode": "skip", "action": "start"}
    )
    assert response.status_code == 200
    assert "Choose the column that holds the email address" in response.content.decode()
    job.refresh_from_db()
    assert "mapping" not in job.params and job.status == Job.Status.PENDING
    with pytest.raises(InvalidInput):
        import_start(job=job, mapping=mapping, mode=Mode.SKIP)


def test_one_attribute_from_two_columns_is_refused(org, marketer):
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email,phone,mobile\na@x.example,1,2\n"))
    with pytest.raises(InvalidInput, match="Phone comes from phone and mobile"):
        import_start(job=job, mapping=["email", "phone", "phone"], mode=Mode.SKIP)


def test_an_import_starts_once(org, marketer, django_capture_on_commit_callbacks):
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\na@x.example\n"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_start(job=job, mapping=["email"], mode=Mode.SKIP)
    assert len(callbacks) == 1
    with pytest.raises(Conflict):
        import_start(job=job, mapping=["email"], mode=Mode.SKIP)


# --- Rows: problems, duplicates, existing leads -----------------------------------------


def test_rows_with_problems_are_reported_by_line_and_the_others_imported(do_import):
    content = (FIXTURES / "rows_with_problems.csv").read_bytes()
    content += b"long@acme.example," + b"x" * 10_001 + b",Long,Acme,GB,10,CTO\r\n"
    content += b"=cmd|' /C calc'!A0,Evil,Email,Acme,GB,10,CTO\r\n"
    job = do_import(content)

    assert job.status == Job.Status.DONE
    assert job.result == {"rows": 7, "created": 2, "updated": 0, "skipped": 0, "duplicates": 0, "errors": 5}
    assert set(Lead.objects.values_list("email", flat=True)) == {"good@acme.example", "formula@acme.example"}
    good = Lead.objects.get(email="good@acme.example")
    assert good.title == "Head of\r\nMarketing"
    # Formula-looking cells are stored as they are (an export neutralises them).
    assert Lead.objects.get(email="formula@acme.example").first_name == '=HYPERLINK("http://evil.example")'

    header, *rows = errors_csv(job)
    assert header == ["line", "column", "value", "error"]
    by_line = {int(line): (column, value, error) for line, column, value, error in rows}
    assert by_line[4] == ("email", "not-an-email", "“not-an-email” is not a valid email address.")
    assert by_line[5] == (
        "country",
        "Narnia",
        "“Narnia” is not a country we know: use its name in English (e.g. United Kingdom) or its ISO code (GB or GBR).",
    )
    assert by_line[7] == ("company_size", "lots", "Company size is a number of employees.")
    column, value, error = by_line[9]
    assert column == "first_name" and error == "First name is 10001 characters; the limit is 100."
    assert len(value) == imports.ERROR_VALUE_CHARS + 1
    # The errors CSV is safe to open in a spreadsheet.
    assert by_line[10][1] == "'=cmd|' /C calc'!A0"
    assert sorted(by_line) == [4, 5, 7, 9, 10]


def test_a_field_longer_than_its_column_is_an_error(do_import):
    job = do_import(b"email,phone\nann@x.example," + b"1" * 41 + b"\n")
    assert job.result["errors"] == 1 and not Lead.objects.exists()
    assert errors_csv(job)[1][3] == "Phone is 41 characters; the limit is 40."


def test_a_row_with_several_problems_reports_each(do_import):
    job = do_import(b"email,country,seniority\nnope,Narnia,boss\n")
    messages = [row[3] for row in errors_csv(job)[1:]]
    assert len(messages) == 3 and all(row[0] == "2" for row in errors_csv(job)[1:])


COUNTRY_SPELLINGS = [
    ("GB", "GB"),
    ("gb", "GB"),
    ("GBR", "GB"),
    ("United Kingdom", "GB"),
    ("UK", "GB"),
    ("U.K.", "GB"),
    ("England", "GB"),
    ("Scotland", "GB"),
    ("United States", "US"),
    ("United States of America", "US"),
    ("USA", "US"),
    ("U.S.", "US"),
    ("Deutschland", "DE"),
    ("germany", "DE"),
    ("Côte d'Ivoire", "CI"),
    ("South Korea", "KR"),
    ("Vietnam", "VN"),
]


def test_country_names_aliases_and_codes_import_as_iso_codes(do_import):
    rows = [["Email", "Company", "Website", "Country"]]
    rows += [
        [f"p{i}@co{i}.example", f"Co {i}", f"co{i}.example", given] for i, (given, _) in enumerate(COUNTRY_SPELLINGS)
    ]

    job = do_import(csv_bytes(rows))

    assert job.result["created"] == len(COUNTRY_SPELLINGS) and job.result["errors"] == 0
    stored = dict(Company.objects.values_list("domain", "country"))
    assert [stored[f"co{i}.example"] for i in range(len(COUNTRY_SPELLINGS))] == [c for _, c in COUNTRY_SPELLINGS]


def test_an_unknown_country_is_an_error_that_names_it_and_says_what_is_accepted(do_import):
    job = do_import(b"Email,Country\nann@x.example,Westeros\nbo@x.example,XX\ncy@x.example,France\n")

    assert (job.result["created"], job.result["errors"]) == (1, 2)
    assert Lead.objects.get().email == "cy@x.example"
    errors = {row[2]: row[3] for row in errors_csv(job)[1:]}
    assert errors["Westeros"].startswith("“Westeros” is not a country we know: use its name in English")
    assert "ISO code (GB or GBR)" in errors["XX"]


def test_the_preview_shows_the_iso_code_of_a_country_name(org, marketer):
    job = import_upload(org=org, actor=marketer, upload=upload("hubspot_contacts.csv"))
    mapping = suggest_mapping(job.params["columns"])
    rows = imports.import_preview(job=job, mapping=mapping, mode=Mode.SKIP)
    country = [a for a in mapping if a].index("country")
    assert [(r.values[country], r.problems) for r in rows] == [("GB", []), ("DE", [])]


@pytest.mark.parametrize(("given", "size"), [("51-200", 51), ("10,001+", 10_001), ("1 - 10", 1), ("201–500", 201)])
def test_an_employee_band_imports_as_its_lower_bound(do_import, given, size):
    job = do_import(csv_bytes([["Email", "Website", "Employees"], ["ann@x.example", "x.example", given]]))
    assert job.result["created"] == 1
    assert Company.objects.get(domain="x.example").size == size


def test_an_employee_band_upside_down_is_an_error(do_import):
    job = do_import(b"Email,Employees\nann@x.example,200-51\n")
    assert job.result["errors"] == 1 and errors_csv(job)[1][3] == "Company size is a number of employees."


@pytest.mark.parametrize("chunk_size", [imports.CHUNK_SIZE, 2])
def test_duplicate_rows_in_the_file_import_the_first(do_import, monkeypatch, chunk_size):
    monkeypatch.setattr(imports, "CHUNK_SIZE", chunk_size)  # 2: the duplicates fall in later chunks
    content = (
        b"email,first_name\nann@x.example,Ann\nbo@x.example,Bo\nANN@x.example,Annie\ncy@x.example,Cy\nann@x.example,A\n"
    )
    job = do_import(content)
    assert Lead.objects.count() == 3 and Lead.objects.get(email="ann@x.example").first_name == "Ann"
    assert (job.result["created"], job.result["duplicates"], job.result["errors"]) == (3, 2, 0)
    assert [row[0] for row in errors_csv(job)[1:]] == ["4", "6"]
    assert errors_csv(job)[1][3] == "Duplicate of line 2; not imported."


def test_existing_leads_are_skipped(org, do_import):
    LeadFactory(organization=org, email="ann@x.example", first_name="Ann", title="CEO")
    job = do_import(b"Email,First Name,Job Title\nANN@x.example,Annie,CTO\nbo@x.example,Bo,\n", mode=Mode.SKIP)
    assert (job.result["created"], job.result["skipped"], job.result["updated"]) == (1, 1, 0)
    assert Lead.objects.get(email="ann@x.example").title == "CEO"


def test_existing_leads_are_updated_with_the_non_empty_values(org, do_import):
    lead = LeadFactory(organization=org, email="ann@x.example", first_name="Ann", last_name="Archer", title="CEO")
    job = do_import(b"Email,First Name,Last Name,Job Title\nann@x.example,,Smith,CTO\n", mode=Mode.UPDATE)
    assert (job.result["created"], job.result["updated"]) == (0, 1)
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.title) == ("Ann", "Smith", "CTO")  # empty cells erase nothing
    # The same file again changes nothing: the row is skipped as up to date.
    job = do_import(b"Email,First Name,Last Name,Job Title\nann@x.example,,Smith,CTO\n", mode=Mode.UPDATE)
    assert (job.result["updated"], job.result["skipped"]) == (0, 1)


def test_a_company_named_by_new_and_updated_leads_takes_their_values_in_file_order(org, do_import):
    LeadFactory(organization=org, email="kim@kim.example")
    rows = [
        ["Email", "Website", "Company size", "Industry"],
        ["kim@kim.example", "acme.example", "100", ""],  # updates kim
        ["new@acme.example", "acme.example", "200", "Retail"],  # a new lead, later in the file
        ["kim@kim.example", "acme.example", "", "Software"],  # kim again
    ]
    job = do_import(csv_bytes(rows), mode=Mode.UPDATE)
    assert (job.result["created"], job.result["updated"]) == (1, 2)
    company = Company.objects.get(organization=org, domain="acme.example")
    assert (company.size, company.industry) == (200, "Software")  # the last non-empty value of each


def test_an_update_row_describing_a_company_keeps_the_leads_company(org, do_import):
    """As lead_update: industry, size or country describe the lead's company as it is; only a
    domain (or, for a company known by name alone, another name) finds another one."""
    from leads.services import LeadInput, lead_create

    acme_lead = lead_create(
        org=org, rule="t", data=LeadInput(email="eve@gmail.com", company_name="Acme", company_domain="acme.example")
    )
    globex_lead = lead_create(
        org=org,
        rule="t",
        data=LeadInput(email="fay@fay-mail.example", company_name="Globex", company_domain="globex.example"),
    )
    mover = lead_create(
        org=org, rule="t", data=LeadInput(email="max@initech.example", company_domain="initech.example")
    )
    rows = [
        ["Email", "Country", "Industry", "Website"],
        ["eve@gmail.com", "Germany", "", ""],
        ["fay@fay-mail.example", "", "Retail", ""],
        ["max@initech.example", "", "", "umbrella.example"],
    ]
    job = do_import(csv_bytes(rows), mode=Mode.UPDATE)

    assert (job.result["updated"], job.result["errors"]) == (3, 0)
    leads = {lead.email: lead for lead in Lead.objects.select_related("company")}
    assert (leads["eve@gmail.com"].company_id, leads["eve@gmail.com"].company.country) == (acme_lead.company_id, "DE")
    fay = leads["fay@fay-mail.example"]
    assert (fay.company_id, fay.company.industry) == (globex_lead.company_id, "Retail")
    assert leads["max@initech.example"].company.domain == "umbrella.example" != mover.company.domain
    assert not Company.objects.filter(organization=org, domain="fay-mail.example").exists()


def test_imported_leads_are_matched_to_a_persona_and_fit_scored(org, do_import):
    persona = PersonaFactory(
        organization=org, name="Marketing Mary", industries=["Software"], title_keywords=["marketing"]
    )
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        persona_match_points=10,
        fit_rules=[{"attribute": "country", "operator": "in", "value": ["GB"], "points": 15}],
    )
    job = do_import((FIXTURES / "hubspot_contacts.csv").read_bytes())
    ann = Lead.objects.get(email="ann.archer@northwind.example")
    assert ann.persona == persona
    assert (ann.fit_score, ann.total_score) == (25, 25)
    assert [w["points"] for w in ann.score_explanation["fit"]] == [10, 15]
    change = StageChange.objects.get(lead=ann)
    assert (change.from_stage, change.to_stage, change.rule, change.actor) == (
        "",
        "lead",
        f"import:{job.pk}",
        job.created_by,
    )
    assert change.total_score == 25 and change.reason == "Imported from line 2"


def test_fit_by_company_size_is_worked_out_for_each_size_range(org, do_import):
    """Leads of companies of different sizes get the persona and fit their own size earns,
    whichever row of the file came first."""
    PersonaFactory(organization=org, name="Mid-market Max", company_size_min=200, company_size_max=1000)
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        persona_match_points=10,
        fit_rules=[
            {"attribute": "company_size", "operator": "gte", "value": 500, "points": 5},
            {"attribute": "company_size", "operator": "lte", "value": "1000", "points": 3},
        ],
    )
    sizes = {"a": 1200, "b": 1000, "c": 700, "d": 500, "e": 499, "f": 200, "g": 199, "h": 650, "i": 1001}
    rows = [["email", "company domain", "employees"]]
    rows += [[f"{name}@{name}.example", f"{name}.example", str(size)] for name, size in sizes.items()]
    rows.append(["j@j.example", "", ""])  # no size
    do_import(csv_bytes(rows))
    fits = {lead.email[0]: (lead.fit_score, lead.persona_id is not None) for lead in Lead.objects.all()}
    assert fits == {
        "a": (5, False),
        "b": (18, True),
        "c": (18, True),
        "d": (18, True),
        "e": (13, True),
        "f": (13, True),
        "g": (3, False),
        "h": (18, True),
        "i": (5, False),
        "j": (0, False),
    }


def test_fit_by_a_rule_on_one_exact_company_size(org, do_import):
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        fit_rules=[{"attribute": "company_size", "operator": "equals", "value": "250", "points": 7}],
    )
    do_import(b"email,company domain,employees\na@a.example,a.example,251\nb@b.example,b.example,250\n")
    assert {lead.email: lead.fit_score for lead in Lead.objects.all()} == {"a@a.example": 0, "b@b.example": 7}


def test_deleting_an_imported_lead_takes_its_score_explanation_and_history(org, do_import):
    PersonaFactory(organization=org, name="Marketing Mary", title_keywords=["marketing"])
    ScoringModel.objects.create(organization=org, version=1, status="active", persona_match_points=10)
    do_import(b"email,title\nann@a.example,Head of Marketing\nbo@b.example,Head of Marketing\n")
    ann = Lead.objects.get(email="ann@a.example")
    assert ann.score_explanation["fit"] and StageChange.objects.filter(lead=ann).exists()
    ann.delete()
    assert not LeadScore.objects.filter(lead_id=ann.pk).exists()
    assert not LeadScoreExplanation.objects.filter(lead_id=ann.pk).exists()
    assert not StageChange.objects.filter(lead_id=ann.pk).exists()
    bo = Lead.objects.get(email="bo@b.example")
    assert bo.fit_score == 10 and StageChange.objects.filter(lead=bo).count() == 1


def test_companies_are_shared_by_domain_and_free_mail_is_no_domain(org, do_import):
    Company.objects.create(organization=org, name="Acme", domain="acme.example")
    lead_create(org=org, data=LeadInput(email="old@acme.example"), rule="test")
    do_import(
        b"email,company,industry\n"
        b"a@acme.example,,Software\nb@ACME.example,Acme Inc,\nc@gmail.com,Solo Ltd,\nd@gmail.com,,\ne@new.example,,\n"
    )
    acme = Company.objects.get(domain="acme.example")
    assert acme.industry == "Software" and acme.leads.count() == 3
    assert Lead.objects.get(email="c@gmail.com").company.name == "Solo Ltd"
    assert Lead.objects.get(email="d@gmail.com").company is None
    assert Lead.objects.get(email="e@new.example").company.name == "New"


# --- Idempotency, progress, the task -----------------------------------------------------


def test_a_job_that_died_runs_again_without_duplicates(org, marketer, do_import):
    content = csv_bytes([["email"], *[[f"l{i}@x.example"] for i in range(10)], ["l0@x.example"]])
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", content))
    job.params |= {"mapping": ["email"], "mode": Mode.SKIP}
    job.save()
    real_write, calls = imports._write, []

    def dies_on_the_third_chunk(ctx, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_write(ctx, rows)

    with mock.patch.object(imports, "_write", dies_on_the_third_chunk):
        job = import_run(job_id=job.pk, chunk_size=4)
    assert job.status == Job.Status.FAILED and "worker lost" in job.error
    assert job.done == 8 and Lead.objects.count() == 8  # what was committed stays

    job = import_run(job_id=job.pk, chunk_size=4)
    assert job.status == Job.Status.DONE and job.error == ""
    assert Lead.objects.count() == 10 and StageChange.objects.count() == 10
    assert job.result == {"rows": 11, "created": 10, "updated": 0, "skipped": 0, "duplicates": 1, "errors": 0}
    assert errors_csv(job)[1][:1] == ["12"]

    # Delivered once more after it finished: nothing happens.
    assert import_run(job_id=job.pk).finished_at == job.finished_at
    # The same file imported again by a new job creates nothing.
    again = do_import(content)
    assert (again.result["created"], again.result["skipped"]) == (0, 11)
    assert Lead.objects.count() == 10 and StageChange.objects.count() == 10


def test_a_row_that_breaks_the_reader_fails_the_job_and_keeps_the_chunks_before(org, marketer):
    content = csv_bytes([["email"], *[[f"l{i}@x.example"] for i in range(10)]])
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", content))
    job.params |= {"mapping": ["email"], "mode": Mode.SKIP}
    job.save()
    real_parse = imports.parse_row

    def breaks_on_line_eight(cells, plan, line, org):
        if line == 8:
            raise RuntimeError("unreadable")
        return real_parse(cells, plan, line, org)

    with mock.patch.object(imports, "parse_row", breaks_on_line_eight):
        job = import_run(job_id=job.pk, chunk_size=3)
    assert job.status == Job.Status.FAILED and "RuntimeError: unreadable" in job.error
    assert job.done == 6 and Lead.objects.count() == 6

    job = import_run(job_id=job.pk, chunk_size=3)
    assert job.status == Job.Status.DONE and Lead.objects.count() == 10 and StageChange.objects.count() == 10
    assert job.result == {"rows": 10, "created": 10, "updated": 0, "skipped": 0, "duplicates": 0, "errors": 0}


def test_progress_is_recorded_after_every_chunk(org, marketer):
    content = csv_bytes([["email"], *[[f"l{i}@x.example"] for i in range(7)]])
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", content))
    job.params |= {"mapping": ["email"], "mode": Mode.SKIP}
    job.save()
    seen, real_write = [], imports._write

    def watch(ctx, rows):
        current = Job.objects.get(pk=ctx.job.pk)
        seen.append((current.status, current.total, current.done, current.result.get("created")))
        return real_write(ctx, rows)

    with mock.patch.object(imports, "_write", watch):
        job = import_run(job_id=job.pk, chunk_size=3)
    assert seen == [("running", 7, 0, None), ("running", 7, 3, 3), ("running", 7, 6, 6)]
    assert (job.status, job.total, job.done, job.percent) == ("done", 7, 7, 100)
    assert job.started_at and job.finished_at


def test_the_task_retries_on_storage_errors_and_fails_the_job_otherwise(org, marketer):
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\na@x.example\n"))
    job.params |= {"mapping": ["email"], "mode": Mode.SKIP}
    job.save()
    with mock.patch.object(imports, "_run", side_effect=OSError("disk gone")), pytest.raises(OSError):
        imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    with mock.patch.object(imports, "_run", side_effect=ValueError("bug")):
        import_leads(job.pk)  # recorded on the job, not raised
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "ValueError: bug" in job.error
    import_leads(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE and Lead.objects.filter(email="a@x.example").exists()


def test_twenty_thousand_rows_import_in_a_bounded_number_of_queries(
    org, marketer, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    rows = [["Email", "First Name", "Company", "Website", "Industry", "Country"]]
    for i in range(20_000):
        rows.append([f"person{i}@co{i % 700}.example", f"P{i}", f"Co {i % 700}", "", "Software", "GB"])
    rows[1234][0] = "broken"
    rows.append(["person7000@co0.example", "Again", "", "", "", ""])
    job = import_upload(org=org, actor=marketer, upload=upload("big.csv", csv_bytes(rows)))
    job.params |= {"mapping": suggest_mapping(job.params["columns"]), "mode": Mode.SKIP}
    job.save()

    chunk = imports.CHUNK_SIZE
    ops = connection.ops
    # Per chunk: a handful of lookups and writes, plus the INSERT batches the database's
    # parameter limit imposes (SQLite splits a chunk; PostgreSQL takes it in one).
    inserts = sum(
        math.ceil(chunk / max(1, ops.bulk_batch_size([f.name for f in model._meta.concrete_fields], [None] * chunk)))
        for model in (Lead, StageChange, Company)
    )
    per_chunk = 12 + inserts
    chunks = math.ceil(5_000 / chunk)
    small = import_upload(org=org, actor=marketer, upload=upload("small.csv", csv_bytes(rows[:5001])))
    small.params |= {"mapping": job.params["mapping"], "mode": Mode.SKIP}
    small.save()
    # + 3: on a new database, ANALYZE of the three tables the import probes (never analysed yet).
    with django_assert_max_num_queries(10 + 3 + per_chunk * chunks):
        import_run(job_id=small.pk)
    assert Lead.objects.count() == 4_999

    job = import_run(job_id=job.pk)
    assert job.result == {
        "rows": 20_001,
        "created": 15_000,
        "updated": 0,
        "skipped": 4_999,
        "duplicates": 1,
        "errors": 1,
    }
    assert Lead.objects.count() == 19_999 == StageChange.objects.count()
    assert Company.objects.count() == 700


# --- Pages: progress partial, errors download, permissions -------------------------------


def test_progress_partial_polls_until_the_import_finishes(login, org, marketer, do_import):
    waiting = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\na@x.example\n"))
    client = login(marketer)
    html = client.get(reverse("imports:progress_partial", args=[waiting.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and reverse("imports:progress_partial", args=[waiting.pk]) in html

    job = do_import(b"email\nb@x.example\nnope\n")
    html = client.get(reverse("imports:progress_partial", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html
    assert reverse("imports:errors", args=[job.pk]) in html and reverse("leads:lead_list") in html
    assert '<progress max="100" value="100"' in html


def test_errors_csv_download(login, marketer, do_import):
    job = do_import(b"email,first_name\n@evil,=1+2\nok@x.example,Ok\n")
    response = login(marketer).get(reverse("imports:errors", args=[job.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f'filename="import-{job.pk}-errors.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [
        ["line", "column", "value", "error"],
        ["2", "email", "'@evil", "“@evil” is not a valid email address."],
    ]


def test_errors_csv_of_an_import_without_errors_is_just_the_header(login, marketer, do_import):
    job = do_import(b"email\nok@x.example\n")
    response = login(marketer).get(reverse("imports:errors", args=[job.pk]))
    assert response.content.decode("utf-8-sig").splitlines() == ["line,column,value,error"]


def test_rep_cannot_import(login, org, rep, marketer):
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\na@x.example\n"))
    client = login(rep)
    assert client.get(reverse("imports:upload")).status_code == 403
    assert client.get(reverse("imports:map", args=[job.pk])).status_code == 403
    assert 'data-testid="import-csv"' not in client.get(reverse("leads:lead_list")).content.decode()
    assert 'data-testid="import-csv"' in login(marketer).get(reverse("leads:lead_list")).content.decode()


def test_another_organisations_import_is_404(login, org, marketer, outsider):
    job = import_upload(org=org, actor=marketer, upload=upload("leads.csv", b"email\na@x.example\n"))
    client = login(outsider)
    for name in ("progress", "progress_partial", "map", "preview", "errors"):
        assert client.get(reverse(f"imports:{name}", args=[job.pk])).status_code == 404


def test_upload_page_lists_recent_imports_in_few_queries(login, org, marketer, django_assert_max_num_queries):
    for i in range(5):
        import_upload(org=org, actor=marketer, upload=upload(f"file{i}.csv", b"email\na@x.example\n"))
    client = login(marketer)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("imports:upload"))
    assert len(response.context["jobs"]) == 5


def test_cells_with_tabs_backslashes_and_line_breaks_are_kept(do_import):
    job = do_import(b'email,title,company\nann@x.example,"Head of\\\\ Ops\tand\r\nIT","Acme \\N"\n')
    assert job.result["created"] == 1
    lead = Lead.objects.get(email="ann@x.example")
    assert (lead.title, lead.company_name) == ("Head of\\\\ Ops\tand\r\nIT", "Acme \\N")


def test_imported_leads_are_compared_by_phone_for_duplicates(org, marketer, do_import):
    from leads.duplicates import lead_duplicates
    from leads.models import phone_key_for

    key = phone_key_for("+44 20 7946 0000")
    existing = LeadFactory(organization=org, email="old@a.test", phone="+44 20 7946 0000", phone_key=key)
    do_import(csv_bytes([["email", "phone"], ["new@b.test", "020 7946 0000"]]))
    imported = Lead.objects.get(email="new@b.test")
    assert imported.phone_key == key == "079460000"
    assert [other for other, _ in lead_duplicates(lead=imported)] == [existing]


def test_statistics_taken_with_no_live_lead_are_taken_again_once_the_import_has_written(do_import, org):
    # PostgreSQL only: analysed with pages but no live row, the lead table looks empty to the
    # planner however many rows the import adds, and the email probe took the phone index.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")

    def statistics() -> tuple[int, float]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relpages, reltuples FROM pg_class WHERE relname = 'leads_lead'")
            return cursor.fetchone()

    LeadFactory.create_batch(40, organization=org)
    with connection.cursor() as cursor:  # every lead deleted, then analysed (as autovacuum would)
        cursor.execute("DELETE FROM leads_lead")
        cursor.execute("ANALYZE leads_lead")
    pages, rows = statistics()
    assert pages > 0 and rows == 0
    job = do_import(b"email,company\nann@acme.test,Acme\nbob@acme.test,Acme\n")
    assert job.status == "done" and job.result["created"] == 2
    assert statistics()[1] > 0


def test_a_table_never_analysed_is_analysed_before_the_probes(do_import):
    # PostgreSQL only: with no statistics the email probe used the organisation's phone index.
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")

    def never_analysed() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname IN ('leads_lead', 'leads_company') AND reltuples < 0"
            )
            return {name for (name,) in cursor.fetchall()}

    with connection.cursor() as cursor:  # a new database's tables (rolled back with the test)
        cursor.execute("TRUNCATE leads_lead, leads_company CASCADE")
    assert never_analysed() == {"leads_lead", "leads_company"}
    job = do_import(b"email,company\nann@acme.test,Acme\nbob@acme.test,Acme\n")
    assert job.status == "done" and job.result["created"] == 2
    assert never_analysed() == set()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # two rows: a scan would do, but not at scale
        cursor.execute(
            "EXPLAIN SELECT id FROM leads_lead WHERE organization_id = %s AND upper(email) = upper(%s) LIMIT 1",
            [job.organization_id, "ann@acme.test"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "lead_email_ci_unique" in plan
