"""The availability menu in the top bar: online, away or offline for auto-assignment.

Thin: the write is inbox.assignment.set_availability.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_http_methods

from inbox.assignment import current_availability, set_availability
from inbox.models import Availability


def availability_menu(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `availability_now` and `availability_choices` for the top bar.

    Lazy: the user's availability is read only when a template shows it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "availability_now": SimpleLazyObject(lambda: current_availability(user)),
        "availability_choices": Availability.choices,
    }


@login_required
@require_http_methods(["GET", "POST"])
def availability(request: HttpRequest) -> HttpResponse:
    """GET: the menu (where the context processor is not installed). POST `availability`:
    set it and answer the menu (htmx) or go back to the inbox."""
    status = 200
    if request.method == "POST":
        chosen = request.POST.get("availability", "")
        if chosen in Availability.values:
            set_availability(user=request.user, availability=chosen)
            if not request.htmx:  # type: ignore[attr-defined]
                return redirect("inbox:list")
        else:
            status = 422
    return render(
        request,
        "inbox/_availability.html",
        {
            "availability_now": current_availability(request.user),
            "availability_choices": Availability.choices,
            "availability_error": status == 422,
        },
        status=status,
    )
