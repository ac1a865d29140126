"""The handoff list's filters (``leads.handoff_list_views``)."""

from __future__ import annotations

from django import forms

from leads.models import Handoff, Team
from leads.selectors import ATTEMPTS, FIRST_TOUCH, NOT_REASSIGNED, HandoffFilters
from smarketing.accounts.models import Membership, Organization

DATE = forms.DateInput(attrs={"type": "date"})


class MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, m: Membership) -> str:
        return f"{m.user} (removed)" if m.removed_at else str(m.user)


class HandoffFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Handoff.Status.choices, (NOT_REASSIGNED, "Any but reassigned")], required=False
    )
    rep = MemberChoice(queryset=Membership.objects.none(), required=False, empty_label="Everyone")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="Every team")
    created_from = forms.DateField(required=False, label="Made from", widget=DATE)
    created_to = forms.DateField(required=False, label="Made to", widget=DATE)
    ended_from = forms.DateField(required=False, label="Accepted or returned from", widget=DATE)
    ended_to = forms.DateField(required=False, label="Accepted or returned to", widget=DATE)
    first_touch = forms.ChoiceField(choices=[("", "Any"), *FIRST_TOUCH.items()], required=False)
    attempts = forms.ChoiceField(choices=[("", "Any"), *ATTEMPTS.items()], required=False)
    attempts_min = forms.IntegerField(required=False, min_value=1, max_value=100, label="Attempts needed")
    attempts_days = forms.IntegerField(required=False, min_value=1, max_value=365, label="Within days")
    counted = forms.BooleanField(required=False, label="Leave out those a manager moved before they breached")

    def __init__(self, *args, org: Organization, own_only: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if own_only:  # a rep sees their own handoffs: no one else to choose
            del self.fields["rep"], self.fields["team"]
        else:
            # Anyone a handoff can have gone to (the fallback owner may be of any role), and removed
            # members too: their handoffs still count for the period they worked in.
            self.fields["rep"].queryset = (
                Membership.objects.for_org(org)
                .select_related("user")
                .order_by("removed_at", "user__full_name", "user__email")
            )
            self.fields["team"].queryset = Team.objects.for_org(org).order_by("name")

    def clean(self):
        data = super().clean()
        for field, message in HandoffFilters.errors(data).items():
            self.add_error(field, message)
        return data

    def filters(self) -> HandoffFilters:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return HandoffFilters(**{name: value for name, value in data.items() if value not in (None, "")})
