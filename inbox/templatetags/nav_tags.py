"""What the top navigation shows the signed-in user."""

from __future__ import annotations

from django import template

from inbox.reports.scope import may_view_reports

register = template.Library()


@register.simple_tag(takes_context=True)
def sees_reports(context: template.Context) -> bool:
    """Whether the signed-in user may open the reports (admins and team leads)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user is not None and user.is_authenticated and may_view_reports(user)
