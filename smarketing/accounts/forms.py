from __future__ import annotations

import zoneinfo
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from smarketing.accounts.models import Membership, Organization, validate_currency

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


class OriginListField(forms.Field):
    """One origin a line, ``scheme://host[:port]``; cleaned to a normalised list.

    Normalised as browsers send the Origin header: lower case, no default port, no slash.
    """

    widget = forms.Textarea(attrs={"rows": 4, "placeholder": "https://www.example.com"})
    MAX = 50

    def prepare_value(self, value: object) -> object:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: object) -> list[str]:
        lines = value if isinstance(value, list) else str(value or "").splitlines()
        origins: list[str] = []
        for line in (str(v).strip() for v in lines):
            if line:
                origin = self._origin(line)
                if origin not in origins:
                    origins.append(origin)
        if len(origins) > self.MAX:
            raise forms.ValidationError(f"List at most {self.MAX} origins.")
        return origins

    @staticmethod
    def _origin(line: str) -> str:
        problem = forms.ValidationError(
            f"“{line[:100]}” is not an origin: write scheme://host or scheme://host:port, "
            "e.g. https://www.example.com (no path; one per line)."
        )
        try:
            parts = urlsplit(line)
            port = parts.port
        except ValueError:
            raise problem from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "*" in line:
            raise problem
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
            raise problem
        try:
            host = parts.hostname.encode("idna").decode("ascii")  # browsers send the ASCII form
        except UnicodeError:
            raise problem from None
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address
        scheme = parts.scheme.lower()
        default = {"http": 80, "https": 443}[scheme]
        return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MAX_RESPONSE_HOURS = 30 * 24  # "at most 30 days": the longest window whatever the hours


class OrganizationForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=[(tz, tz) for tz in TIME_ZONES])
    allowed_origins = OriginListField(
        required=False,
        label="Allowed origins",
        help_text="The sites where your embedded forms and tracking script may run, one per line: "
        "scheme://host[:port], e.g. https://www.example.com.",
    )

    currency = forms.CharField(max_length=10, help_text="ISO 4217 code, e.g. EUR: deals are recorded in it.")
    pipeline_stages = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Name at least one stage."},
        label="Pipeline stages",
        help_text="The open stages of a deal, in order, one per line (won and lost close it from any).",
    )

    working_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, label="Working days"
    )
    opens_at = forms.TimeField(label="Business hours start", widget=forms.TimeInput(attrs={"type": "time"}))
    closes_at = forms.TimeField(label="Business hours end", widget=forms.TimeInput(attrs={"type": "time"}))
    handoff_response_hours = forms.IntegerField(
        min_value=1,
        max_value=MAX_RESPONSE_HOURS,
        label="Response window (business hours)",
        help_text="How long a rep has to reach a new handoff; at most 30 days of business hours.",
    )

    class Meta:
        model = Organization
        fields = [
            "name",
            "time_zone",
            "working_days",
            "opens_at",
            "closes_at",
            "handoff_response_hours",
            "handoff_at_risk_percent",
            "handoff_breach_grace_hours",
            "handoff_reroute_predicted",
            "content_request_turnaround_days",
            "currency",
            "pipeline_stages",
            "allowed_origins",
        ]
        labels = {
            "handoff_at_risk_percent": "At risk after (% of the window)",
            "handoff_breach_grace_hours": "Re-route a breach after (business hours)",
            "handoff_reroute_predicted": "Re-route handoffs predicted to breach",
        }

    def clean(self) -> dict:
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", "Business hours must end after they start.")
        return data

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["pipeline_stages"] = "\n".join(self.instance.pipeline_stages or [])

    def clean_currency(self) -> str:
        from leads.models import Opportunity

        currency = self.cleaned_data["currency"].strip().upper()
        validate_currency(currency)
        if (
            self.instance.pk
            and currency != self.instance.currency
            and Opportunity.objects.for_org(self.instance).exists()
        ):
            raise forms.ValidationError(
                f"Deals are recorded in {self.instance.currency}: the currency can't change once there are deals."
            )
        return currency

    def clean_pipeline_stages(self) -> list[str]:
        stages = [" ".join(line.split()) for line in self.cleaned_data["pipeline_stages"].splitlines()]
        stages = [s for s in stages if s]
        if not stages:
            raise forms.ValidationError("Name at least one stage.")
        if len(stages) > 12:
            raise forms.ValidationError("Twelve stages at most.")
        if any(len(s) > 50 for s in stages):
            raise forms.ValidationError("A stage's name is 50 characters at most.")
        if len({s.casefold() for s in stages}) != len(stages):
            raise forms.ValidationError("Each stage once.")
        return stages


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


class HolidayForm(forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(max_length=100)
