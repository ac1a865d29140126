from __future__ import annotations

from django import forms

from leads.models import ActivityEvent, ScoringModel
from leads.scoring import CAP_PERIODS, FIT_ATTRIBUTES, FIT_OPERATORS
from leads.scoring_models import MAX_CAP, ScoringModelInput

ATTRIBUTE_LABELS = {
    "title": "Job title", "seniority": "Seniority", "industry": "Industry", "company_size": "Company size",
    "country": "Country", "email_domain": "Email domain", "persona": "Persona",
}  # fmt: skip
OPERATOR_LABELS = {
    "equals": "is", "contains": "contains", "in": "is one of", "gte": "is at least", "lte": "is at most",
    "is_set": "is known",
}  # fmt: skip


class FitRuleForm(forms.Form):
    attribute = forms.ChoiceField(choices=[(a, ATTRIBUTE_LABELS[a]) for a in FIT_ATTRIBUTES])
    operator = forms.ChoiceField(choices=[(o, OPERATOR_LABELS[o]) for o in FIT_OPERATORS])
    value = forms.CharField(required=False, max_length=500, help_text="For “is one of”: comma-separated.")
    points = forms.IntegerField(min_value=-1000, max_value=1000)

    def rule(self) -> dict:
        data = self.cleaned_data
        value = data["value"]
        if data["operator"] == "in":
            value = [v.strip() for v in value.split(",") if v.strip()]
        return {"attribute": data["attribute"], "operator": data["operator"], "value": value, "points": data["points"]}


class EngagementRuleForm(forms.Form):
    event_type = forms.ChoiceField(choices=ActivityEvent.Type.choices)
    property = forms.CharField(required=False, max_length=41, help_text="Optional, e.g. url")
    contains = forms.CharField(required=False, max_length=200, help_text="…contains, e.g. /pricing")
    points = forms.IntegerField(min_value=-1000, max_value=1000)
    cap = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_CAP, help_text="Optional: at most this many events pay"
    )
    cap_period = forms.ChoiceField(choices=[(p, f"per {p}") for p in CAP_PERIODS], initial="day", required=False)

    def rule(self) -> dict:
        data = self.cleaned_data
        rule = {"event_type": data["event_type"], "points": data["points"]}
        if data["property"] or data["contains"]:
            rule |= {"property": data["property"], "contains": data["contains"]}
        if data.get("cap"):
            rule |= {"cap": data["cap"], "cap_period": data.get("cap_period") or "day"}
        return rule


FitRuleFormSet = forms.formset_factory(FitRuleForm, extra=2, can_delete=True)
EngagementRuleFormSet = forms.formset_factory(EngagementRuleForm, extra=2, can_delete=True)


class ScoringSettingsForm(forms.Form):
    persona_match_points = forms.IntegerField(min_value=-1000, max_value=1000, label="Points for matching a persona")
    decay_half_life_days = forms.IntegerField(min_value=1, max_value=3650, label="Engagement half-life (days)")
    mql_threshold = forms.IntegerField(min_value=1, label="MQL threshold (total score)")
    mql_min_fit = forms.IntegerField(min_value=0, label="Minimum fit for an MQL")
    fast_lane_event_types = forms.MultipleChoiceField(
        choices=ActivityEvent.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Fast-lane events (qualify at once)",
    )


def model_forms(model: ScoringModel, data=None):
    """The three forms of a scoring model's edit page, bound to ``data`` or filled from ``model``."""
    if data is not None:  # a submission stands on its own: every row it keeps is in it
        return ScoringSettingsForm(data), FitRuleFormSet(data, prefix="fit"), EngagementRuleFormSet(data, prefix="eng")
    settings = ScoringSettingsForm(initial={n: getattr(model, n) for n in ScoringSettingsForm.base_fields})
    fit_initial = [
        {**r, "value": ", ".join(map(str, r["value"])) if isinstance(r.get("value"), list) else r.get("value", "")}
        for r in model.fit_rules
    ]
    fit = FitRuleFormSet(prefix="fit", initial=fit_initial)
    engagement = EngagementRuleFormSet(prefix="eng", initial=model.engagement_rules)
    return settings, fit, engagement


def to_input(settings: ScoringSettingsForm, fit, engagement) -> ScoringModelInput:
    def rules(formset):
        return [f.rule() for f in formset if f.cleaned_data and not f.cleaned_data.get("DELETE")]

    return ScoringModelInput(
        fit_rules=rules(fit),
        engagement_rules=rules(engagement),
        **settings.cleaned_data,
    )
