"""The self-containment checker: which lines count as pointing outside the repository, and its report."""

import subprocess
from pathlib import Path

import pytest

from tools import check_self_contained as checker


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('"""Configuration (SPEC 6): environment variables."""', "specification"),
        ("# SPEC section 4: the currencies TikTok accepts", "specification"),
        ("see SPEC.md for the contract", "specification"),
        ("the SPEC's 503 cannot apply", "specification"),
        ("Pure mapping (SPEC 3.1-3.3, 4)", "specification"),
        ("(the seed supports only Web inputs)", "source document"),
        ("The Seed says so", "source document"),
        ("The seed's twelve events", "source document"),
        ("the seed\u2019s names", "source document"),
        ("def test_each_sample_reaches_tiktok_as_the_seed_says(", "source document"),
        ("def test_the_code_table_is_the_seed_table() -> None:", "source document"),
        ("The fault matrix (issue 3, item 2)", "issue number"),
        ("fixed in issue #12", "issue number"),
        ("Issue 7 asked for it", "issue number"),
        ("Messages as TikTok words them (see the research notes)", "research notes"),
        ("Research Notes, section 2", "research notes"),
        ("copied from ../shared/reference/real-payloads", "outside folder"),
        ("open shared/reference/tiktok.md", "outside folder"),
        ("read /work/shared/STYLE.md", "outside folder"),
    ],
)
def test_a_reference_outside_the_repository_is_a_hit(line: str, kind: str) -> None:
    assert checker.line_kinds(line)[:1] == [kind]


@pytest.mark.parametrize(
    "line",
    [
        "TikTok's spec says the currency is ISO 4217",
        "spec = cast(Mapping[str, Any], fault)",
        "SPEC_ENVIRONMENT = {'TIKTOK_PIXEL_ID'}",
        "INSPECTED values are logged",
        "def batch_body(event_count: int, seed: int = 7) -> str:",
        "sandbox.set_random_faults(1.0, OUTAGE, seed=1)",
        "a seeded random generator",
        "_SEED_EVENT_PROPERTIES: Final = {}",
        "mParticle reads the registration before it issues the token",
        "the issues 5 requests raised",
        "a tissue 3 layers thick",
        "research shows notes are useful",
        "the shared reference values",
        "see TikTok Events API 2.0 docs and mParticle's JSON reference",
    ],
)
def test_ordinary_text_is_not_a_hit(line: str) -> None:
    assert checker.line_kinds(line) == []


def test_hits_name_file_and_line_and_skip_exempt_and_binary_files(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("Intro\n\nAs SPEC 5 says, retry.\nOK\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text("# TikTok's spec says so\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\0SPEC 5")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "check_self_contained.py").write_text("SPEC 5\n", encoding="utf-8")

    hits = checker.scan(
        tmp_path, ["docs/guide.md", "clean.py", "image.png", "tools/check_self_contained.py", "missing.txt"]
    )

    assert [str(hit) for hit in hits] == ["docs/guide.md:3: As SPEC 5 says, retry."]


def _git_repository(root: Path, files: dict[str, str]) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "-C", str(root), "add", *files], check=True)
    (root / "untracked.md").write_text("the seed says\n", encoding="utf-8")


def test_main_scans_tracked_files_prints_hits_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _git_repository(tmp_path, {"README.md": "# Title\nsee the research notes\n", "ok.py": "x = 1\n"})

    status = checker.main([], root=tmp_path)

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0] == "README.md:2: see the research notes"
    assert out[-1] == "1 references to documents outside the repository in 1 files."
    assert not any("untracked.md" in line for line in out)


def test_main_exits_0_when_the_repository_stands_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _git_repository(tmp_path, {"README.md": "# Title\nTikTok's spec says\n"})

    assert checker.main([], root=tmp_path) == 0
    assert "No references" in capsys.readouterr().out


def test_main_checks_only_the_files_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.md").write_text("issue #4\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("fine\n", encoding="utf-8")

    assert checker.main([str(tmp_path / "b.md")], root=tmp_path) == 0
    assert checker.main([str(tmp_path / "a.md")], root=tmp_path) == 1
    assert "a.md:1: issue #4" in capsys.readouterr().out
