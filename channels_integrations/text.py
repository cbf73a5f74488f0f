"""Platform HTML → plain text. We never keep or render a platform's HTML, only its text."""

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

_BLOCK_END = {"p", "div", "blockquote", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
_SKIP = {"script", "style", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_END:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    # A NUL cannot be stored in PostgreSQL text, and an item's text is copied into other rows
    # (notifications, previews) before ingest's own clean-up of the message row sees it.
    text = "".join(parser.parts).replace("\x00", "\ufffd")
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    # Collapse runs of blank lines left by nested blocks into one paragraph break.
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def preview(text: str, length: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


def safe_http_url(value: Any) -> str:
    """A platform URL fit for an href: http(s) with a host, else "" (never javascript:, data:)."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(url) > 1000:
        return ""
    return url
