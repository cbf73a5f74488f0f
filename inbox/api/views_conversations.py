"""Conversations: the list (the UI's queues and filters, keyset-paginated), one conversation,
its messages and notes, and what agents do to it (reply, note, assign, status, priority, tags).

Thin: reads go through Conversation.objects.visible_to (a conversation the token's user may
not see is a 404), writes through the same action functions the pages call (inbox.composer,
inbox.notes, inbox.conversation_actions), which check the permission themselves.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from inbox import composer, conversation_actions, notes, queries
from inbox.access import check_can_act
from inbox.api import pagination
from inbox.api.serializers import (
    AssignInput,
    ConversationDetailSerializer,
    ConversationPage,
    ConversationSerializer,
    MessagePage,
    MessageSerializer,
    NoteInput,
    NotePage,
    NoteSerializer,
    OutboundActionSerializer,
    PriorityInput,
    ReplyInput,
    StatusInput,
    TagsInput,
)
from inbox.api.views_common import (
    ERRORS,
    PAGE_PARAMETERS,
    WRITE_ERRORS,
    ApiView,
    clean_query,
)
from inbox.models import Conversation, Department, Direction, Message, Note, SavedView, Tag
from inbox.queries import SortOrder

# Messages read in the order they were written on the platform.
MESSAGE_ORDER = SortOrder("sent", "Sent", "sent_at", False)
NOTE_ORDER = SortOrder("created", "Created", "created_at", False)
# The list's columns (inbox.queries.ROW_FIELDS) and what ConversationSerializer adds to them: a
# deferred column would cost one query per row.
LIST_FIELDS = (*queries.ROW_FIELDS, "contact__platform", "contact__person_id")

FILTER_PARAMETERS = [
    OpenApiParameter(
        "queue",
        str,
        description="A queue of the UI: mine, unassigned, mentions, department-<id>, all "
        "(leads and admins), approval (leads and admins), view-<id> (one's saved views). "
        "Unknown: the user's default queue.",
    ),
    OpenApiParameter("q", str, description="Search text (message words, author names)."),
    OpenApiParameter(
        "status",
        str,
        many=True,
        description="new, open, pending, snoozed, resolved, ignored, or any.",
    ),
    OpenApiParameter("channel", int, many=True),
    OpenApiParameter("platform", str, many=True),
    OpenApiParameter("priority", int, many=True, enum=[0, 1, 2, 3]),
    OpenApiParameter("assignee", str, description="A user id, me, or none."),
    OpenApiParameter("department", int, many=True),
    OpenApiParameter("tag", int, many=True),
    OpenApiParameter("language", str, many=True),
    OpenApiParameter("sentiment", str, many=True, enum=["negative", "neutral", "positive"]),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Last message on or after."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Last message on or before."),
    OpenApiParameter("post", str, description="<channel id>:<post external id>"),
    OpenApiParameter("sort", str, enum=list(queries.SORTS)),
]


def visible_conversations(request: Request) -> QuerySet[Conversation]:
    return Conversation.objects.visible_to(request.user)


def conversation_for(request: Request, pk: int) -> Conversation:
    """The conversation if the user may see it, else 404 (whether or not it exists)."""
    return get_object_or_404(
        visible_conversations(request).select_related(
            "channel_account", "contact", "assignee", "department"
        ),
        pk=pk,
    )


def detail(conversation_id: int, request: Request) -> dict[str, Any]:
    """The conversation as it is now (after a write), for the response."""
    conversation = get_object_or_404(
        visible_conversations(request)
        .select_related("channel_account", "contact", "assignee")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name"))),
        pk=conversation_id,
    )
    return dict(ConversationDetailSerializer(conversation).data)


class ConversationList(ApiView):
    @extend_schema(
        operation_id="conversations_list",
        summary="List conversations",
        description="The same queues and filters as the inbox list, newest first unless `sort` "
        "says otherwise. Keyset-paginated: follow `next_cursor` until it is empty; "
        "conversations that change meanwhile may move, but none is listed twice on the "
        "way and none that stays in place is skipped.",
        parameters=[*FILTER_PARAMETERS, *PAGE_PARAMETERS],
        responses={200: ConversationPage, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = clean_query(request)
        workspace = queries.Workspace.for_user(request.user)
        saved_views = list(SavedView.objects.filter(user=request.user.pk))
        queue = workspace.queue(params.get("queue", ""), saved_views)
        form = queries.ListFilterForm(params, workspace=workspace)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        criteria = form.criteria(queue.criteria, user_id=workspace.user_id)
        order = queries.SORTS[form.cleaned_data.get("sort") or queue.sort]
        rows = (
            queries.conversations_for_list(request.user)
            .only(*LIST_FIELDS)
            .filter(criteria.q(workspace.department_channels))
        )
        page = pagination.keyset_page(rows, order, request)
        data = ConversationSerializer(page.rows, many=True).data
        return Response(pagination.paged(data, page.next_cursor))


class ConversationDetail(ApiView):
    @extend_schema(
        operation_id="conversations_retrieve",
        summary="One conversation",
        responses={200: ConversationDetailSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(detail(pk, request))


class ConversationMessages(ApiView):
    @extend_schema(
        operation_id="conversations_messages_list",
        summary="The messages of a conversation",
        description="Oldest first (by the platform's time). Keyset-paginated.",
        parameters=PAGE_PARAMETERS,
        responses={200: MessagePage, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        messages = Message.objects.filter(conversation=conversation).select_related(
            "contact", "author"
        ).defer("search_vector", "raw")  # fmt: skip
        page = pagination.keyset_page(messages, MESSAGE_ORDER, request)
        data = MessageSerializer(page.rows, many=True).data
        return Response(pagination.paged(data, page.next_cursor))


class ConversationNotes(ApiView):
    @extend_schema(
        operation_id="conversations_notes_list",
        summary="The internal notes of a conversation",
        parameters=PAGE_PARAMETERS,
        responses={200: NotePage, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        rows = Note.objects.filter(conversation=conversation).select_related("author")
        page = pagination.keyset_page(rows, NOTE_ORDER, request)
        data = NoteSerializer(page.rows, many=True).data
        return Response(pagination.paged(data, page.next_cursor))


class ConversationNote(ApiView):
    @extend_schema(
        operation_id="conversations_note",
        summary="Add an internal note",
        description="Never sent to the platform. `@username` mentions notify colleagues.",
        request=NoteInput,
        responses={201: NoteSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        data = self.valid(NoteInput, request)
        note = notes.add_note(user=request.user, conversation=conversation, text=data["text"])
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class ConversationReply(ApiView):
    @extend_schema(
        operation_id="conversations_reply",
        summary="Reply (or reply privately)",
        description="Queued in the outbox and delivered to the platform by a worker; the "
        "answer is the outbox row (`state` queued, or awaiting_approval when a lead has to "
        "approve it first). The agent's signature for the channel is appended, as in the "
        "composer. 409 while a colleague is writing a reply here, unless `take_over`.",
        request=ReplyInput,
        responses={202: OutboundActionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        data = self.valid(ReplyInput, request)
        in_reply_to = None
        if data.get("in_reply_to"):
            in_reply_to = Message.objects.filter(
                conversation=conversation, pk=data["in_reply_to"], direction=Direction.INBOUND
            ).first()
            if in_reply_to is None:
                raise ValidationError(
                    {"in_reply_to": [_("Not an inbound message of this conversation.")]}
                )
        action = composer.send_reply(
            user=request.user,
            conversation=conversation,
            text=data["text"],
            in_reply_to=in_reply_to,
            private=data["private"],
            take_over=data["take_over"],
        )
        return Response(OutboundActionSerializer(action).data, status=status.HTTP_202_ACCEPTED)


class ConversationAssign(ApiView):
    @extend_schema(
        operation_id="conversations_assign",
        summary="Assign to a person and/or route to a department",
        description="Agents assign within their departments; routing to a department is for "
        "leads and admins. Refused (409) with the reason otherwise.",
        request=AssignInput,
        responses={200: ConversationDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        check_can_act(request.user, conversation)
        data = self.valid(AssignInput, request)
        assignee = None
        if data["assignee"] is not None:
            assignee = get_user_model().objects.filter(pk=data["assignee"], is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee": [_("Choose an active colleague.")]})
        set_department = "department" in data
        department = None
        if set_department and data["department"] is not None:
            department = Department.objects.filter(pk=data["department"]).first()
            if department is None:
                raise ValidationError({"department": [_("No such department.")]})
        conversation_actions.assign_conversations(
            user=request.user,
            conversation_ids=[conversation.pk],
            assignee=assignee,
            department=department,
            set_department=set_department,
        )
        return Response(detail(conversation.pk, request))


class ConversationStatusView(ApiView):
    @extend_schema(
        operation_id="conversations_status",
        summary="Set the status (snooze with snoozed_until)",
        request=StatusInput,
        responses={200: ConversationDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        check_can_act(request.user, conversation)
        data = self.valid(StatusInput, request)
        conversation_actions.set_status(
            user=request.user,
            conversation_ids=[conversation.pk],
            status=data["status"],
            snoozed_until=data.get("snoozed_until"),
        )
        return Response(detail(conversation.pk, request))


class ConversationPriority(ApiView):
    @extend_schema(
        operation_id="conversations_priority",
        summary="Set the priority (0 low, 1 normal, 2 high, 3 urgent)",
        request=PriorityInput,
        responses={200: ConversationDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        check_can_act(request.user, conversation)
        data = self.valid(PriorityInput, request)
        conversation_actions.set_priority(
            user=request.user, conversation_ids=[conversation.pk], priority=int(data["priority"])
        )
        return Response(detail(conversation.pk, request))


class ConversationTags(ApiView):
    @extend_schema(
        operation_id="conversations_tags",
        summary="Add, remove or set tags",
        description="`add`: names (new tags are created); `remove`: tag ids; `set`: exactly "
        "these names.",
        request=TagsInput,
        responses={200: ConversationDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        conversation = conversation_for(request, pk)
        check_can_act(request.user, conversation)
        data = self.valid(TagsInput, request)
        add: list[str] = data.get("add", [])
        remove: list[int] = data.get("remove", [])
        if "set" in data:
            wanted = {t.pk for t in conversation_actions.tags_by_name(data["set"])}
            current = set(conversation.tags.values_list("pk", flat=True))
            add = list(data["set"])
            remove = sorted(current - wanted)
        conversation_actions.change_tags(
            user=request.user, conversation_ids=[conversation.pk], add=add, remove=remove
        )
        return Response(detail(conversation.pk, request))
