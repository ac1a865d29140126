from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from smarketing.accounts.models import Membership, Organization

SIDE_CHOICES = [("", "—"), *Membership.Side.choices]
TIME_ZONES = sorted(zoneinfo.available_timezones())


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class SignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 8 characters, not a common password.")
    organization_name = forms.CharField(max_length=120, label="Organisation name")
    slug = forms.CharField(
        max_length=50,
        required=False,
        label="Organisation address",
        help_text="Letters, digits and hyphens; leave empty to derive it from the name.",
    )


class OrganizationCreateForm(forms.Form):
    organization_name = forms.CharField(max_length=120, label="Organisation name")
    slug = forms.CharField(max_length=50, required=False, label="Organisation address")


class OrganizationForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(tz, tz) for tz in TIME_ZONES])

    class Meta:
        model = Organization
        fields = ["name", "time_zone", "content_request_turnaround_days"]


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.SALES_REP)
    side = forms.ChoiceField(
        choices=SIDE_CHOICES, required=False, help_text="Managers lead one side: marketing or sales."
    )


class MembershipForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
    side = forms.ChoiceField(choices=SIDE_CHOICES, required=False)


class InvitationSignupForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “Website tracking”.")
