"""Find references to documents outside this repository in its tracked text files.

The repository must stand on its own: code, comments, docs, tests and samples state their rules in
their own words and cite public sources by name. This script lists every line that instead points at
a private document: the connector's former specification by name or section number, its source
document ("the seed"), tracker issue numbers, private research notes, or a folder beside the checkout.

    python -m tools.check_self_contained [FILE ...]    # default: every file `git ls-files` lists

Prints `path:line: text` per hit and exits 1 when there is any, 0 otherwise (2 when git fails).
"""

import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent

# Each pattern names one kind of outside reference; the name is shown with the hit.
PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    # Upper-case whole word: "SPEC 5", "SPEC section 9", "SPEC.md", "the SPEC's". Not "spec", not SPEC_X.
    ("specification", re.compile(r"\bSPEC\b")),
    # "the seed", "seed's", and the same in identifiers ("..._as_the_seed_says").
    ("source document", re.compile(r"(?<![a-z])the[ _]seed(?![a-z])|\bseed['\u2019]s\b", re.IGNORECASE)),
    ("issue number", re.compile(r"\bissue\s*#?\s*\d+", re.IGNORECASE)),
    ("research notes", re.compile(r"\bresearch notes\b", re.IGNORECASE)),
    ("outside folder", re.compile(r"\.\./shared\b|\bshared/reference\b|/work/shared\b")),
)

# This checker and its tests quote the patterns on purpose.
EXEMPT: Final = frozenset({"tools/check_self_contained.py", "tests/unit/test_check_self_contained.py"})
_MAX_SHOWN: Final = 200


@dataclass(frozen=True, slots=True)
class Hit:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        text = self.text if len(self.text) <= _MAX_SHOWN else self.text[: _MAX_SHOWN - 1] + "…"
        return f"{self.path}:{self.line}: {text}"


def line_kinds(line: str) -> list[str]:
    """The kinds of outside reference one line holds (empty when none)."""
    return [kind for kind, pattern in PATTERNS if pattern.search(line)]


def scan_text(path: str, text: str) -> list[Hit]:
    hits: list[Hit] = []
    for number, line in enumerate(text.splitlines(), start=1):
        hits.extend(Hit(path, number, kind, line.strip()) for kind in line_kinds(line)[:1])
    return hits


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary or non-UTF-8 file (nothing to read there)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def tracked_files(root: Path) -> list[str]:
    """Paths (relative to `root`, `/`-separated) that git tracks in the work tree."""
    # git from PATH with fixed arguments: nothing here comes from input.
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached"],
        check=True,
        capture_output=True,
    )
    return sorted(name for name in listed.stdout.decode("utf-8").split("\0") if name)


def scan(root: Path, paths: Iterable[str]) -> list[Hit]:
    hits: list[Hit] = []
    for relative in paths:
        if relative in EXEMPT:
            continue
        text = read_text(root / relative)
        if text is not None:
            hits.extend(scan_text(relative, text))
    return hits


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments:
        paths = [Path(argument).resolve().relative_to(root).as_posix() for argument in arguments]
    else:
        try:
            paths = tracked_files(root)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"check_self_contained: cannot list tracked files: {error}", file=sys.stderr)
            return 2
    hits = scan(root, paths)
    for hit in hits:
        print(hit)
    if hits:
        files = len({hit.path for hit in hits})
        print(f"{len(hits)} references to documents outside the repository in {files} files.")
        return 1
    print(f"No references to documents outside the repository in {len(paths)} files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
