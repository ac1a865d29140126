from __future__ import annotations

from django import forms

from leads.models import BuyerStage, Campaign, Channel, Lead
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona, Seniority
from personas.services import AssetInput, DefinitionsInput, PersonaInput
from smarketing.accounts.models import Organization


def split_list(value: str) -> list[str]:
    """“Software, SaaS; Fintech” or one per line -> ["Software", "SaaS", "Fintech"]."""
    for sep in (";", "\n"):
        value = value.replace(sep, ",")
    return [part.strip() for part in value.split(",") if part.strip()]


class ListField(forms.CharField):
    widget = forms.TextInput

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        return split_list(super().to_python(value) or "")


class PersonaForm(forms.Form):
    name = forms.CharField(max_length=100)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    goals = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    pain_points = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    objections = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Common objections")
    preferred_channels = forms.MultipleChoiceField(
        choices=Channel.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    industries = ListField(required=False, help_text="Comma-separated, e.g. Software, Fintech.")
    company_size_min = forms.IntegerField(min_value=0, required=False, label="Company size from (employees)")
    company_size_max = forms.IntegerField(min_value=1, required=False, label="Company size to (employees)")
    title_keywords = ListField(required=False, help_text="Words in the job title, e.g. marketing, demand gen.")
    seniorities = forms.MultipleChoiceField(
        choices=Seniority.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    countries = ListField(required=False, help_text="Two-letter codes, e.g. GB, DE, US.")

    def __init__(self, *args, persona: Persona | None = None, **kwargs) -> None:
        if persona is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(persona)
        super().__init__(*args, **kwargs)
        for stage in BuyerStage:
            self.fields[f"{stage.value}_key_message"] = forms.CharField(
                label=f"{stage.label}: key message", required=False, widget=forms.Textarea(attrs={"rows": 2})
            )
            self.fields[f"{stage.value}_proof_points"] = forms.CharField(
                label=f"{stage.label}: proof points",
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="One per line.",
            )

    @staticmethod
    def initial_for(persona: Persona) -> dict[str, object]:
        initial = {name: getattr(persona, name) for name in PersonaInput.__dataclass_fields__ if name != "messaging"}
        for message in persona.messages.all():
            initial[f"{message.buyer_stage}_key_message"] = message.key_message
            initial[f"{message.buyer_stage}_proof_points"] = message.proof_points
        return initial

    def criteria_fields(self):
        return [self[n] for n in ("industries", "company_size_min", "company_size_max", "title_keywords", "countries")]

    def messaging_fields(self):
        return [
            (stage.label, self[f"{stage.value}_key_message"], self[f"{stage.value}_proof_points"])
            for stage in BuyerStage
        ]

    def to_input(self) -> PersonaInput:
        data = self.cleaned_data
        fields = {name: data[name] for name in PersonaInput.__dataclass_fields__ if name != "messaging"}
        messaging = {
            s.value: (data[f"{s.value}_key_message"], data[f"{s.value}_proof_points"])
            for s in BuyerStage
            if data[f"{s.value}_key_message"] or data[f"{s.value}_proof_points"]
        }
        return PersonaInput(**fields, messaging=messaging)


class PersonaMatchForm(forms.Form):
    title = forms.CharField(required=False)
    seniority = forms.ChoiceField(choices=[("", "—"), *Seniority.choices], required=False)
    industry = forms.CharField(required=False)
    company_size = forms.IntegerField(min_value=1, required=False, label="Company size (employees)")
    country = forms.CharField(max_length=2, required=False, help_text="Two-letter code.")


class DefinitionsForm(forms.Form):
    summary = forms.CharField(max_length=300, required=False, label="What changes, in a sentence")
    mql_threshold = forms.IntegerField(min_value=1, label="MQL threshold (total score)")
    mql_min_fit = forms.IntegerField(min_value=0, initial=0, label="Minimum fit score for an MQL")
    sql_criteria = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="SQL criteria")

    def __init__(self, *args, terms: list[dict[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.terms = terms
        for term in terms:
            self.fields[f"term_{term['key']}"] = forms.CharField(
                label=term["label"], initial=term["wording"], widget=forms.Textarea(attrs={"rows": 2})
            )

    def term_fields(self):
        return [self[f"term_{t['key']}"] for t in self.terms]

    def to_input(self) -> DefinitionsInput:
        data = self.cleaned_data
        return DefinitionsInput(
            terms=[{**t, "wording": data[f"term_{t['key']}"]} for t in self.terms],
            mql_threshold=data["mql_threshold"],
            mql_min_fit=data["mql_min_fit"],
            sql_criteria=data["sql_criteria"],
            summary=data["summary"],
        )

    @staticmethod
    def initial_from(version: DefinitionVersion | None) -> dict[str, object]:
        if version is None:
            return {"mql_threshold": 60, "mql_min_fit": 20, "sql_criteria": "Need, authority and timing confirmed."}
        return {n: getattr(version, n) for n in ("mql_threshold", "mql_min_fit", "sql_criteria")}


class AssetForm(forms.Form):
    title = forms.CharField(max_length=200)
    asset_type = forms.ChoiceField(choices=ContentAsset.Type.choices, label="Type")
    buyer_stage = forms.ChoiceField(choices=BuyerStage.choices)
    personas = forms.ModelMultipleChoiceField(
        queryset=Persona.objects.none(), widget=forms.CheckboxSelectMultiple, required=False
    )
    url = forms.URLField(max_length=500, required=False, label="Link", assume_scheme="https")
    file = forms.FileField(required=False, help_text="Or upload: PDF, image, video, Office document or text.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none(), required=False, empty_label="No campaign")

    def __init__(self, *args, org: Organization, asset: ContentAsset | None = None, **kwargs) -> None:
        if asset is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": asset.title,
                "asset_type": asset.asset_type,
                "buyer_stage": asset.buyer_stage,
                "personas": list(asset.personas.all()),
                "url": asset.url,
                "description": asset.description,
                "campaign": asset.campaign,
            }
        super().__init__(*args, **kwargs)
        self.fields["personas"].queryset = Persona.objects.for_org(org).filter(archived_at=None)
        self.fields["campaign"].queryset = Campaign.objects.for_org(org)

    def to_input(self) -> AssetInput:
        data = self.cleaned_data
        return AssetInput(
            title=data["title"],
            asset_type=data["asset_type"],
            buyer_stage=data["buyer_stage"],
            url=data["url"],
            description=data["description"],
            personas=list(data["personas"]),
            campaign=data["campaign"],
            file=data["file"],
        )


class ContentFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    persona = forms.ModelChoiceField(queryset=Persona.objects.none(), required=False, empty_label="All personas")
    buyer_stage = forms.ChoiceField(choices=[("", "All stages"), *BuyerStage.choices], required=False)
    asset_type = forms.ChoiceField(choices=[("", "All types"), *ContentAsset.Type.choices], required=False)

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persona"].queryset = Persona.objects.for_org(org)


class ContentRequestForm(forms.Form):
    question = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="What prospects keep asking or objecting, in their words."
    )
    persona = forms.ModelChoiceField(queryset=Persona.objects.none(), required=False, empty_label="Any persona")
    buyer_stage = forms.ChoiceField(choices=BuyerStage.choices)
    urgency = forms.ChoiceField(choices=ContentRequest.Urgency.choices, initial=ContentRequest.Urgency.NORMAL)
    lead_email = forms.EmailField(required=False, label="Lead (email, optional)")

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.org = org
        self.fields["persona"].queryset = Persona.objects.for_org(org).filter(archived_at=None)

    def clean_lead_email(self) -> Lead | None:
        email = self.cleaned_data["lead_email"]
        if not email:
            return None
        lead = Lead.objects.for_org(self.org).filter(email__iexact=email).first()
        if lead is None:
            raise forms.ValidationError(f"No lead with the email {email}.")
        return lead


class ContentRequestTransitionForm(forms.Form):
    to = forms.ChoiceField(choices=ContentRequest.Status.choices)
    asset = forms.ModelChoiceField(queryset=ContentAsset.objects.none(), required=False)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, org: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["asset"].queryset = ContentAsset.objects.for_org(org)
