"""factory_boy factories for every model; multi-step states are built through services."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from leads.models import Lead, LeadScore
from smarketing.accounts.models import Invitation, Membership, Organization, User
from smarketing.notifications.models import Notification

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MARKETER
    side = factory.LazyAttribute(lambda m: Membership.default_side(m.role) or Membership.Side.MARKETING)


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Membership.Role.SALES_REP
    side = Membership.Side.SALES
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"lead{n}@prospect.test")
    # Neutral names: random real ones ("Goldsmith", "Smith, Jones and Brown") would match
    # the text searches tests make.
    first_name = factory.Sequence(lambda n: f"Fn{n}")
    last_name = factory.Sequence(lambda n: f"Ln{n}")
    company_name = factory.Sequence(lambda n: f"Co{n}")

    class Params:
        # The score a lead starts with, on its score row (made with it, as the services do).
        fit_score = 0
        engagement_score = 0.0
        total_score = 0

    score = factory.RelatedFactory(
        "tests.factories.LeadScoreFactory",
        factory_related_name="lead",
        organization=factory.SelfAttribute("..organization"),
        fit=factory.SelfAttribute("..fit_score"),
        engagement=factory.SelfAttribute("..engagement_score"),
        total=factory.SelfAttribute("..total_score"),
    )


class LeadScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadScore


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(MembershipFactory)
    organization = factory.SelfAttribute("recipient.organization")
    kind = "content_request.delivered"
    title = factory.Sequence(lambda n: f"Content request {n} delivered")


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "personas.Persona"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Persona {n}")
    industries = factory.Sequence(lambda n: [f"Industry {n}"])


class ContentAssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "personas.ContentAsset"

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Asset {n}")
    asset_type = "ebook"
    buyer_stage = "awareness"
    url = factory.Sequence(lambda n: f"https://content.example/{n}")


class ContentRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "personas.ContentRequest"

    organization = factory.SubFactory(OrganizationFactory)
    requested_by = factory.SubFactory(
        MembershipFactory, organization=factory.SelfAttribute("..organization"), role="sales_rep"
    )
    question = "How do you compare with the incumbent?"
    buyer_stage = "consideration"
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.Campaign"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "email"


class WebFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.WebForm"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Form {n}")
    key = factory.Sequence(lambda n: f"form-key-{n:04d}")
    fields = factory.LazyFunction(
        lambda: [
            {"name": "email", "attribute": "email", "label": "Work email", "required": True},
            {"name": "first_name", "attribute": "first_name", "label": "First name", "required": False},
        ]
    )


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.Team"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.TeamMember"

    team = factory.SubFactory(TeamFactory)
    membership = factory.SubFactory(
        MembershipFactory, organization=factory.SelfAttribute("..team.organization"), role=Membership.Role.SALES_REP
    )
    capacity = 20


class AbsenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.Absence"

    membership = factory.SubFactory(MembershipFactory, role=Membership.Role.SALES_REP)
    organization = factory.SelfAttribute("membership.organization")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    """A rule to a team by default; pass ``team=None, rep=…`` for a rep target."""

    class Meta:
        model = "leads.RoutingRule"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n)
    conditions = factory.LazyFunction(dict)
    team = factory.SubFactory(TeamFactory, organization=factory.SelfAttribute("..organization"))
    rep = None


class HandoffFactory(factory.django.DjangoModelFactory):
    """A bare handoff row, for states routing only counts (open handoffs, last assignment).

    Handoffs a test acts on are made through the services (``handoff_create``)."""

    class Meta:
        model = "leads.Handoff"

    rep = factory.SubFactory(MembershipFactory, role=Membership.Role.SALES_REP)
    organization = factory.SelfAttribute("rep.organization")
    lead = factory.SubFactory(
        LeadFactory, organization=factory.SelfAttribute("..organization"), lifecycle_stage=Lead.Stage.MQL
    )
    created_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda h: h.created_at + timedelta(hours=4))


def organization_settings_data(org, **changes) -> dict:
    """The organisation settings form as the page posts it back unchanged, with ``changes``."""
    data = {
        "name": org.name,
        "time_zone": org.time_zone,
        "working_days": [str(d) for d in org.working_days],
        "opens_at": org.opens_at.strftime("%H:%M"),
        "closes_at": org.closes_at.strftime("%H:%M"),
        "handoff_response_hours": org.handoff_response_hours,
        "handoff_at_risk_percent": org.handoff_at_risk_percent,
        "handoff_breach_grace_hours": org.handoff_breach_grace_hours or "",
        "handoff_reroute_predicted": "on" if org.handoff_reroute_predicted else "",
        "content_request_turnaround_days": org.content_request_turnaround_days,
        "currency": org.currency,
        "pipeline_stages": "\n".join(org.pipeline_stages),
        "allowed_origins": "\n".join(org.allowed_origins),
    }
    return data | changes
