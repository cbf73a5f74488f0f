"""Persons and their contacts (visible as on the person pages: inbox.persons.visible_persons),
who the token acts as (/me/), and the reports."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from inbox.access import AccessDenied, is_admin, is_lead
from inbox.api import pagination
from inbox.api.serializers import (
    ContactSerializer,
    MeSerializer,
    PersonPage,
    PersonSerializer,
)
from inbox.api.views_common import ERRORS, PAGE_PARAMETERS, ApiView, clean_query
from inbox.models import ApiToken, Contact, Membership, Person, Tag
from inbox.persons import visible_persons
from inbox.queries import SortOrder

PERSON_ORDER = SortOrder("created", "Newest first", "created_at", True)


def _persons(request: Request) -> QuerySet[Person]:
    return visible_persons(request.user).prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by("platform", "pk")),
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
    )


class PersonList(ApiView):
    @extend_schema(
        operation_id="persons_list",
        summary="Persons",
        description="Persons with at least one conversation the user may see (admins: all), "
        "newest first, each with their contacts. `q` searches names and handles.",
        parameters=[OpenApiParameter("q", str), *PAGE_PARAMETERS],
        responses={200: PersonPage, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        persons = _persons(request)
        query = request.query_params.get("q", "").strip()[:200]
        if query:
            matching = Contact.objects.filter(
                Q(handle__icontains=query) | Q(display_name__icontains=query)
            ).values("person_id")
            persons = persons.filter(Q(display_name__icontains=query) | Q(pk__in=matching))
        page = pagination.keyset_page(persons, PERSON_ORDER, request)
        data = PersonSerializer(page.rows, many=True).data
        return Response(pagination.paged(data, page.next_cursor))


class PersonDetail(ApiView):
    @extend_schema(
        operation_id="persons_retrieve",
        summary="One person with their contacts",
        responses={200: PersonSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(PersonSerializer(get_object_or_404(_persons(request), pk=pk)).data)


class ContactDetail(ApiView):
    @extend_schema(
        operation_id="contacts_retrieve",
        summary="One contact (a platform identity)",
        description="Visible when its person is.",
        responses={200: ContactSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        contact = get_object_or_404(
            Contact.objects.filter(person__in=visible_persons(request.user)), pk=pk
        )
        return Response(ContactSerializer(contact).data)


class Me(ApiView):
    @extend_schema(
        operation_id="me_retrieve",
        summary="Who the request acts as",
        description="The token's user, their roles per department, and the token itself.",
        responses={200: MeSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        user = request.user
        memberships = Membership.objects.filter(user_id=user.pk).select_related("department")
        data: dict[str, Any] = {
            "id": user.pk,
            "username": user.get_username(),
            "name": user.get_full_name() or user.get_username(),
            "is_admin": is_admin(user),
            "is_lead": is_lead(user),
            "memberships": [
                {"department_id": m.department_id, "department": m.department.name, "role": m.role}
                for m in memberships.order_by("department__name")
            ],
            "token": request.auth if isinstance(request.auth, ApiToken) else None,
        }
        return Response(MeSerializer(data).data)


class Reports(ApiView):
    @extend_schema(
        operation_id="reports_retrieve",
        summary="Reports",
        description="The same figures as the reports page (team leads and admins), for the "
        "channels the user may see. The query string takes the page's filters.",
        parameters=[
            OpenApiParameter(
                "period", str, enum=["today", "7d", "30d", "this_month", "last_month", "custom"]
            ),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (custom period)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (custom period)."),
            OpenApiParameter("channel", int, many=True),
            OpenApiParameter("platform", str, many=True),
            OpenApiParameter("department", int, many=True),
            OpenApiParameter("agent", int, many=True),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report's figures."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        # Imported here: the reports module is optional for the rest of the API.
        from inbox.reports.queries import ReportParamsError, build_report

        try:
            report = build_report(user=request.user, params=clean_query(request))
        except AccessDenied as exc:
            # Not a hidden object but a page the role does not include: say so.
            raise PermissionDenied(str(exc) or None) from None
        except ReportParamsError as exc:
            raise ValidationError(exc.errors) from None
        except ValueError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(report.as_dict())
