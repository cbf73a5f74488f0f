"""The composer: replies, private replies, internal notes, saved replies (the `/` picker and
their management) and agent signatures. Thin views over inbox.composer, inbox.notes and
inbox.actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox import actions, composer, notes
from inbox.access import AccessDenied, ReadOnly
from inbox.forms import (
    NoteForm,
    ReplyForm,
    SavedReplyForm,
    SavedReplyVariantFormSet,
    SignatureForm,
)
from inbox.models import Conversation, Direction, Message, SavedReply
from inbox.views import message_fragment


def _visible_conversation(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.visible_to(request.user).select_related("channel_account", "contact"),
        pk=pk,
    )


def _error(request: HttpRequest, error: str, status: int) -> HttpResponse:
    # composer.js shows the response text in the form's [data-error], so plain text it is.
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "inbox/_form_error.html", {"error": error}, status=status)
    if status == 422:
        return HttpResponseBadRequest(error)
    return HttpResponse(error, status=status, content_type="text/plain; charset=utf-8")


def _form_errors(form: NoteForm | ReplyForm) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a reply or private reply (with the agent's signature); mode "note" adds a note,
    so the composer also works without JavaScript."""
    conversation = _visible_conversation(request, pk)
    if request.POST.get("mode") == "note":
        return _add_note(request, conversation)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _error(request, _form_errors(form), 422)
    in_reply_to = None
    if form.cleaned_data["in_reply_to"]:
        in_reply_to = Message.objects.filter(
            conversation=conversation,
            pk=form.cleaned_data["in_reply_to"],
            direction=Direction.INBOUND,
        ).first()
    try:
        action = composer.send_reply(
            user=request.user,
            conversation=conversation,
            text=form.cleaned_data["text"],
            in_reply_to=in_reply_to,
            private=form.cleaned_data["private"],
            take_over=form.cleaned_data["take_over"],
        )
    except composer.ReplyCollision as exc:
        return _error(request, str(exc), 409)
    except actions.ActionRefused as exc:
        return _error(request, str(exc), 422)
    except ReadOnly as exc:
        return _error(request, str(exc), 403)
    except AccessDenied:
        return HttpResponse(status=404)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=conversation.pk)
    assert action.message_id is not None  # a reply always has its outbound message
    return message_fragment(request, action.message_id)


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    """Add an internal note; the response is the note's thread fragment."""
    return _add_note(request, _visible_conversation(request, pk))


def _add_note(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _error(request, _form_errors(form), 422)
    try:
        added = notes.add_note(
            user=request.user, conversation=conversation, text=form.cleaned_data["text"]
        )
    except actions.ActionRefused as exc:
        return _error(request, str(exc), 422)
    except ReadOnly as exc:
        return _error(request, str(exc), 403)
    except AccessDenied:
        return HttpResponse(status=404)
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("inbox:conversation", pk=conversation.pk)
    return render(request, "inbox/_note.html", {"note": added})


@login_required
@require_GET
def saved_reply_search(request: HttpRequest, pk: int) -> JsonResponse:
    """The `/` picker: saved replies matching ?q=, rendered for this conversation (JSON; the
    browser puts every string in with textContent)."""
    conversation = _visible_conversation(request, pk)
    suggestions = composer.suggest_saved_replies(
        user=request.user, conversation=conversation, query=request.GET.get("q", "")[:100]
    )
    return JsonResponse({"results": [s.as_json() for s in suggestions]})


# --- management pages -----------------------------------------------------------------------


@login_required
@require_GET
def saved_reply_list(request: HttpRequest) -> HttpResponse:
    if not composer.can_manage_saved_replies(request.user):
        raise Http404
    return render(
        request,
        "inbox/composer/saved_replies.html",
        {"saved_replies": composer.manageable_saved_replies(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def saved_reply_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk) or change a saved reply and its variants."""
    if not composer.can_manage_saved_replies(request.user):
        raise Http404
    saved_reply = None
    if pk is not None:
        saved_reply = get_object_or_404(SavedReply.objects.prefetch_related("departments"), pk=pk)
        if not composer.can_manage_saved_reply(request.user, saved_reply):
            raise Http404
    departments = composer.manageable_departments(request.user)
    scope_required = not getattr(request.user, "is_superuser", False)
    variant_initial = (
        [
            {"language": v.language, "tone": v.tone, "text": v.text}
            for v in saved_reply.variants.all()
        ]
        if saved_reply
        else [{"language": "de", "tone": "du"}, {"language": "de", "tone": "sie"}]
    )
    if request.method == "POST":
        form = SavedReplyForm(request.POST, departments=departments, scope_required=scope_required)
        formset = SavedReplyVariantFormSet(request.POST, prefix="variants")
        if form.is_valid() and formset.is_valid():
            variants = [
                composer.VariantText(
                    language=row.get("language", ""),
                    tone=row.get("tone", ""),
                    text=row.get("text", ""),
                )
                for row in formset.cleaned_data
                if row and not row.get("DELETE")
            ]
            try:
                composer.save_saved_reply(
                    user=request.user,
                    saved_reply=saved_reply,
                    title=form.cleaned_data["title"],
                    shortcut=form.cleaned_data["shortcut"],
                    department_ids=[d.pk for d in form.cleaned_data["departments"]],
                    variants=variants,
                )
            except actions.ActionRefused as exc:
                form.add_error(None, str(exc))
            except AccessDenied:
                raise Http404 from None
            else:
                messages.success(request, _("Saved reply saved."))
                return redirect("inbox:saved_replies")
    else:
        initial = SavedReplyForm.initial_for(saved_reply) if saved_reply else {}
        form = SavedReplyForm(
            initial=initial, departments=departments, scope_required=scope_required
        )
        formset = SavedReplyVariantFormSet(initial=variant_initial, prefix="variants")
    return render(
        request,
        "inbox/composer/saved_reply_form.html",
        {"form": form, "formset": formset, "saved_reply": saved_reply},
    )


@login_required
@require_POST
def saved_reply_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved_reply = get_object_or_404(SavedReply, pk=pk)
    try:
        composer.delete_saved_reply(user=request.user, saved_reply=saved_reply)
    except AccessDenied:
        raise Http404 from None
    messages.success(request, _("Saved reply deleted."))
    return redirect("inbox:saved_replies")


@login_required
@require_http_methods(["GET", "POST"])
def signatures(request: HttpRequest) -> HttpResponse:
    """The user's signatures: a default one and one per channel they may see."""
    channels = composer.signature_channels(request.user)
    assert request.user.pk is not None  # login_required
    if request.method == "POST":
        form = SignatureForm(request.POST, channels=channels, user_id=request.user.pk)
        if form.is_valid():
            for channel_account_id, text in form.signatures():
                composer.set_signature(
                    user=request.user, channel_account_id=channel_account_id, text=text
                )
            messages.success(request, _("Signatures saved."))
            return redirect("inbox:signatures")
    else:
        form = SignatureForm(channels=channels, user_id=request.user.pk)
    return render(request, "inbox/composer/signatures.html", {"form": form})
