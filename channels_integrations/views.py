from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from channels_integrations.models import ChannelAccount
from inbox.access import visible_channel_ids


@login_required
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    """Channel health at a glance: status, last poll, last error, rate limits."""
    channels = ChannelAccount.objects.order_by("name")
    ids = visible_channel_ids(request.user)
    if ids is not None:
        channels = channels.filter(pk__in=ids)
    return render(request, "channels_integrations/channel_list.html", {"channels": channels})
