"""The German catalog is complete and the compiled catalogs the app loads match their sources.

`make messages` extracts every marked string (Python, templates, JavaScript) and compiles the
catalogs; these tests fail when someone marks a new string without translating it, or edits a
`.po` file without compiling it.
"""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
DOMAINS = ("django", "djangojs")

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgfmt") is None,
    reason="GNU gettext is not installed (make test installs it)",
)


def _project_copy(target: Path) -> Path:
    """A copy of what makemessages reads, so extraction never rewrites the real catalog."""
    root = Path(settings.BASE_DIR)
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "staticfiles", "var", "node_modules", "*.pyc"
    )
    for name in ("manage.py",):
        shutil.copy2(root / name, target / name)
    for name in (
        "config",
        "inbox",
        "channels_integrations",
        "moderation",
        "templates",
        "static",
        "locale",
    ):
        shutil.copytree(root / name, target / name, ignore=ignore)
    return target


def _untranslated(po: Path) -> list[str]:
    """msgids of `po` that have no German (empty or fuzzy)."""
    missing: list[str] = []
    for flag in ("--untranslated", "--only-fuzzy"):
        out = subprocess.run(
            ["msgattrib", flag, "--no-wrap", str(po)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        missing += [
            line[len('msgid "') : -1]
            for line in out.splitlines()
            if line.startswith('msgid "') and line != 'msgid ""'
        ]
    return missing


@needs_gettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_marked_string_has_a_german_translation(tmp_path: Path, domain: str) -> None:
    project = _project_copy(tmp_path)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "de",
            "-d",
            domain,
            "--no-obsolete",
            "--no-location",
        ],
        cwd=project,
        check=True,
        capture_output=True,
    )
    missing = _untranslated(project / "locale/de/LC_MESSAGES" / f"{domain}.po")
    assert not missing, f"{len(missing)} strings lack German in {domain}.po: {missing[:30]}"


@needs_gettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalog_matches_its_source(tmp_path: Path, domain: str) -> None:
    source = LOCALE / "de/LC_MESSAGES" / f"{domain}.po"
    compiled = LOCALE / "de/LC_MESSAGES" / f"{domain}.mo"
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(source)], check=True)
    with compiled.open("rb") as committed, fresh.open("rb") as rebuilt:
        assert gettext.GNUTranslations(committed)._catalog == (  # type: ignore[attr-defined]
            gettext.GNUTranslations(rebuilt)._catalog  # type: ignore[attr-defined]
        ), f"{compiled} is stale: run `make messages`"
