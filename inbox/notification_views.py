"""The notification centre's pages: the bell's panel, the list, marking read, preferences.

Thin: reads go through inbox.notifications (always the signed-in user's own rows), writes
through its actions.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import notifications
from inbox.models import AgentPreferences, NotificationKind

PAGE_SIZE = 100

WEEKDAYS = [
    (1, _("Mon")),
    (2, _("Tue")),
    (3, _("Wed")),
    (4, _("Thu")),
    (5, _("Fri")),
    (6, _("Sat")),
    (7, _("Sun")),
]


def notification_bell(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `notification_unread` for the bell in the top bar.

    Lazy: the count is read only when a template shows it, so fragments cost nothing.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notification_unread": SimpleLazyObject(lambda: notifications.unread_count(user))}


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class NotificationPreferencesForm(forms.ModelForm):
    in_app_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("In the app"),
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    desktop_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("On the desktop"),
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    working_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    # Each language is named in itself, so that whoever reads only it finds it.
    language = forms.ChoiceField(
        choices=[("", _("Browser default")), *settings.LANGUAGES],
        required=False,
        widget=forms.Select(attrs={"aria-describedby": "id_language-help"}),
        label=_("Language"),
        help_text=_("Browser default: the language your browser asks for."),
    )

    class Meta:
        model = AgentPreferences
        fields = notifications.PREFERENCE_FIELDS
        widgets = {
            "quiet_from": _time_input(),
            "quiet_until": _time_input(),
            "working_from": _time_input(),
            "working_until": _time_input(),
        }
        labels = {
            "sound": _("Play a sound"),
            "quiet_from": _("Quiet from"),
            "quiet_until": _("until"),
            "working_from": _("Working from"),
            "working_until": _("until"),
        }

    def clean_time_zone(self) -> str:
        name = str(self.cleaned_data["time_zone"]).strip()
        if name not in notifications.time_zone_names():
            raise forms.ValidationError(
                _("Unknown time zone; use a name like Europe/Berlin."), code="time_zone"
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Whole sentences per pair of fields: German word order differs.
        for start, end, incomplete, empty in (
            (
                "quiet_from",
                "quiet_until",
                _("Quiet hours need a start and an end."),
                _("Quiet hours cannot start and end at the same time."),
            ),
            (
                "working_from",
                "working_until",
                _("Working hours need a start and an end."),
                _("Working hours cannot start and end at the same time."),
            ),
        ):
            if start in self.errors or end in self.errors:
                continue
            first, last = data.get(start), data.get(end)
            if (first is None) != (last is None):
                self.add_error(end if last is None else start, incomplete)
            elif first is not None and first == last:
                self.add_error(end, empty)
        if data.get("working_from") is not None and not data.get("working_days"):
            self.add_error("working_days", _("Choose the days your working hours apply to."))
        return data


def _preferences_context(form: NotificationPreferencesForm) -> dict[str, Any]:
    in_app = {str(v) for v in form["in_app_kinds"].value() or []}
    desktop = {str(v) for v in form["desktop_kinds"].value() or []}
    return {
        "form": form,
        "kind_rows": [
            {"value": value, "label": label, "in_app": value in in_app, "desktop": value in desktop}
            for value, label in NotificationKind.choices
        ],
        "time_zones": sorted(notifications.time_zone_names()),
    }


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The bell's panel (htmx) or the page of the user's latest notifications."""
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request,
            "inbox/notifications/_notification_list.html",
            {"notifications": notifications.latest_notifications(request.user), "place": "panel"},
        )
    return render(
        request,
        "inbox/notifications/list.html",
        {
            "notifications": notifications.latest_notifications(request.user, PAGE_SIZE),
            "place": "page",
        },
    )


@login_required
@require_GET
def notification_count(request: HttpRequest) -> HttpResponse:
    """The bell's badge alone (where the context processor is not installed)."""
    return render(
        request,
        "inbox/notifications/_count.html",
        {"unread": notifications.unread_count(request.user)},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark the given ids (POST `id`, repeated) read, or all of the user's when none is given."""
    ids: list[int] | None = None
    raw = request.POST.getlist("id")
    if raw:
        ids = [int(value) for value in raw if value.isdigit()]
    notifications.mark_read(user=request.user, ids=ids)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:notifications")
    if request.POST.get("place") in ("panel", "page"):
        place = request.POST["place"]
        limit = notifications.PANEL_SIZE if place == "panel" else PAGE_SIZE
        return render(
            request,
            "inbox/notifications/_notification_list.html",
            {
                "notifications": notifications.latest_notifications(request.user, limit),
                "place": place,
                "unread": notifications.unread_count(request.user),
                "oob_count": True,
            },
        )
    return render(
        request,
        "inbox/notifications/_count.html",
        {"unread": notifications.unread_count(request.user), "oob": True},
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    current = notifications.preferences_for(request.user)
    if request.method == "POST":
        form = NotificationPreferencesForm(request.POST, instance=current)
        if form.is_valid():
            saved = notifications.save_preferences(
                user=request.user, preferences=form.save(commit=False)
            )
            response = redirect(f"{reverse('inbox:notification_preferences')}?saved=1")
            _remember_language(response, saved.language)
            return response
        status = 422
    else:
        form = NotificationPreferencesForm(instance=current)
        status = 200
    context = _preferences_context(form)
    context["saved"] = request.method == "GET" and request.GET.get("saved") == "1"
    return render(request, "inbox/notifications/preferences.html", context, status=status)


def _remember_language(response: HttpResponse, language: str) -> None:
    """The language cookie follows the user's choice, so that the sign-in page (no user yet)
    speaks it next time; "browser default" drops the cookie so Accept-Language decides again."""
    if not language:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@login_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    """A test notification for the signed-in user, shown by this very response (the page needs
    no live connection): the event rides in the HX-Trigger header to notifications.js."""
    event = notifications.sample_notification_event(user=request.user, now=timezone.now())
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:notification_preferences")
    response = render(request, "inbox/notifications/_test_result.html", {"event": event})
    response["HX-Trigger"] = json.dumps({"inbox:notification": event})
    return response
