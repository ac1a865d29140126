"""The agreement form: its shape; the rules are ``sla.agreements``' (shown on the field)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from leads.models import Team
from sla.agreements import AgreementInput
from sla.models import Agreement
from smarketing.accounts.models import Membership, Organization


class AgreementForm(forms.Form):
    period = forms.ChoiceField(choices=Agreement.Period.choices)
    starts_on = forms.DateField(
        label="A day in the period",
        help_text="Any day of the month or quarter.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="The whole organisation")
    mql_target = forms.IntegerField(required=False, label="MQLs marketing delivers")
    sql_target = forms.IntegerField(required=False, label="SQLs (accepted by sales)")
    min_acceptance_percent = forms.IntegerField(required=False, label="Minimum acceptance rate (%)")
    response_hours = forms.IntegerField(label="First touch within (business hours)", initial=4)
    attempts_min = forms.IntegerField(label="Touch attempts at least", initial=3)
    attempts_days = forms.IntegerField(label="… within (days)", initial=5)
    revenue_target = forms.DecimalField(max_digits=14, decimal_places=2, label="Shared revenue target")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_org(org)
        self.fields["revenue_target"].label = f"Shared revenue target ({org.currency})"

    def to_input(self) -> AgreementInput:
        return AgreementInput(**self.cleaned_data)

    @classmethod
    def initial_of(cls, agreement: Agreement) -> dict:
        return vars(AgreementInput.of(agreement))


class CalculatorForm(forms.Form):
    """The reverse-funnel calculator's question: a target, a period, a window, any rate known better."""

    revenue_target = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    period = forms.ChoiceField(choices=Agreement.Period.choices, initial=Agreement.Period.MONTH)
    starts_on = forms.DateField(label="A day in the period", widget=forms.DateInput(attrs={"type": "date"}))
    window_days = forms.IntegerField(
        min_value=7, max_value=730, initial=180, label="History window (days)", help_text="The rates come from it."
    )
    deal_size = forms.DecimalField(required=False, min_value=Decimal("0.01"), label="Average won deal")
    win_rate = forms.FloatField(required=False, min_value=0.1, max_value=100, label="Win rate (%)")
    sql_to_deal = forms.FloatField(required=False, min_value=0.1, max_value=100, label="SQL → deal (%)")
    mql_to_sql = forms.FloatField(required=False, min_value=0.1, max_value=100, label="MQL → SQL (%)")

    def entered(self) -> dict:
        data = self.cleaned_data
        rates = {
            k: data[k] / 100 if data.get(k) is not None else None for k in ("win_rate", "sql_to_deal", "mql_to_sql")
        }
        return {"deal_size": data.get("deal_size"), **rates}


class ReviewNotesForm(forms.Form):
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)


class ActionItemForm(forms.Form):
    text = forms.CharField(max_length=300, label="Action")
    owner = forms.ModelChoiceField(queryset=Membership.objects.none())
    due_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Membership.objects.for_org(org).filter(removed_at=None).select_related("user")
        self.fields["owner"].label_from_instance = lambda m: str(m.user)
