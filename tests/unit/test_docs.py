"""The documentation stays short, complete and true to the repository.

The README is the entry page (what it is, the quick start, the make targets, the layout) and links to
three documents by reader: operations (who deploys), architecture and mapping (who changes the code).
These tests keep the README short, the links and make targets real, and every setting the function
reads documented for the operator.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tiktok_connector.config import SETTINGS_VARIABLES
from tools.check_self_contained import scan

ROOT: Final = Path(__file__).resolve().parents[2]
README: Final = ROOT / "README.md"
DOCS: Final = ROOT / "docs"
MAKEFILE: Final = ROOT / "Makefile"
OPERATIONS: Final = DOCS / "operations.md"
README_MAX_LINES: Final = 250
READER_DOCS: Final = ("architecture.md", "operations.md", "mapping.md")
GENERATED_LATER: Final = DOCS / "mapping-fields.md"
"""Generated from the mapping's field tables: a link to it may precede the file, and only to it."""
BUILD_ONLY_TARGETS: Final = frozenset({"venv", "sam-venv", "checkov-venv"})
"""Targets the others run first; a newcomer never types them."""

_LINK: Final = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_MAKE: Final = re.compile(r"\bmake ([a-z][a-z0-9-]*)")
_TARGET: Final = re.compile(r"^([A-Za-z][\w-]*)\s*:(?!=)", re.MULTILINE)
_PHONY: Final = re.compile(r"^\.PHONY:(.*)$", re.MULTILINE)
_HEADING: Final = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_FENCE: Final = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def makefile_targets() -> set[str]:
    return set(_TARGET.findall(MAKEFILE.read_text(encoding="utf-8")))


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in _HEADING.findall(text)}


def relative_links(path: Path) -> Iterator[str]:
    for target in _LINK.findall(path.read_text(encoding="utf-8")):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            yield target


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


@pytest.mark.parametrize("name", READER_DOCS)
def test_each_reader_has_a_document_linked_from_the_readme(name: str) -> None:
    assert (DOCS / name).is_file()
    assert f"(docs/{name})" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_make_target_named_exists(path: Path) -> None:
    named = set(_MAKE.findall(path.read_text(encoding="utf-8")))
    assert named, f"{path.name} names no make target"
    assert named - makefile_targets() == set()


def test_the_readme_lists_every_target_a_newcomer_may_type() -> None:
    phony = set(" ".join(_PHONY.findall(MAKEFILE.read_text(encoding="utf-8"))).split())
    public = phony - BUILD_ONLY_TARGETS
    assert public, "the Makefile declares no .PHONY targets"
    readme = README.read_text(encoding="utf-8")
    assert {target for target in public if f"`make {target}" not in readme} == set()


def broken_links(path: Path, excused: Path = GENERATED_LATER) -> list[str]:
    """Relative links of `path` whose file or heading does not exist; `excused` may be missing."""
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path.resolve()
        if destination == excused.resolve() and not destination.exists():
            continue  # generated from the mapping's field tables; the link may come first
        if not destination.exists() or (
            anchor and destination.suffix == ".md" and anchor not in anchors(destination)
        ):
            broken.append(target)
    return broken


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


def test_only_the_generated_file_may_be_missing_and_only_while_it_is(tmp_path: Path) -> None:
    excused = tmp_path / "mapping-fields.md"
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n[fields](mapping-fields.md) [a field](mapping-fields.md#event-id) "
        "[sibling](mapping_fields.md) [here](#page) [gone](#nowhere) [web](https://example.com/x.md)\n"
    )
    assert broken_links(page, excused) == ["mapping_fields.md", "#nowhere"]
    excused.write_text("# Fields\n")  # once it exists, it is checked like any other file
    assert broken_links(page, excused) == ["mapping-fields.md#event-id", "mapping_fields.md", "#nowhere"]


@pytest.mark.parametrize("variable", SETTINGS_VARIABLES)
def test_every_setting_is_in_the_operators_variable_table(variable: str) -> None:
    rows = [line for line in OPERATIONS.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    assert any(row.startswith(f"| `{variable}`") for row in rows), f"{variable} is not in operations.md"


def test_the_docs_cite_no_document_outside_the_repository() -> None:
    paths = [path.relative_to(ROOT).as_posix() for path in documents()]
    assert [str(hit) for hit in scan(ROOT, paths)] == []


def test_anchors_follow_githubs_rule(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Status codes, both routes\n```\n# not a heading\n```\n## mParticle's `POST /events`\n")
    assert anchors(page) == {"status-codes-both-routes", "mparticles-post-events"}
