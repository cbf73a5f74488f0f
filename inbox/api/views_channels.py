"""Channels, for admins: list, read, connect, configure, pause and resume.

Writes go through channels_integrations.channel_setup (the setup screens' actions), with the
platform's own setup form (ChannelForm) validating settings and secrets exactly as the page
does. Credentials are write-only: answers name the stored secrets, never their values.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels_integrations import channel_setup
from channels_integrations.forms import CREDENTIAL_PREFIX, SETTING_PREFIX, ChannelForm
from channels_integrations.models import ChannelAccount
from channels_integrations.views import available_connector
from inbox.api.permissions import IsChannelAdmin
from inbox.api.serializers import (
    ChannelCreateInput,
    ChannelSerializer,
    ChannelUpdateInput,
    PauseInput,
)
from inbox.api.views_common import ERRORS, WRITE_ERRORS, ApiView


def _channels() -> Any:
    return ChannelAccount.objects.prefetch_related("departments").order_by("name", "pk")


def _form_data(data: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON as the setup form's fields (settings and secrets get their prefixes)."""
    form_data: dict[str, Any] = {
        key: data[key]
        for key in ("name", "poll_interval_seconds", "backfill_days", "default_tone",
                    "default_language")
        if key in data
    }  # fmt: skip
    form_data["departments"] = [str(pk) for pk in data.get("department_ids", [])]
    for name, value in (data.get("settings") or {}).items():
        form_data[SETTING_PREFIX + name] = value
    for name, value in (data.get("credentials") or {}).items():
        form_data[CREDENTIAL_PREFIX + name] = value
    return form_data


def _valid_form(form: ChannelForm) -> ChannelForm:
    if not form.is_valid():
        errors: dict[str, Any] = {}
        for field, messages in form.errors.get_json_data().items():
            name = field.removeprefix(SETTING_PREFIX).removeprefix(CREDENTIAL_PREFIX)
            errors[name] = [m["message"] for m in messages]
        raise ValidationError(errors)
    return form


class ChannelList(ApiView):
    permission_classes = [*ApiView.permission_classes, IsChannelAdmin]

    @extend_schema(
        operation_id="channels_list",
        summary="Channels (admins)",
        responses={200: ChannelSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(ChannelSerializer(_channels(), many=True).data)

    @extend_schema(
        operation_id="channels_create",
        summary="Connect a channel (admins)",
        description="`settings` and `credentials` are the platform's setup fields (as on the "
        "setup page). The channel starts paused: test it on its page, then resume it.",
        request=ChannelCreateInput,
        responses={201: ChannelSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ChannelCreateInput, request)
        connector = available_connector(data["platform"])
        if connector is None:
            raise ValidationError({"platform": [_("This platform cannot be connected yet.")]})
        form = _valid_form(ChannelForm(_form_data(data), setup_fields=connector.setup_fields))
        channel = channel_setup.create_channel(
            user=request.user,
            platform=data["platform"],
            name=form.cleaned_data["name"],
            settings=form.settings_data(),
            credentials=form.credentials_data(),
            poll_interval_seconds=form.cleaned_data["poll_interval_seconds"],
            departments=form.cleaned_data["departments"],
            backfill_days=form.cleaned_data["backfill_days"] or 0,
            reply_defaults=form.reply_defaults(),
        )
        return Response(
            ChannelSerializer(_channels().get(pk=channel.pk)).data, status=status.HTTP_201_CREATED
        )


class ChannelDetail(ApiView):
    permission_classes = [*ApiView.permission_classes, IsChannelAdmin]

    @extend_schema(
        operation_id="channels_retrieve",
        summary="One channel (admins)",
        responses={200: ChannelSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ChannelSerializer(get_object_or_404(_channels(), pk=pk)).data)

    @extend_schema(
        operation_id="channels_partial_update",
        summary="Configure a channel (admins)",
        description="Only the fields given change. `credentials`: the secrets to replace; "
        "the others stay as stored.",
        request=ChannelUpdateInput,
        responses={200: ChannelSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(_channels(), pk=pk)
        data = self.valid(ChannelUpdateInput, request)
        connector = available_connector(channel.platform)
        if connector is None:
            raise ValidationError({"platform": [_("This platform cannot be configured yet.")]})
        current: dict[str, Any] = {
            "name": channel.name,
            "poll_interval_seconds": channel.poll_interval_seconds,
            "default_tone": channel.default_tone,
            "default_language": channel.default_language,
            "department_ids": [d.pk for d in channel.departments.all()],
            "settings": {
                spec.name: channel.settings.get(spec.name, "")
                for spec in connector.setup_fields
                if not spec.secret
            },
        }
        merged = {
            **current,
            **data,
            "settings": {**current["settings"], **data.get("settings", {})},
        }
        stored = {spec.name for spec in connector.setup_fields if spec.secret} & set(
            ChannelSerializer().get_stored_secrets(channel)
        )
        form = _valid_form(
            ChannelForm(
                _form_data(merged),
                setup_fields=connector.setup_fields,
                channel=channel,
                stored_secrets=stored,
            )
        )
        channel_setup.update_channel(
            user=request.user,
            channel=channel,
            name=form.cleaned_data["name"],
            settings=form.settings_data(),
            new_credentials=form.credentials_data(),
            poll_interval_seconds=form.cleaned_data["poll_interval_seconds"],
            departments=form.cleaned_data["departments"],
            reply_defaults=form.reply_defaults(),
        )
        return Response(ChannelSerializer(_channels().get(pk=channel.pk)).data)


class ChannelPause(ApiView):
    permission_classes = [*ApiView.permission_classes, IsChannelAdmin]

    @extend_schema(
        operation_id="channels_pause",
        summary="Stop polling a channel (admins)",
        request=PauseInput,
        responses={200: ChannelSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(ChannelAccount, pk=pk)
        data = self.valid(PauseInput, request)
        channel_setup.pause_channel(user=request.user, channel=channel, reason=data["reason"])
        return Response(ChannelSerializer(_channels().get(pk=pk)).data)


class ChannelResume(ApiView):
    permission_classes = [*ApiView.permission_classes, IsChannelAdmin]

    @extend_schema(
        operation_id="channels_resume",
        summary="Start polling a paused channel (admins)",
        request=None,
        responses={200: ChannelSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(ChannelAccount, pk=pk)
        channel_setup.resume_channel(user=request.user, channel=channel)
        return Response(ChannelSerializer(_channels().get(pk=pk)).data)
