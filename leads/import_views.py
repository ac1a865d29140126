"""Pages of the CSV import: upload, map columns with a preview, progress, and the errors CSV."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from leads import imports
from leads.models import Job
from smarketing.accounts.tenancy import org_required
from smarketing.errors import InvalidInput
from smarketing.forms import call_service

RECENT = 20


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Up to 200 MB, UTF-8 (Excel: “CSV UTF-8”). The first line names the columns.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class MappingForm(forms.Form):
    """A lead attribute (or ignore) for each column of the file, and what to do with existing leads."""

    mode = forms.ChoiceField(
        label="Leads that exist already",
        choices=imports.Mode.CHOICES,
        initial=imports.Mode.SKIP,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, columns: list[str], suggested: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        choices = [("", "— ignore —"), *imports.ATTRIBUTES]
        for i, name in enumerate(columns):
            self.fields[f"column_{i}"] = forms.ChoiceField(
                label=name or f"Column {i + 1}", choices=choices, required=False, initial=suggested[i]
            )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"column_{i}"] for i in range(len(self.columns))]

    def clean(self):
        data = super().clean()
        try:
            imports.validate_mapping(self.mapping(), self.columns)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None
        return data

    def mapping(self) -> list[str]:
        data = getattr(self, "cleaned_data", {})
        return [data.get(f"column_{i}", "") for i in range(len(self.columns))]


def _mapping_form(job: Job, data=None) -> MappingForm:
    columns = job.params.get("columns", [])
    return MappingForm(data, columns=columns, suggested=imports.suggest_mapping(columns))


def _preview(job: Job, form: MappingForm) -> tuple[list[imports.PreviewRow], list[str]]:
    """Rows as the form's mapping (or the suggested one, before any choice) would import them,
    and the headings of the mapped attributes."""
    if form.is_bound:
        form.is_valid()
        mapping = form.mapping()
        mode = form.cleaned_data.get("mode") or imports.Mode.SKIP
    else:
        mapping, mode = [form[f"column_{i}"].initial for i in range(len(form.columns))], imports.Mode.SKIP
    headings = [imports.ATTRIBUTE_LABELS[a] for a in mapping if a in imports.ATTRIBUTE_LABELS]
    return imports.import_preview(job=job, mapping=mapping, mode=mode), headings


def _can_map(job: Job) -> bool:
    return bool(job.file) and "columns" in job.params and job.status == Job.Status.PENDING


@org_required(permission="leads.import")
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = call_service(
            form, imports.import_upload, org=request.org, actor=request.membership, upload=form.cleaned_data["file"]
        )
        if job is not None:
            return redirect("imports:map", job.pk)
    jobs = imports.import_jobs(org=request.org)[:RECENT]
    return render(request, "leads/import_upload.html", {"form": form, "jobs": jobs})


@org_required(permission="leads.import")
def import_map(request: HttpRequest, job_id: int) -> HttpResponse:
    job = imports.import_job_get(org=request.org, job_id=job_id)
    if not _can_map(job) or job.params.get("queued_at"):
        return redirect("imports:progress", job.pk)
    form = _mapping_form(job, request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "start" and form.is_valid():
        started = call_service(
            form, imports.import_start, job=job, mapping=form.mapping(), mode=form.cleaned_data["mode"]
        )
        if started is not None:
            messages.success(request, "Import started.")
            return redirect("imports:progress", job.pk)
    rows, headings = _preview(job, form)
    context = {
        "job": job,
        "form": form,
        "columns": list(zip(form.column_fields(), imports.import_sample(job=job), strict=True)),
        "rows": rows,
        "headings": headings,
    }
    return render(request, "leads/import_map.html", context)


@org_required(permission="leads.import")
@require_GET
def import_preview(request: HttpRequest, job_id: int) -> HttpResponse:
    """The preview table for the mapping being chosen (htmx, on every change of a select)."""
    job = imports.import_job_get(org=request.org, job_id=job_id)
    rows, headings = [], []
    if _can_map(job):
        rows, headings = _preview(job, _mapping_form(job, request.GET))
    return render(request, "leads/import_preview.html", {"rows": rows, "headings": headings})


@org_required(permission="leads.import")
@require_GET
def import_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = imports.import_job_get(org=request.org, job_id=job_id)
    return render(request, "leads/import_progress.html", {"job": job})


@org_required(permission="leads.import")
@require_GET
def import_progress_partial(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress box alone: polled every second by htmx until the import finishes."""
    job = imports.import_job_get(org=request.org, job_id=job_id)
    return render(request, "leads/import_progress_partial.html", {"job": job})


@org_required(permission="leads.import")
@require_GET
def import_errors(request: HttpRequest, job_id: int) -> HttpResponse:
    """The rows that were not imported and why (cells made formula-safe when written)."""
    job = imports.import_job_get(org=request.org, job_id=job_id)
    name = f"import-{job.pk}-errors.csv"
    if not job.errors_file:
        response = HttpResponse("\ufeffline,column,value,error\r\n", content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    try:
        stored = job.errors_file.storage.open(job.errors_file.name, "rb")
    except OSError:
        raise Http404("The errors file is not available any more.") from None
    return FileResponse(stored, as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
