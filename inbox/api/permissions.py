"""Who may call which endpoint. What they may see and change is inbox.access's to decide."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from inbox.access import can_manage_channels


class IsChannelAdmin(BasePermission):
    """Channel configuration is for admins only (inbox.access.can_manage_channels)."""

    message = _("Only admins manage channels.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(can_manage_channels(request.user))
