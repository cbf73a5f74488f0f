"""The webhook screens (team administration): subscriptions, their delivery log, the test
button. Admins only: everyone else gets 403 on every URL, GET and POST alike (see
admin_required). Thin: the form validates, inbox.webhooks.actions writes and audits."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.actions import ActionRefused
from inbox.administration_views import admin_required
from inbox.models.integrations import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookSubscription,
)
from inbox.webhooks import actions
from inbox.webhooks.forms import SubscriptionForm

SECTION = "webhooks"
LOG_PAGE_SIZE = 25
EVENT_LABELS = dict(WebhookEvent.choices)


@admin_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    """Every subscription with its events, state and the result of its newest attempted
    delivery (one that has not been tried yet says nothing about the receiver)."""
    newest = WebhookDelivery.objects.filter(subscription=OuterRef("pk"), attempts__gt=0).order_by(
        "-updated_at", "-id"
    )
    subscriptions = list(
        WebhookSubscription.objects.annotate(last_delivery_id=Subquery(newest.values("pk")[:1]))
    )
    last = WebhookDelivery.objects.in_bulk(
        [s.last_delivery_id for s in subscriptions if s.last_delivery_id]
    )
    rows = [
        {
            "subscription": subscription,
            "events": [EVENT_LABELS.get(event, event) for event in subscription.events],
            "last": last.get(subscription.last_delivery_id),
        }
        for subscription in subscriptions
    ]
    return render(request, "webhooks/list.html", {"section": SECTION, "rows": rows})


def _secret_page(
    request: HttpRequest, result: actions.WithSecret, *, created: bool
) -> HttpResponse:
    response = render(
        request,
        "webhooks/secret.html",
        {
            "section": SECTION,
            "subscription": result.subscription,
            "secret": result.secret,
            "created": created,
        },
    )
    # The one page that shows the secret: no browser or proxy may keep a copy.
    add_never_cache_headers(response)
    response["Cache-Control"] += ", no-store"
    return response


@admin_required
@require_http_methods(["GET", "POST"])
def subscription_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = actions.create_subscription(user=request.user, **form.values())
        return _secret_page(request, result, created=True)
    return render(request, "webhooks/form.html", {"section": SECTION, "form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    initial = {
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events,
        "active": subscription.active,
    }
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.update_subscription(user=request.user, subscription=subscription, **form.values())
        messages.success(request, _("Webhook “%(name)s” saved.") % {"name": form.values()["name"]})
        return redirect("webhooks:list")
    return render(
        request,
        "webhooks/form.html",
        {"section": SECTION, "form": form, "subscription": subscription},
    )


@admin_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    actions.delete_subscription(user=request.user, subscription=subscription)
    messages.success(request, _("Webhook “%(name)s” deleted.") % {"name": subscription.name})
    return redirect("webhooks:list")


@admin_required
@require_POST
def rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    result = actions.rotate_secret(user=request.user, subscription=subscription)
    return _secret_page(request, result, created=False)


@admin_required
@require_POST
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Enqueue a test event; htmx gets the delivery's status fragment, which polls itself."""
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    delivery = actions.send_test_event(user=request.user, subscription=subscription)
    if request.htmx:  # type: ignore[attr-defined]  # django_htmx's middleware
        return render(request, "webhooks/_test_status.html", {"delivery": delivery})
    messages.info(request, _("Test event queued; its result appears in the delivery log."))
    return redirect("webhooks:deliveries", pk=subscription.pk)


@admin_required
@require_GET
def delivery_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status fragment of one delivery (polled every second until it is settled)."""
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    return render(request, "webhooks/_test_status.html", {"delivery": delivery})


@admin_required
@require_GET
def delivery_log(request: HttpRequest, pk: int) -> HttpResponse:
    """A subscription's deliveries, newest first, each with its attempts and payload."""
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    deliveries = subscription.deliveries.order_by("-created_at", "-id").prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )
    page = Paginator(deliveries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [
        {
            "delivery": delivery,
            "label": EVENT_LABELS.get(delivery.event, delivery.event),
            "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
        }
        for delivery in page.object_list
    ]
    return render(
        request,
        "webhooks/deliveries.html",
        {
            "section": SECTION,
            "subscription": subscription,
            "page": page,
            "entries": entries,
            "states": WebhookDeliveryState,
        },
    )


@admin_required
@require_POST
def redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery, pk=pk)
    try:
        actions.redeliver(user=request.user, delivery=delivery)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The delivery is queued again."))
    return redirect("webhooks:deliveries", pk=delivery.subscription_id)
