"""Every string of the interface is translatable, and a request gets the language it asked for.

The scanner reads each template with Django's own lexer, masks everything that is not literal
template text (tags, variables, comments, translated blocks) and then everything that is not
language in the HTML (markup, scripts, styles, entities, keyboard keys, code). Words that are
left are strings a German user would see in English. It also reads the attributes a user sees or
hears (title, placeholder, aria-label, alt, confirmations, button values), the string literals
given to display filters (`default:"Unknown"`), and date formats that would print English month
names or a fixed order. A lighter check reads the scripts in static/js for literals they put on
the page without the JavaScript catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.template.base import DebugLexer, Token, TokenType
from django.urls import reverse

from tests import factories

BASE_DIR = Path(settings.BASE_DIR)
# The project's templates and those of its own apps (installed packages translate their own).
TEMPLATE_ROOTS = [BASE_DIR / "templates"] + [
    Path(app.path) / "templates"
    for app in apps.get_app_configs()
    if Path(app.path).is_relative_to(BASE_DIR)
    and ".venv" not in Path(app.path).parts
    and (Path(app.path) / "templates").is_dir()
]
GERMAN_CATALOG = BASE_DIR / "locale" / "de" / "LC_MESSAGES"

# Not language: the same in English and German, so there is nothing to translate. Keep short.
ALLOWED_WORDS = frozenset(
    {
        # Acronyms used as is in German SaaS products.
        "SLA",
        "CSV",
        "JSON",
        "API",
        "URL",
        "VIP",
        # Platform names are brands (see the i18n instructions).
        "Facebook",
        "Instagram",
        "YouTube",
        "Mastodon",
        "Telegram",
        "X",
        # The API documentation's tool (drf-spectacular's page title).
        "Swagger",
    }
)

# Attributes a user reads or a screen reader speaks. `value` only counts on buttons (below).
SPOKEN_ATTRIBUTES = frozenset(
    {
        "title",
        "placeholder",
        "aria-label",
        "aria-description",
        "aria-roledescription",
        "alt",
        "label",
        "hx-confirm",
        "hx-prompt",
    }
)
BUTTON_INPUT_TYPES = frozenset({"submit", "button", "reset"})

# Filters whose string argument ends up on the page as text.
TEXT_FILTERS = frozenset({"default", "default_if_none", "yesno", "pluralize"})
# Machine-readable values for data attributes (`yesno:'true,false'`) and form fields
# (`assignee_id|default:'none'`), not language.
MACHINE_FILTER_ARGUMENTS = frozenset({"true,false", "false,true", "1,0", "0,1", "none", ""})
# Date formats that are machines' (datetime attributes, JS timestamps, the time zone's
# abbreviation beside a localized time) or the locale's own.
MACHINE_DATE_FORMATS = frozenset({"c", "U", "U.u", "Y-m-d", "r", "T"})
LOCALE_DATE_FORMATS = frozenset(
    {
        "DATE_FORMAT",
        "DATETIME_FORMAT",
        "SHORT_DATE_FORMAT",
        "SHORT_DATETIME_FORMAT",
        "TIME_FORMAT",
        "MONTH_DAY_FORMAT",
        "YEAR_MONTH_FORMAT",
    }
)

SKIPPED_BLOCKS = {
    "comment": "endcomment",
    "blocktranslate": "endblocktranslate",
    "blocktrans": "endblocktrans",
    "verbatim": "endverbatim",
}

HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Code and styles, keyboard keys (not translated, see the i18n instructions), code samples.
NOT_TEXT_ELEMENT = re.compile(r"<(script|style|kbd|code)\b[^>]*>.*?</\1\s*>", re.S | re.I)
HTML_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
ATTRIBUTE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
ATTRIBUTE_RUN = re.compile(r"""(?<![\w-])[A-Za-z][-\w:]*=("[^"]*"|'[^']*')""")
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
FILTER_WITH_LITERAL = re.compile(r"""\|\s*(\w+)\s*:\s*("[^"]*"|'[^']*')""")


@dataclass(frozen=True)
class Finding:
    """A string on a page that is not translatable."""

    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def _blank(text: str) -> str:
    """The same length and lines as `text`, with nothing readable left."""
    return re.sub(r"[^\n]", " ", text)


def _masked_source(source: str) -> tuple[str, list[Token]]:
    """The template with only its literal, untranslated text left in place; positions are kept
    so a finding's offset still gives its line. Also returns the tag and variable tokens."""
    pieces: list[str] = []
    code_tokens: list[Token] = []
    closing: str | None = None
    for token in DebugLexer(source).tokenize():
        assert token.position is not None  # the debug lexer always records it
        start, end = token.position
        original = source[start:end]
        if token.token_type in (TokenType.BLOCK, TokenType.VAR):
            code_tokens.append(token)
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split(" ", 1)[0] if token.contents else ""
            if closing is None and name in SKIPPED_BLOCKS:
                closing = SKIPPED_BLOCKS[name]
            elif closing is not None and name == closing:
                closing = None
        if token.token_type == TokenType.TEXT and closing is None:
            pieces.append(original)
        else:
            # A masked spot is not a word character: `title="{% translate 'x' %}"` is marked.
            pieces.append(re.sub(r"[^\n]", "\x00", original))
    return "".join(pieces), code_tokens


def _line_at(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _unallowed_words(text: str) -> list[str]:
    return [word for word in WORD.findall(ENTITY.sub(" ", text)) if word not in ALLOWED_WORDS]


def _spoken_attribute_findings(path: str, masked: str, start: int, markup: str) -> list[Finding]:
    """`markup` is a tag, or a run of attributes included into one (`<form {% include %}>`)."""
    attributes = {
        name.lower(): (value.strip("\"'"), start + match.start(2))
        for match in ATTRIBUTE.finditer(markup)
        for name, value in [match.groups()]
    }
    spoken = {name for name in attributes if name in SPOKEN_ATTRIBUTES}
    input_type = attributes.get("type", ("", 0))[0].lower()
    if markup.lower().startswith("<input") and input_type in BUTTON_INPUT_TYPES:
        spoken.add("value")
    findings = []
    for name in sorted(spoken):
        value, offset = attributes[name]
        if _unallowed_words(value):
            text = f"{name}={value.replace(chr(0), '…')}"
            findings.append(Finding(path, _line_at(masked, offset), text))
    return findings


def _attribute_findings(path: str, masked: str) -> list[Finding]:
    findings = []
    for tag in HTML_TAG.finditer(masked):
        findings += _spoken_attribute_findings(path, masked, tag.start(), tag.group())
    return findings


def _attribute_run_findings(path: str, masked: str) -> list[Finding]:
    """Attributes outside a tag: a template that is included inside one."""
    findings = []
    for run in ATTRIBUTE_RUN.finditer(masked):
        findings += _spoken_attribute_findings(path, masked, run.start(), run.group())
    return findings


def _text_findings(path: str, masked: str) -> list[Finding]:
    findings = []
    for run in re.finditer(r"[^\x00]+", masked):
        text = run.group()
        if _unallowed_words(text):
            offset = run.start() + len(text) - len(text.lstrip())
            findings.append(Finding(path, _line_at(masked, offset), " ".join(text.split())))
    return findings


def _filter_findings(path: str, code_tokens: list[Token]) -> list[Finding]:
    findings = []
    for token in code_tokens:
        for match in FILTER_WITH_LITERAL.finditer(token.contents):
            name, literal = match.group(1), match.group(2)[1:-1]
            if name not in TEXT_FILTERS or literal in MACHINE_FILTER_ARGUMENTS:
                continue
            # pluralize's suffixes are English grammar even without a whole word ("s").
            if _unallowed_words(literal) or name == "pluralize":
                findings.append(Finding(path, token.lineno or 0, f"|{name}:{match.group(2)}"))
    return findings


def unmarked_strings(source: str, path: str = "<template>") -> list[Finding]:
    """The strings of a template a user would see untranslated, in order."""
    masked, code_tokens = _masked_source(source)
    masked = HTML_COMMENT.sub(lambda match: _blank(match.group()), masked)
    masked = NOT_TEXT_ELEMENT.sub(lambda match: _blank(match.group()), masked)
    findings = _attribute_findings(path, masked)
    masked = HTML_TAG.sub(lambda match: _blank(match.group()), masked)
    findings += _attribute_run_findings(path, masked)
    masked = ATTRIBUTE_RUN.sub(lambda match: _blank(match.group()), masked)
    findings += _text_findings(path, masked)
    findings += _filter_findings(path, code_tokens)
    return sorted(findings, key=lambda finding: finding.line)


def fixed_date_formats(source: str, path: str = "<template>") -> list[Finding]:
    """Dates and times printed with an English or fixed format instead of the locale's."""
    findings = []
    for token in DebugLexer(source).tokenize():
        if token.token_type not in (TokenType.BLOCK, TokenType.VAR):
            continue
        for match in re.finditer(r"""\|\s*(date|time)\s*:\s*("[^"]*"|'[^']*')""", token.contents):
            date_format = match.group(2)[1:-1]
            if date_format not in MACHINE_DATE_FORMATS | LOCALE_DATE_FORMATS:
                findings.append(Finding(path, token.lineno or 0, match.group()))
    return findings


def template_files() -> list[Path]:
    return sorted(
        path
        for root in TEMPLATE_ROOTS
        for path in root.rglob("*")
        if path.is_file() and path.suffix in {".html", ".txt"}
    )


def scan_templates() -> list[Finding]:
    """Every unmarked string in every template of the project."""
    findings = []
    for path in template_files():
        relative = str(path.relative_to(BASE_DIR))
        findings += unmarked_strings(path.read_text(encoding="utf-8"), relative)
    return findings


def scan_date_formats() -> list[Finding]:
    findings = []
    for path in template_files():
        relative = str(path.relative_to(BASE_DIR))
        findings += fixed_date_formats(path.read_text(encoding="utf-8"), relative)
    return findings


# Scripts: a literal put on the page (text, title, placeholder, aria-label, a dialog) must come
# from the JavaScript catalog: gettext("..."), ngettext("...", "...", n).
SCRIPT_ROOTS = [BASE_DIR / "static" / "js"]
_JS_STRING = r"""(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
SCRIPT_TRANSLATED = re.compile(
    rf"\b(?:n?gettext|pgettext|npgettext)\(\s*{_JS_STRING}(?:\s*,\s*{_JS_STRING})*"
)
SCRIPT_SHOWN = re.compile(
    r"\.(?:textContent|innerText|title|placeholder|ariaLabel)\s*=\s*([^;]+);"
    r"|setAttribute\(\s*[\"'](?:aria-label|title|placeholder|alt)[\"']\s*,\s*([^;]+)\)\s*;"
    r"|\b(?:alert|confirm|prompt)\(([^;]*?)\)"
)
SCRIPT_LITERAL = re.compile(_JS_STRING)


def unmarked_script_strings(source: str, path: str = "<script>") -> list[Finding]:
    """English literals a script shows without the catalog. Only direct assignments are read
    (a literal handed to a helper that shows it is not seen): a guard, not a proof."""
    masked = SCRIPT_TRANSLATED.sub(lambda match: _blank(match.group()), source)
    findings = []
    for shown in SCRIPT_SHOWN.finditer(masked):
        expression = next(group for group in shown.groups() if group is not None)
        for literal in SCRIPT_LITERAL.finditer(expression):
            if re.search(r"[^\W\d_]{2,}", literal.group()[1:-1]):
                line = _line_at(source, shown.start())
                findings.append(Finding(path, line, literal.group()[1:-1]))
    return findings


def scan_scripts() -> list[Finding]:
    findings = []
    for root in SCRIPT_ROOTS:
        for path in sorted(root.rglob("*.js")):
            relative = str(path.relative_to(BASE_DIR))
            findings += unmarked_script_strings(path.read_text(encoding="utf-8"), relative)
    return findings


# The scanner itself: each of these must be caught, or the project-wide test proves nothing.


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>Assign to me</p>", "Assign to me"),
        ("{% load i18n %}<h1>{% translate 'Inbox' %}</h1>\n<p>Nothing here</p>", "Nothing here"),
        ("<span>{{ count }} new messages</span>", "new messages"),
        ("<p>{% if x %}Resolved{% endif %}</p>", "Resolved"),
    ],
)
def test_it_finds_text_that_is_not_marked(source: str, expected: str) -> None:
    assert [finding.text for finding in unmarked_strings(source)] == [expected]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('<button title="Close">&times;</button>', "title=Close"),
        ("<input placeholder='Search conversations'>", "placeholder=Search conversations"),
        ('<nav aria-label="Main"></nav>', "aria-label=Main"),
        ('<img alt="Avatar of {{ name }}" src="x.png">', "alt=Avatar of"),
        ('<input type="submit" value="Save">', "value=Save"),
        ('<button hx-post="/x" hx-confirm="Delete it?">', "hx-confirm=Delete it?"),
        ('hx-post="{{ url }}" hx-confirm="Delete it?"', "hx-confirm=Delete it?"),
        ('{{ person.name|default:"Unknown" }}', '|default:"Unknown"'),
        ("{{ n }} item{{ n|pluralize:'s' }}", "|pluralize:'s'"),
    ],
)
def test_it_finds_spoken_attributes_and_filter_texts_that_are_not_marked(
    source: str, expected: str
) -> None:
    assert any(finding.text.startswith(expected) for finding in unmarked_strings(source))


def test_it_reports_the_line_of_an_unmarked_string() -> None:
    source = "{% load i18n %}\n<h1>{% translate 'Inbox' %}</h1>\n\n<p>\n  Nothing here\n</p>"
    assert [(f.line, f.text) for f in unmarked_strings(source, "x.html")] == [(5, "Nothing here")]


def test_it_accepts_marked_strings_markup_and_things_that_are_not_language() -> None:
    source = """{% load i18n %}
<!-- a comment for developers -->
{% comment %}Also for developers{% endcomment %}
<nav aria-label="{% translate 'Main' %}" class="topnav main-nav">
  <a href="{% url 'inbox:list' %}" title="{{ person.name }}">{% translate "Inbox" %}</a>
  {% blocktranslate trimmed count counter=n %}
    {{ counter }} conversation
  {% plural %}
    {{ counter }} conversations
  {% endblocktranslate %}
  <input type="hidden" name="status" value="open">
  <input type="submit" value="{% translate 'Save' %}">
  <kbd>Esc</kbd> <code>inbox_{{ prefix }}</code>
  &middot; &nbsp; 42 — SLA · CSV · Mastodon · @{{ handle }} #{{ tag }}
  <time datetime="{{ when|date:'c' }}">{{ when|date:"SHORT_DATETIME_FORMAT" }}</time>
  <span data-on="{{ on|yesno:'true,false' }}">{{ name|default:_("Unknown") }}</span>
</nav>
<script src="x.js">var ignored = "English";</script>
<style>.x::after { content: "English"; }</style>
"""
    assert unmarked_strings(source) == []


def test_it_finds_dates_in_a_fixed_english_format() -> None:
    source = (
        "{{ when|date:'c' }} {{ when|date:\"SHORT_DATETIME_FORMAT\" }} "
        '{{ when|date:"M j, H:i" }} {{ at|time:"H:i" }}'
    )
    assert [f.text for f in fixed_date_formats(source)] == [
        '|date:"M j, H:i"',
        '|time:"H:i"',
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('label.textContent = "Answering " + name;', "Answering "),
        ("box.title = cond ? gettext('Fine') : 'Not fine';", "Not fine"),
        ('button.setAttribute("aria-label", "Close");', "Close"),
        ('if (!confirm("Delete it?")) return;', "Delete it?"),
    ],
)
def test_it_finds_script_text_that_does_not_come_from_the_catalog(source, expected) -> None:
    assert [finding.text for finding in unmarked_script_strings(source)] == [expected]


def test_it_accepts_script_text_from_the_catalog() -> None:
    source = """
    label.textContent = interpolate(gettext("Answering %(name)s"), { name: name }, true);
    count.textContent = n ? interpolate(ngettext("%(n)s item", "%(n)s items", n), o, true) : "";
    counter.textContent = total + " / " + max;
    button.setAttribute("aria-label", gettext("Close"));
    """
    assert unmarked_script_strings(source) == []


# The project.


def test_every_template_string_is_marked_for_translation() -> None:
    findings = scan_templates()
    assert not findings, "Unmarked strings (wrap them in {% translate %}):\n" + "\n".join(
        map(str, findings)
    )


def test_every_template_date_uses_the_locale_format() -> None:
    findings = scan_date_formats()
    assert not findings, "Fixed date formats (use DATE_FORMAT, TIME_FORMAT ...):\n" + "\n".join(
        map(str, findings)
    )


# The language of a page.


@pytest.mark.django_db
def test_it_names_the_page_language_and_loads_the_catalog_before_the_scripts(client, agent):
    client.force_login(agent)
    html = client.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in html  # time.js words relative times in this language
    catalog = html.index(f'<script src="{reverse("javascript-catalog")}"')
    assert catalog < html.index("js/time.js") and catalog < html.index("js/keyboard.js")

    html = client.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html


@pytest.mark.django_db
def test_the_inbox_speaks_german_to_a_german_browser_and_english_to_an_english_one(
    client, agent, department
):
    channel = factories.make_mastodon_channel(department=department)
    conversation = factories.make_conversation(channel, text="Wann kommt die Lieferung?")
    client.force_login(agent)

    german = client.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content
    english = client.get(reverse("inbox:list"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content
    assert "Meine Ansichten" in german.decode() and "Abmelden" in german.decode()
    assert "My views" in english.decode() and "Sign out" in english.decode()
    assert "My views" not in german.decode()

    url = reverse("inbox:conversation", args=[conversation.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Zuweisen an" in page and "Wann kommt die Lieferung?" in page


def test_the_javascript_catalog_has_the_german_words_of_the_scripts(client):
    catalog = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="de").content
    assert "gerade eben" in catalog.decode()  # time.js: "just now"


def test_every_script_string_comes_from_the_catalog() -> None:
    findings = scan_scripts()
    assert not findings, "Untranslated script strings (use gettext()):\n" + "\n".join(
        map(str, findings)
    )
