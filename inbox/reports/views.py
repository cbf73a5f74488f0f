"""The reports page and its CSV exports (thin: the figures come from inbox.reports.queries)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

# Private today: the report asks (docs/reports.md) to make them public as the CSV helpers of
# every export.
from inbox.audit import EchoWriter
from inbox.audit import csv_cell as csv_text
from inbox.reports import display, queries, sections
from inbox.reports.scope import ReportOptions, Table, may_view_reports


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponseBase:
    """The report for the period and filters in the query string; with `format=csv` and
    `table=<name>`, that table as CSV. Leads and admins only (403 for everyone else); a bad
    value answers 400 with the form's message."""
    if not may_view_reports(request.user):
        raise PermissionDenied(_("Reports are for team leads and admins."))
    options = ReportOptions.load(request.user)
    query = request.GET.copy()
    wanted_csv = query.pop("format", [""])[-1] == "csv"
    table_name = query.pop("table", [""])[-1]
    form = options.form(query)
    page: dict[str, Any] = {
        "form": form,
        "filter_fields": [form[name] for name in queries.FILTERS],
    }
    if not form.is_valid():
        # The filter menus are small: their messages go in the box above the form.
        page["filter_errors"] = [
            (field.label, error) for field in page["filter_fields"] for error in field.errors
        ]
        return render(request, "reports/report.html", page, status=400)
    if wanted_csv and table_name not in sections.TABLE_NAMES:
        form.add_error(
            None,
            _("Unknown table. Choose one of: %(names)s")
            % {"names": ", ".join(sections.TABLE_NAMES)},
        )
        return render(request, "reports/report.html", page, status=400)
    if wanted_csv:
        built = queries.build_report_from_form(
            request.user, options, form.cleaned_data, only=[sections.TABLE_SECTION[table_name]]
        )
        return _csv_response(
            built.tables[table_name], built.period.first_day, built.period.last_day
        )
    built = queries.build_report_from_form(request.user, options, form.cleaned_data)
    if built.period.preset != "custom":
        # The date fields show the preset's days, a starting point for a custom period (the
        # preset still decides; reports.js makes the period "custom" when a date changes).
        shown = query.copy()
        shown["period"] = built.period.preset
        shown["from"] = built.period.first_day.isoformat()
        shown["to"] = built.period.last_day.isoformat()
        form.data = shown
    return render(
        request,
        "reports/report.html",
        {
            **page,
            "report": built,
            "cards": display.cards(built),
            "summary": display.summary_figures(built),
            "query": query.urlencode(),
        },
    )


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str):
        # Names (tags, channels, agents) can come from a platform or a person: a leading
        # "=", "+", "-" or "@" must not run as a spreadsheet formula.
        return csv_text(value)
    return value


def csv_lines(table: Table) -> Iterator[str]:
    writer = csv.writer(EchoWriter())
    yield writer.writerow([csv_text(column.label) for column in table.columns])
    for row in table.rows:
        yield writer.writerow([_csv_value(value) for value in row])


def _csv_response(table: Table, first: date, last: date) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(table), content_type="text/csv; charset=utf-8")
    filename = f"report-{table.name}-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
