"""Forms of the sales side's pages: log a touch, open a deal, move it, win it, lose it.

They check the shape of the input; the rules (who, which stage, which currency, not in the
future) are the services' (``leads.touches``, ``leads.opportunities``), reported on the field.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone

from leads.forms import MemberChoiceField
from leads.models import LostReason, Opportunity, Team, Touch
from personas.models import ContentAsset
from smarketing.accounts.models import Membership, Organization
from smarketing.forms import ListedChoiceField

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class TouchForm(forms.Form):
    kind = forms.ChoiceField(choices=Touch.Kind.choices, initial=Touch.Kind.CALL)
    outcome = forms.ChoiceField(choices=[("", "— (a note)"), *Touch.Outcome.choices], required=False)
    occurred_at = forms.DateTimeField(label="When (UTC)", widget=DATETIME)
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    content = ListedChoiceField(
        queryset=ContentAsset.objects.none(), required=False, empty_label="No content shared", label="Content shared"
    )

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("occurred_at", timezone.now().replace(second=0, microsecond=0))
        super().__init__(*args, **kwargs)
        self.fields["content"].set_objects(ContentAsset.objects.for_org(org).order_by("title"))


class OpportunityForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Left empty: the company and the kind of deal.")
    kind = forms.ChoiceField(choices=Opportunity.Kind.choices)
    amount = forms.DecimalField(max_digits=14, decimal_places=2, help_text="Expected amount.")
    currency = forms.CharField(max_length=3)
    expected_close_date = forms.DateField(widget=DATE)
    stage = forms.ChoiceField(choices=[])
    owner = MemberChoiceField(queryset=Membership.objects.none(), required=False, empty_label="Me")

    def __init__(self, *args, org: Organization, owners=None, **kwargs) -> None:
        kwargs.setdefault("initial", {}).setdefault("currency", org.currency)
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [(s, s) for s in org.pipeline_stages]
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners


class OpportunityUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    amount = forms.DecimalField(max_digits=14, decimal_places=2)
    expected_close_date = forms.DateField(widget=DATE)
    stage = forms.ChoiceField(choices=[])

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        # The deal page shows this form with the win and lose forms: ids of their own, so each
        # label points at its own form's field.
        kwargs.setdefault("auto_id", "update_%s")
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [(s, s) for s in org.pipeline_stages]


class OpportunityWinForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, label="Final amount")
    currency = forms.CharField(max_length=3)
    close_date = forms.DateField(widget=DATE, required=False, help_text="Left empty: today.")

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "win_%s")
        super().__init__(*args, **kwargs)


class OpportunityLoseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Why?"), *LostReason.choices], error_messages={"required": "Choose why the deal was lost."}
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Note"}))
    close_date = forms.DateField(widget=DATE, required=False, help_text="Left empty: today.")

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "lose_%s")
        super().__init__(*args, **kwargs)


class DealPeriodForm(forms.Form):
    """The deals list's team and close-date filters (the SLA's won revenue links with them)."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="Every team")
    closed_from = forms.DateField(required=False, label="Closed from", widget=DATE)
    closed_to = forms.DateField(required=False, label="Closed to", widget=DATE)

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_org(org).order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("closed_from") and data.get("closed_to") and data["closed_from"] > data["closed_to"]:
            self.add_error("closed_to", "The end date is before the start date.")
        # Only what is given: the selector's defaults mean "any".
        return {k: v for k, v in data.items() if v is not None}
