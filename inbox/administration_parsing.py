"""What admins type on the team screens in a compact notation, read and written back: working
hours ("09:00-12:30, 13:30-17:00"), durations ("1h30m"), language codes ("de, en") and tag
names ("billing, press"). Each reader raises ValidationError with a sentence that says what was
expected, for the form to show at the field.
"""

from __future__ import annotations

import re
from datetime import time
from itertools import pairwise

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from inbox.actions import ActionRefused
from inbox.persons import normalize_tag_name

MAX_INTERVALS_PER_DAY = 4

# --- working hours --------------------------------------------------------------------------

_CLOCK = r"(\d{1,2})(?:[:.](\d{2}))?"
# Hyphen, en dash or em dash between the two times (what people paste from calendars).
_INTERVAL = re.compile(rf"^{_CLOCK}\s*[-\u2013\u2014]\s*{_CLOCK}$")
_CLOSED_WORDS = {"", "closed", "-", "\u2013", "\u2014", "geschlossen"}


def _clock(hours: str, minutes: str | None, text: str) -> time:
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        raise ValidationError(
            gettext("“%(text)s”: a day ends at 23:59, write that instead of 24:00.")
            % {"text": text}
        )
    if hour > 23 or minute > 59:
        raise ValidationError(gettext("“%(text)s” is not a time of day.") % {"text": text})
    return time(hour, minute)


def parse_day_hours(text: str) -> list[tuple[time, time]]:
    """ "09:00-12:30, 13:30-17:00" -> [(09:00, 12:30), (13:30, 17:00)]; "" or "closed" -> [].

    Hours alone ("9-17") and dots ("9.30") are understood. Raises ValidationError naming the
    piece that is wrong: not a time, ending before it starts, overlapping another interval.
    """
    cleaned = text.strip().lower()
    if cleaned in _CLOSED_WORDS:
        return []
    intervals: list[tuple[time, time]] = []
    for piece in re.split(r"[,;]", cleaned):
        piece = piece.strip()
        if not piece:
            continue
        match = _INTERVAL.match(piece)
        if match is None:
            raise ValidationError(
                gettext("“%(piece)s” is not an interval like 09:00-17:00.") % {"piece": piece}
            )
        opens = _clock(match.group(1), match.group(2), piece)
        closes = _clock(match.group(3), match.group(4), piece)
        if opens >= closes:
            raise ValidationError(gettext("“%(piece)s” ends before it starts.") % {"piece": piece})
        intervals.append((opens, closes))
    intervals.sort()
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        raise ValidationError(
            gettext("At most %(max)s intervals a day.") % {"max": MAX_INTERVALS_PER_DAY}
        )
    for (first_opens, first_closes), (second_opens, second_closes) in pairwise(intervals):
        if second_opens < first_closes:
            raise ValidationError(
                gettext("%(first)s and %(second)s overlap.")
                % {
                    "first": f"{first_opens:%H:%M}-{first_closes:%H:%M}",
                    "second": f"{second_opens:%H:%M}-{second_closes:%H:%M}",
                }
            )
    return intervals


def format_day_hours(intervals: list[tuple[time, time]]) -> str:
    return ", ".join(f"{opens:%H:%M}-{closes:%H:%M}" for opens, closes in intervals)


# --- durations --------------------------------------------------------------------------------

_DURATION = re.compile(r"^(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")


def parse_duration_minutes(text: str) -> int:
    """ "24h" -> 1440, "1h30m" -> 90, "90m" -> 90, "2d 4h" -> 3120. A bare number is refused:
    nobody can tell whether "90" means minutes or hours."""
    cleaned = text.strip().lower().replace(" ", "")
    match = _DURATION.match(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        raise ValidationError(
            gettext("“%(text)s” is not a duration. Write e.g. 24h, 1h30m or 90m.")
            % {"text": text.strip()}
        )
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return days * 24 * 60 + hours * 60 + minutes


def format_minutes(minutes: int | None) -> str:
    """1440 -> "24h", 90 -> "1h30m", 45 -> "45m", 7200 -> "5d"; None -> "" (no target)."""
    if minutes is None:
        return ""
    if minutes >= 2 * 24 * 60 and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"  # "5d" reads better than "120h"; 24h stays 24h
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h{rest}m" if rest else f"{hours}h"


# --- lists typed as text ----------------------------------------------------------------------

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")


def parse_languages(text: str) -> tuple[str, ...]:
    """ "de, en" -> ("de", "en"): ISO 639 codes, lower case, optionally with a region ("pt-br");
    duplicates dropped, order kept."""
    codes: list[str] = []
    for piece in re.split(r"[,;\s]+", text.strip().lower()):
        if not piece:
            continue
        if not _LANGUAGE.match(piece):
            raise ValidationError(
                gettext("“%(code)s” is not a language code. Use two-letter codes like de, en, fr.")
                % {"code": piece}
            )
        if piece not in codes:
            codes.append(piece)
    return tuple(codes)


def parse_tag_names(text: str) -> tuple[str, ...]:
    """ "billing, Press" -> ("billing", "Press"), each checked as a tag name; duplicates
    (ignoring case) dropped."""
    names: list[str] = []
    for piece in text.split(","):
        if not piece.strip():
            continue
        try:
            name = normalize_tag_name(piece)
        except ActionRefused as exc:
            raise ValidationError(str(exc)) from None
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return tuple(names)
