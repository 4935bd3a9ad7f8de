"""The documentation site: it builds in strict mode, every page is in the nav, and the tests the
pages name exist, so that the concurrency guide cannot point at a test that was renamed."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mkdocs.config import load_config

from .helpers import REPO_ROOT
from .test_protections import REMOVALS

DOCS = REPO_ROOT / "docs"
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
JINJA_TAG = re.compile(r"\{%.*?%\}")
TEST_REFERENCE = re.compile(r"tests/(test_\w+\.py)::(test_\w+)")
TEST_NAME = re.compile(r"`(test_\w+)`")
PROTECTION_CASE = re.compile(r"`\[([a-z0-9-]+)\]`")
TEST_FUNCTION = re.compile(r"^(?:async )?def (test_\w+)\(", re.M)


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """Strict mode turns the warnings mkdocs.yml asks for (broken links and anchors, pages left
    out of the nav) into a failed build."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").exists()


def nav_pages(items: list[Any]) -> Iterator[str]:
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def test_every_page_is_in_the_nav() -> None:
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    listed = list(nav_pages(load_config(str(MKDOCS_YML))["nav"]))

    assert sorted(pages - set(listed)) == [], "pages missing from the nav in mkdocs.yml"
    assert len(listed) == len(set(listed)), "a page is listed twice"


def defined_tests() -> dict[str, set[str]]:
    """Test functions by file name, in the template's tests (conditions stripped from the file
    names) and in this repository's."""
    found: dict[str, set[str]] = {}
    for path in [*(REPO_ROOT / "template" / "tests").iterdir(), *(REPO_ROOT / "tests").iterdir()]:
        name = JINJA_TAG.sub("", path.name).removesuffix(".jinja")
        if name.startswith("test_") and name.endswith(".py"):
            found.setdefault(name, set()).update(TEST_FUNCTION.findall(path.read_text()))
    return found


@pytest.mark.parametrize("page", sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")))
def test_the_tests_a_page_names_exist(page: str) -> None:
    """`tests/test_x.py::test_y` must be defined in that file; a bare `test_y` somewhere."""
    tests = defined_tests()
    text = (DOCS / page).read_text()
    named = TEST_REFERENCE.findall(text)

    missing = [f"{file}::{test}" for file, test in named if test not in tests.get(file, set())]
    assert missing == []
    assert sorted(set(TEST_NAME.findall(text)) - set().union(*tests.values())) == []


def test_the_concurrency_guide_names_real_protection_cases() -> None:
    cases = set(PROTECTION_CASE.findall((DOCS / "concurrency.md").read_text()))
    assert sorted(cases - set(REMOVALS)) == []
    assert len(cases) > 20, "the guide should name the protection cases it relies on"
