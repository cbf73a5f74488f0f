"""The composer: replies and private replies (and, with the composer's other parts, notes and
saved replies). Thin views over inbox.actions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from inbox import actions
from inbox.access import AccessDenied
from inbox.forms import ReplyForm
from inbox.models import Conversation, Direction, Message
from inbox.views import message_fragment


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.visible_to(request.user), pk=pk)
    form = ReplyForm(request.POST)
    error = ""
    if form.is_valid():
        in_reply_to = None
        if form.cleaned_data["in_reply_to"]:
            in_reply_to = Message.objects.filter(
                conversation=conversation,
                pk=form.cleaned_data["in_reply_to"],
                direction=Direction.INBOUND,
            ).first()
        try:
            action = actions.queue_reply(
                user=request.user,
                conversation=conversation,
                text=form.cleaned_data["text"],
                in_reply_to=in_reply_to,
                private=form.cleaned_data["private"],
            )
        except actions.ActionRefused as exc:
            error = str(exc)
        except AccessDenied:
            return HttpResponse(status=404)
        else:
            if not request.htmx:  # type: ignore[attr-defined]
                return redirect("inbox:conversation", pk=conversation.pk)
            assert action.message_id is not None  # a reply always has its outbound message
            return message_fragment(request, action.message_id)
    else:
        error = "; ".join(str(e) for errors in form.errors.values() for e in errors)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_form_error.html", {"error": error}, status=422)
    return HttpResponseBadRequest(error)
