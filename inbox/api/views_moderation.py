"""Moderation: hide, unhide or delete one platform item (the thread's buttons), and the
moderation queue with its decisions (approve, confirm the hide, delete, ban the author).

Thin: inbox.actions.queue_message_action and moderation.actions decide and write; both queue
what has to happen on the platform in the outbox, so the answer is 202 and the item's state
changes when the platform confirms.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from inbox.actions import queue_message_action
from inbox.api import pagination
from inbox.api.serializers import (
    CaseDecisionInput,
    CasePage,
    CaseResultSerializer,
    ModerationCaseSerializer,
    OutboundActionSerializer,
)
from inbox.api.views_common import ERRORS, PAGE_PARAMETERS, WRITE_ERRORS, ApiView
from inbox.models import Conversation, Message, OutboundKind
from inbox.queries import SortOrder
from moderation import actions as moderation
from moderation.models import CaseState, ModerationCase
from moderation.queue_views import visible_cases

MESSAGE_ACTIONS = {
    "hide": OutboundKind.HIDE,
    "unhide": OutboundKind.UNHIDE,
    "delete": OutboundKind.DELETE,
}
CASE_ORDER = SortOrder("flagged", "Newest first", "flagged_at", True)
# The URL's decision slugs, as the queue page names them.
DECISIONS = {
    "approve": moderation.approve_case,
    "confirm-hide": moderation.confirm_hide,
    "delete": moderation.delete_item,
}


class MessageAction(ApiView):
    @extend_schema(
        operation_id="messages_action",
        summary="Hide, unhide or delete a platform item",
        description="Queued in the outbox (202); the message's `platform_state` changes when "
        "the platform confirms. 409 when the platform or the item does not allow it, or the "
        "same action is already on its way.",
        request=None,
        parameters=[
            OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(MESSAGE_ACTIONS))
        ],
        responses={202: OutboundActionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        kind = MESSAGE_ACTIONS.get(action)
        if kind is None:
            raise NotFound()
        message = get_object_or_404(
            Message.objects.select_related("conversation", "channel_account", "contact").filter(
                conversation__in=Conversation.objects.visible_to(request.user)
            ),
            pk=pk,
        )
        outbound = queue_message_action(user=request.user, message=message, kind=kind)
        return Response(OutboundActionSerializer(outbound).data, status=status.HTTP_202_ACCEPTED)


class CaseList(ApiView):
    @extend_schema(
        operation_id="moderation_cases_list",
        summary="The moderation queue",
        description="Cases on the channels the user may see, newest first. `state` filters "
        "(default pending).",
        parameters=[
            OpenApiParameter("state", str, enum=[*CaseState.values, "any"]),
            *PAGE_PARAMETERS,
        ],
        responses={200: CasePage, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        state = request.query_params.get("state", CaseState.PENDING)
        cases = visible_cases(request.user).select_related(
            "message__contact", "message__author", "decided_by"
        )
        if state != "any":
            if state not in CaseState.values:
                raise ValidationError({"state": [_("Not a case state.")]})
            cases = cases.filter(state=state)
        page = pagination.keyset_page(cases, CASE_ORDER, request)
        data = ModerationCaseSerializer(page.rows, many=True).data
        return Response(pagination.paged(data, page.next_cursor))


class CaseDetail(ApiView):
    @extend_schema(
        operation_id="moderation_cases_retrieve",
        summary="One moderation case",
        responses={200: ModerationCaseSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        case = get_object_or_404(
            visible_cases(request.user).select_related("message__contact", "decided_by"), pk=pk
        )
        return Response(ModerationCaseSerializer(case).data)


class CaseDecision(ApiView):
    @extend_schema(
        operation_id="moderation_cases_decide",
        summary="Decide a moderation case",
        description="approve (stays or becomes visible), confirm-hide, delete, or ban (the "
        "author, across networks: leads and admins; needs a `reason`). 409 when someone "
        "decided it first or the platform cannot do it.",
        request=CaseDecisionInput,
        parameters=[
            OpenApiParameter("decision", str, OpenApiParameter.PATH, enum=[*DECISIONS, "ban"])
        ],
        responses={200: CaseResultSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int, decision: str) -> Response:
        if decision not in DECISIONS and decision != "ban":
            raise NotFound()
        case = get_object_or_404(visible_cases(request.user), pk=pk)
        data = self.valid(CaseDecisionInput, request)
        if decision == "ban":
            result = moderation.ban_author(user=request.user, case=case, reason=data["reason"])
        else:
            result = DECISIONS[decision](user=request.user, case=case)
        case = (
            ModerationCase.objects.select_related("message__contact", "decided_by")
            .filter(pk=case.pk)
            .get()
        )
        result.case = case
        return Response(CaseResultSerializer(result).data)
