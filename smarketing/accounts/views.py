"""Pages for sign-up, organisations, members, invitations and API keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from smarketing.accounts import selectors, services
from smarketing.accounts.forms import (
    ApiKeyForm,
    HolidayForm,
    InvitationForm,
    InvitationSignupForm,
    LoginForm,
    MembershipForm,
    OrganizationCreateForm,
    OrganizationForm,
    SignupForm,
)
from smarketing.accounts.models import ApiKey, Holiday, Invitation, Membership
from smarketing.accounts.tenancy import active_memberships, get_for_org, org_required, select_organization
from smarketing.errors import DomainError
from smarketing.forms import call_action, call_service
from smarketing.links import start_url


class SmarketingLoginView(LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:organization_create")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        membership = call_service(form, services.organization_signup, **form.cleaned_data)
        if membership is not None:
            login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            select_organization(request, membership)
            messages.success(request, f"Welcome to Smarketing! {membership.organization.name} is ready.")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def organization_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        membership = call_service(
            form,
            services.organization_create,
            user=request.user,
            name=form.cleaned_data["organization_name"],
            slug=form.cleaned_data["slug"],
        )
        if membership is not None:
            select_organization(request, membership)
            messages.success(request, f"{membership.organization.name} is ready. Invite your team next.")
            return redirect("accounts:members")
    return render(request, "accounts/organization_create.html", {"form": form})


@login_required
@require_POST
def organization_switch(request: HttpRequest, organization_slug: str) -> HttpResponse:
    membership = get_object_or_404(active_memberships(request.user), organization__slug=organization_slug)
    select_organization(request, membership)
    messages.info(request, f"You are now working in {membership.organization.name}.")
    return redirect(start_url(membership))


@org_required(permission="organization.manage")
def organization_settings(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None, instance=request.org)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Organisation settings saved.")
        return redirect("accounts:organization_settings")
    return _settings_page(request, form=form, holiday_form=HolidayForm())


def _settings_page(request: HttpRequest, *, form, holiday_form, status: int = 200) -> HttpResponse:
    context = {"form": form, "holiday_form": holiday_form, "holidays": Holiday.objects.for_org(request.org)}
    return render(request, "accounts/organization_settings.html", context, status=status)


@org_required(permission="organization.manage")
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    form = HolidayForm(request.POST)
    if form.is_valid():
        holiday = call_service(
            form, services.holiday_add, org=request.org, day=form.cleaned_data["date"], name=form.cleaned_data["name"]
        )
        if holiday is not None:
            messages.success(request, f"{holiday.name} ({holiday.date:%d %b %Y}) is a holiday: no response clock runs.")
            return redirect("accounts:organization_settings")
    settings_form = OrganizationForm(instance=request.org)
    return _settings_page(request, form=settings_form, holiday_form=form, status=400)


@org_required(permission="organization.manage")
@require_POST
def holiday_delete(request: HttpRequest, holiday_id: int) -> HttpResponse:
    holiday = get_for_org(Holiday.objects.all(), org=request.org, pk=holiday_id)
    services.holiday_delete(holiday=holiday)
    messages.success(request, f"{holiday.name} is no longer a holiday.")
    return redirect("accounts:organization_settings")


@org_required(permission="members.view")
def members(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        if not _can_manage_members(request):
            return redirect("accounts:members")
        if form.is_valid():
            invitation = call_service(
                form, services.invitation_create, invited_by=request.membership, **form.cleaned_data
            )
            if invitation is not None:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("accounts:members")
    context = {
        "form": form,
        "members": selectors.membership_list(org=request.org),
        "invitations": selectors.invitation_pending_list(org=request.org, now=timezone.now()),
    }
    return render(request, "accounts/members.html", context)


def _can_manage_members(request: HttpRequest) -> bool:
    from smarketing.accounts.policy import can

    if can(request.membership, "members.manage"):
        return True
    messages.error(request, "Only an admin can invite members.")
    return False


@org_required(permission="members.manage")
def member_edit(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = get_for_org(Membership.objects.select_related("user"), org=request.org, pk=membership_id, removed_at=None)
    form = MembershipForm(request.POST or None, initial={"role": member.role, "side": member.side})
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.membership_update, membership=member, **form.cleaned_data) is not None:
            messages.success(request, f"{member.user} is now {Membership.Role(form.cleaned_data['role']).label}.")
            return redirect("accounts:members")
    return render(request, "accounts/member_edit.html", {"form": form, "member": member})


@org_required(permission="members.manage")
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = get_for_org(Membership.objects.select_related("user"), org=request.org, pk=membership_id)
    call_action(
        request, services.membership_remove, membership=member, success=f"{member.user} was removed from {request.org}."
    )
    if member.pk == request.membership.pk:
        return redirect("home")
    return redirect("accounts:members")


@org_required(permission="members.manage")
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for_org(Invitation.objects.all(), org=request.org, pk=invitation_id)
    success = f"The invitation for {invitation.email} was revoked."
    call_action(request, services.invitation_revoke, invitation=invitation, success=success)
    return redirect("accounts:members")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an invitation email: join as the signed-in user, or create the account."""
    try:
        invitation = services.invitation_from_token(token=token)
    except DomainError as exc:
        return render(request, "accounts/invitation_invalid.html", {"error": exc.message}, status=400)
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                membership = services.invitation_accept(token=token, user=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect("home")
            return _joined(request, membership)
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})
    if selectors.user_exists(email=invitation.email):
        messages.info(request, f"Log in as {invitation.email} to accept the invitation to {invitation.organization}.")
        return redirect_to_login(request.get_full_path())
    form = InvitationSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        membership = call_service(form, services.invitation_signup, token=token, **form.cleaned_data)
        if membership is not None:
            login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            return _joined(request, membership)
    return render(request, "accounts/invitation_signup.html", {"invitation": invitation, "form": form})


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    select_organization(request, membership)
    messages.success(request, f"You joined {membership.organization.name} as {membership.get_role_display()}.")
    return redirect(start_url(membership))


@org_required(permission="api_keys.manage")
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        created = call_service(
            form,
            services.api_key_create,
            organization=request.org,
            name=form.cleaned_data["name"],
            created_by=request.membership,
        )
        if created is not None:
            api_key, new_key = created
            messages.success(request, f"API key “{api_key.name}” created. Copy it now: it is shown only once.")
            form = ApiKeyForm()
    context = {"form": form, "api_keys": selectors.api_key_list(org=request.org), "new_key": new_key}
    return render(request, "accounts/api_keys.html", context)


@org_required(permission="api_keys.manage")
@require_POST
def api_key_revoke(request: HttpRequest, apikey_id: int) -> HttpResponse:
    api_key = get_for_org(ApiKey.objects.all(), org=request.org, pk=apikey_id)
    success = f"API key “{api_key.name}” revoked; clients using it now get 401."
    call_action(request, services.api_key_revoke, api_key=api_key, success=success)
    return redirect("accounts:api_keys")
