"""Pages for campaigns: list, detail with the leads they brought in, create and edit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from leads import campaigns, selectors
from leads.campaigns import CampaignInput
from leads.models import Campaign, Channel, Handoff, LostReason, Opportunity, ReturnReason
from personas.models import Persona
from reporting.charts import BarChart
from reporting.models import AttributionModel
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import org_required
from smarketing.forms import call_service

PAGE_SIZE = 25


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return str(obj.user)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Channel.choices)
    starts_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    budget = forms.DecimalField(max_digits=12, decimal_places=2, required=False, help_text="Planned spend.")
    actual_cost = forms.DecimalField(
        max_digits=12, decimal_places=2, required=False, help_text="Spent so far; cost per lead is computed from it."
    )
    utm_source = forms.CharField(max_length=100, required=False, label="UTM source", help_text="e.g. linkedin")
    utm_medium = forms.CharField(max_length=100, required=False, label="UTM medium", help_text="e.g. paid_social")
    utm_campaign = forms.CharField(
        max_length=100,
        required=False,
        label="UTM campaign",
        help_text="e.g. saas-benchmark-2025. Leads arriving with these three values are attributed to this campaign.",
    )
    target_persona = forms.ModelChoiceField(
        queryset=Persona.objects.none(), required=False, empty_label="No particular persona"
    )
    owner = MemberChoiceField(queryset=Membership.objects.none(), required=False, empty_label="No owner")

    def __init__(self, *args, org: Organization, campaign: Campaign | None = None, **kwargs) -> None:
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(campaign, name) for name in CampaignInput.__dataclass_fields__}
        super().__init__(*args, **kwargs)
        # Active personas and members, plus whichever the campaign already points at.
        persona_id = getattr(campaign, "target_persona_id", None)
        owner_id = getattr(campaign, "owner_id", None)
        self.fields["target_persona"].queryset = Persona.objects.for_org(org).filter(
            Q(archived_at=None) | Q(pk=persona_id)
        )
        self.fields["owner"].queryset = (
            Membership.objects.for_org(org)
            .filter(Q(removed_at=None) | Q(pk=owner_id))
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )

    def to_input(self) -> CampaignInput:
        return CampaignInput(**{name: self.cleaned_data[name] for name in CampaignInput.__dataclass_fields__})


class CampaignFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)


@org_required(permission="campaigns.view")
def campaign_list(request: HttpRequest) -> HttpResponse:
    form = CampaignFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = campaigns.campaign_list(org=request.org, channel=filters.get("channel", ""), search=filters.get("q", ""))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values())}
    return render(request, "leads/campaign_list.html", context)


@org_required(permission="campaigns.edit")
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, org=request.org, initial={"owner": request.membership})
    if request.method == "POST" and form.is_valid():
        campaign = call_service(
            form, campaigns.campaign_create, org=request.org, data=form.to_input(), actor=request.membership
        )
        if campaign is not None:
            messages.success(request, f"Campaign “{campaign.name}” created.")
            return redirect("campaigns:campaign_detail", campaign.pk)
    return render(request, "leads/campaign_form.html", {"form": form})


@org_required(permission="campaigns.view")
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaigns.campaign_detail(org=request.org, campaign_id=campaign_id)
    leads = selectors.with_sales_outcome(campaigns.campaign_leads(campaign=campaign))
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    for lead in page.object_list:
        lead.return_label = ReturnReason(lead.handoff_return_reason).label if lead.handoff_return_reason else ""
        lead.lost_label = LostReason(lead.deal_lost_reason).label if lead.deal_lost_reason else ""
    # What to append to a landing page's address so the leads it brings in are attributed here.
    utm_query = urlencode({name: getattr(campaign, name) for name in campaigns.UTM_FIELDS if getattr(campaign, name)})
    loop = selectors.campaign_closed_loop(campaign=campaign)
    won = loop.deals.get(Opportunity.Status.WON, {})
    funnel = [
        ("Brought in", campaign.lead_count, "stage-lead"),
        ("Sent to sales", loop.handed_off, "stage-mql"),
        ("Accepted", loop.handoffs.get(Handoff.Status.ACCEPTED, 0), "stage-sql"),
        ("Returned", loop.handoffs.get(Handoff.Status.RETURNED, 0), "stage-nurture"),
        ("Deals", sum(d["count"] for d in loop.deals.values()), "stage-opportunity"),
        ("Won", won.get("count", 0), "stage-customer"),
    ]
    context = {
        "campaign": campaign,
        "page": page,
        "utm_query": utm_query,
        "loop": loop,
        "won": won,
        "lost": loop.deals.get(Opportunity.Status.LOST, {}),
        "revenue": [(label, loop.revenue.get(model)) for model, label in AttributionModel.choices],
        "funnel_chart": BarChart.build("What sales did with the leads it brought in", funnel),
        "currency": request.org.currency,
    }
    return render(request, "leads/campaign_detail.html", context)


@org_required(permission="campaigns.edit")
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaigns.campaign_detail(org=request.org, campaign_id=campaign_id)
    form = CampaignForm(request.POST or None, org=request.org, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, campaigns.campaign_update, campaign=campaign, data=form.to_input())
        if updated is not None:
            messages.success(request, f"Campaign “{updated.name}” saved.")
            return redirect("campaigns:campaign_detail", campaign.pk)
    return render(request, "leads/campaign_form.html", {"form": form, "campaign": campaign})
