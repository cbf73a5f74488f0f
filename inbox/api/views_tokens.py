"""The token page (/api/tokens/): each signed-in user creates, lists and revokes their own
personal API tokens; admins also see and revoke everyone's. Thin over inbox.api.tokens."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from inbox.access import AccessDenied, is_admin
from inbox.actions import ActionRefused
from inbox.api import tokens
from inbox.conversation_actions import user_zone

TOKENS_SHOWN = 500


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=tokens.MAX_NAME_LENGTH,
        strip=True,
        help_text=gettext_lazy("What the token is for, e.g. “CRM sync”."),
    )
    expires_on = forms.DateField(
        label=gettext_lazy("Expires on (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("The token stops working at the end of this day."),
    )


def _context(request: HttpRequest, form: TokenForm) -> dict[str, object]:
    visible = tokens.tokens_visible_to(request.user)
    user_id = int(request.user.pk or 0)
    return {
        "form": form,
        "own_tokens": visible.filter(user_id=user_id)[:TOKENS_SHOWN],
        "other_tokens": visible.exclude(user_id=user_id)[:TOKENS_SHOWN]
        if is_admin(request.user)
        else [],
        "now": timezone.now(),
    }


@never_cache  # the one answer that shows a new token's secret must not be kept anywhere
@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            expires_at = None
            if form.cleaned_data["expires_on"]:
                end_of_day = datetime.combine(form.cleaned_data["expires_on"], time.max)
                expires_at = timezone.make_aware(end_of_day, user_zone(request.user))
            try:
                token, clear = tokens.create_token(
                    user=request.user, name=form.cleaned_data["name"], expires_at=expires_at
                )
            except ActionRefused as exc:
                form.add_error(None, str(exc))
                status = 422
            else:
                created = {"token": token, "secret": clear}
                form = TokenForm()
        else:
            status = 422
    context = {**_context(request, form), "created": created}
    return render(request, "api/tokens.html", context, status=status)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(tokens.tokens_visible_to(request.user), pk=pk)
    try:
        tokens.revoke_token(user=request.user, token=token)
    except AccessDenied:
        raise Http404 from None
    messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    return redirect("api:tokens")
