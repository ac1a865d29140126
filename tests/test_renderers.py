"""The project's form renderer writes the same markup as Django's, widget by widget."""

from __future__ import annotations

import datetime

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from smarketing.renderers import FastRenderer

DJANGO = DjangoTemplates()
FAST = FastRenderer()


class Everything(forms.Form):
    text = forms.CharField(max_length=20, help_text="x")
    optional = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": 'Say "hi" & <go>'}))
    number = forms.IntegerField(min_value=1, required=False)
    decimal = forms.DecimalField(required=False, max_digits=6, decimal_places=2)
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False, assume_scheme="https")
    password = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(required=False)
    time = forms.TimeField(required=False)
    agree = forms.BooleanField(required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "disabled": True, "hidden": False}), required=False)
    choice = forms.ChoiceField(choices=[("", "—"), ("a", "A & B"), ("b", gettext_lazy("Lazy")), (3, 4)], required=False)
    grouped = forms.ChoiceField(
        choices=[("", "None"), ("Fruit", [("apple", "Apple"), ("pear", "<Pear>")]), ("x", "X")], required=False
    )
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B"), ("c", "C")], required=False)
    typed = forms.TypedChoiceField(choices=[(1, "One"), (2, "Two")], coerce=int, required=False)
    nullable = forms.NullBooleanField(required=False)
    search = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search", "autofocus": True}))


DATA = {
    "text": 'a "quoted" <b>value</b> & more',
    "optional": "",
    "number": "12",
    "decimal": "1234.5",
    "email": "x@example.com",
    "url": "https://example.com/?a=1&b=2",
    "password": "s3cr<t",
    "hidden": "'single'",
    "day": "2026-11-25",
    "when": "2026-11-25 10:00",
    "time": "10:30",
    "agree": "on",
    "note": "line one\n<line two>",
    "choice": "a",
    "grouped": "pear",
    "many": ["a", "c"],
    "typed": "2",
    "nullable": "true",
    "search": "x",
}


def _html(form: forms.Form, renderer) -> list[str]:
    form.renderer = renderer
    return [str(form[name]) for name in form.fields]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Everything(),
        lambda: Everything(DATA),
        lambda: Everything({"number": "x", "choice": "nope", "many": ["z"]}),
        lambda: Everything(
            initial={
                "text": mark_safe("<i>safe</i>"),
                "number": 1234567,
                "day": datetime.date(2026, 1, 2),
                "note": "",
                "choice": 3,
            }
        ),
    ],
    ids=["unbound", "bound", "invalid", "initial"],
)
def test_fast_renderer_writes_what_django_writes(make):
    assert _html(make(), FAST) == _html(make(), DJANGO)


def test_model_choice_and_custom_templates_still_render(org):
    from leads.forms import LeadFilterForm
    from tests.factories import CampaignFactory, PersonaFactory

    campaign = CampaignFactory(organization=org, name="Q&A <live>")
    PersonaFactory(organization=org, name="Ops")
    data = {"stage": "mql", "q": "<x>", "campaign": str(campaign.pk)}
    fast = [str(f) for f in LeadFilterForm(data, org=org)]
    assert fast == [str(f) for f in LeadFilterForm(data, org=org, renderer=DJANGO)]
    assert f'<option value="{campaign.pk}" selected>Q&amp;A &lt;live&gt;</option>' in "".join(fast)
    radio = forms.RadioSelect(choices=[("a", "A")])  # not one of the written widgets: Django renders it
    assert radio.render("r", "a", renderer=FAST) == radio.render("r", "a", renderer=DJANGO)


def test_datetime_labels_are_shown_in_the_current_time_zone():
    from django.utils import timezone

    at = datetime.datetime(2026, 1, 1, 23, 30, tzinfo=datetime.UTC)
    select = forms.Select(choices=[(1, at)])
    with timezone.override("Asia/Tokyo"):
        assert select.render("s", 1, renderer=FAST) == select.render("s", 1, renderer=DJANGO)


def test_it_is_the_project_renderer():
    assert isinstance(get_default_renderer(), FastRenderer)
