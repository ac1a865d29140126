from __future__ import annotations

from django import forms

from leads.models import BuyerStage, Campaign, Channel, Lead, ReturnReason, Seniority
from leads.selectors import MAX_ID, SORTS, LeadFilters
from leads.services import LeadInput
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.forms import ListedChoiceField
from smarketing.prepared import PreparedRead


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return str(obj.user)


# The filter form's menus, read on every list page: SQL built once per process (smarketing.prepared).
_campaign_menu = PreparedRead(lambda org: Campaign.objects.for_org(org), org=Organization)
_persona_menu = PreparedRead(lambda org: Persona.objects.for_org(org), org=Organization)
_member_menu = PreparedRead(
    lambda org: Membership.objects.for_org(org).filter(removed_at=None).select_related("user"), org=Organization
)


class LeadFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Name, email or company", "type": "search"}),
        help_text="Whole words in any order; the last one can be the start of a word.",
    )
    stage = forms.ChoiceField(choices=[("", "All stages"), *Lead.Stage.choices], required=False)
    owner = forms.CharField(required=False)  # a member id, or "none" for unowned
    campaign = ListedChoiceField(queryset=Campaign.objects.none(), required=False, empty_label="All campaigns")
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)
    persona = ListedChoiceField(queryset=Persona.objects.none(), required=False, empty_label="All personas")
    score_min = forms.IntegerField(required=False, label="Score from")
    score_max = forms.IntegerField(required=False, label="Score to")
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    moved_to = forms.ChoiceField(choices=[("", "Any stage"), *Lead.Stage.choices], required=False, label="Moved to")
    moved_since = forms.DateField(required=False, label="Moved from", widget=forms.DateInput(attrs={"type": "date"}))
    moved_until = forms.DateField(required=False, label="Moved until", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        choices=[
            ("newest", "Newest"),
            ("oldest", "Oldest"),
            ("score", "Highest score"),
            ("lowest_score", "Lowest score"),
            ("updated", "Recently updated"),
        ],
        required=False,
    )

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.org = org
        self.fields["campaign"].set_objects(Campaign.objects.for_org(org), _campaign_menu(org=org))
        self.fields["persona"].set_objects(Persona.objects.for_org(org), _persona_menu(org=org))
        self.members = _member_menu(org=org)

    def clean_owner(self) -> Membership | str | None:
        value = self.cleaned_data["owner"]
        if not value:
            return None
        if value == "none":
            return "none"
        member = next((m for m in self.members if str(m.pk) == value), None)
        if member is None:
            raise forms.ValidationError("Unknown owner.")
        return member

    def clean(self):
        data = super().clean()
        for field, message in LeadFilters.range_errors(data).items():
            self.add_error(field, message)
        return data

    def filters(self) -> LeadFilters:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return LeadFilters.from_data(data, search_key="q")

    def order(self) -> str:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return SORTS.get(data.get("sort") or "newest", SORTS["newest"])


class LeadForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    title = forms.CharField(max_length=150, required=False)
    seniority = forms.ChoiceField(choices=[("", "—"), *Seniority.choices], required=False)
    phone = forms.CharField(max_length=40, required=False)
    company_name = forms.CharField(max_length=200, required=False, label="Company")
    company_domain = forms.CharField(max_length=200, required=False, help_text="e.g. acme.com")
    industry = forms.CharField(max_length=100, required=False)
    company_size = forms.IntegerField(min_value=1, required=False, label="Company size (employees)")
    country = forms.CharField(max_length=2, required=False, help_text="Two-letter code.")
    buyer_stage = forms.ChoiceField(choices=[("", "—"), *BuyerStage.choices], required=False)
    owner = MemberChoiceField(queryset=Membership.objects.none(), required=False, empty_label="No owner")
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none(), required=False, empty_label="No campaign")

    def __init__(self, *args, org: Organization, lead: Lead | None = None, **kwargs) -> None:
        if lead is not None and "initial" not in kwargs:
            company = lead.company
            kwargs["initial"] = {
                "email": lead.email,
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "title": lead.title,
                "seniority": lead.seniority,
                "phone": lead.phone,
                "company_name": lead.company_name,
                "company_domain": company.domain if company else "",
                "industry": company.industry if company else "",
                "company_size": company.size if company else None,
                "country": company.country if company else "",
                "buyer_stage": lead.buyer_stage,
                "owner": lead.owner,
                "campaign": lead.latest_campaign,
            }
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Membership.objects.for_org(org).filter(removed_at=None).select_related("user")
        self.fields["campaign"].queryset = Campaign.objects.for_org(org)

    def to_input(self) -> LeadInput:
        data = self.cleaned_data
        return LeadInput(
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            title=data["title"],
            seniority=data["seniority"],
            phone=data["phone"],
            company_name=data["company_name"],
            company_domain=data["company_domain"],
            industry=data["industry"],
            company_size=data["company_size"],
            country=data["country"],
            buyer_stage=data["buyer_stage"],
            owner=data["owner"],
            campaign=data["campaign"],
        )


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Lead.Stage.choices, label="Move to")
    reason = forms.CharField(required=False, max_length=1000, widget=forms.TextInput)


class BulkForm(forms.Form):
    ACTIONS = [("assign", "Assign owner"), ("stage", "Change stage"), ("export", "Export selection")]
    action = forms.ChoiceField(choices=ACTIONS)
    leads = forms.TypedMultipleChoiceField(coerce=int, choices=[], error_messages={"required": "Select leads first."})
    owner = forms.CharField(required=False)
    to = forms.ChoiceField(choices=[("", "—"), *Lead.Stage.choices], required=False)
    reason = forms.CharField(required=False, max_length=1000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the selector scopes them to the organisation. An id beyond a
        # bigint is refused here: the database would fail on it (a 500), not find nothing.
        self.fields["leads"].valid_value = lambda value: str(value).isdigit() and int(value) <= MAX_ID


class HandoffReturnForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Why?"), *ReturnReason.choices],
        error_messages={"required": "Choose why the lead goes back to marketing."},
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Note"}))


class HandoffReassignForm(forms.Form):
    to = MemberChoiceField(queryset=Membership.objects.none(), required=False, empty_label="Re-route by the rules")

    def __init__(self, *args, reps, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = reps


class HandoffSendForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Why now? (optional)"})
    )
