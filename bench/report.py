"""The results table (printed, and written into BENCHMARKS.md between markers) and the machine it ran on."""

import datetime
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench import ROOT

Status = Literal["pass", "fail", "info"]

BEGIN_MARKER = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->"
END_MARKER = "<!-- bench:end -->"

_SKELETON = f"""# Benchmarks

How fast, small and frugal the connector is, measured by `make bench` (`bench/`): every figure is
measured on the same machine in the same run, against the local stack (moto server, TikTok sandbox
over loopback). The section between the markers is rewritten by each run.

{BEGIN_MARKER}
{END_MARKER}

## Optimisations: before / after

Each change, the figure it moved, before and after (same machine, same command).
"""


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    figure: str
    measured: str
    target: str = ""
    status: Status = "info"


def check(ok: bool) -> Status:
    return "pass" if ok else "fail"


@dataclass(frozen=True, slots=True)
class Machine:
    arch: str
    cpu: str
    cores: int
    python: str
    date: str
    commit: str

    def lines(self) -> list[str]:
        return [
            f"- Machine: `{self.arch}`, {self.cpu}, {self.cores} cores",
            f"- Python: {self.python}",
            f"- Date: {self.date}",
            f"- Code: {self.commit}",
            "- Command: `make bench` (`.venv/bin/python -m bench.run`)",
        ]


def machine() -> Machine:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        if found:
            cpu = found.group(1).strip()
    return Machine(
        arch=platform.machine(),
        cpu=cpu,
        cores=os.cpu_count() or 1,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
    )


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"git {head}" + (" with uncommitted changes in src/" if dirty else "")


_MARK = {"pass": "PASS", "fail": "FAIL", "info": ""}


def text_table(rows: list[Row]) -> str:
    """A plain-text table for the terminal, one block per section."""
    widths = [
        max(len(row.figure) for row in rows),
        max(len(row.measured) for row in rows),
        max(len(row.target) for row in rows),
    ]
    lines: list[str] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append("")
            lines.append(section)
            lines.append("-" * len(section))
        lines.append(
            f"  {row.figure:<{widths[0]}}  {row.measured:>{widths[1]}}  {row.target:<{widths[2]}}  "
            f"{_MARK[row.status]}".rstrip()
        )
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    """One Markdown table per section, under a `###` heading."""
    lines: list[str] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"### {section}",
                "",
                "| Figure | Measured | Target | Result |",
                "|---|---|---|---|",
            ]
        lines.append(f"| {row.figure} | {row.measured} | {row.target} | {_MARK[row.status]} |")
    return "\n".join(lines).strip("\n")


def write_benchmarks(
    path: Path,
    host: Machine,
    rows: list[Row],
    notes: list[str],
    seconds: float,
    *,
    extra: list[str] | None = None,
    context: str = "",
) -> None:
    """Replace the generated section of BENCHMARKS.md (created with its skeleton if missing).

    `extra` is Markdown placed after the tables (the cost model); `context` a note on the machine.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else _SKELETON
    if BEGIN_MARKER not in text or END_MARKER not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN_MARKER + "\n" + END_MARKER + "\n"
    failed = [row for row in rows if row.status == "fail"]
    generated = [
        BEGIN_MARKER,
        "## Latest run",
        "",
        *host.lines(),
        *([f"- Conditions: {context}"] if context else []),
        f"- Run time: {seconds:.0f} s; targets missed: {len(failed)} of "
        f"{sum(1 for row in rows if row.status != 'info')}",
        "",
        markdown_table(rows),
        "",
        *([*extra, ""] if extra else []),
        "How each figure is measured:",
        "",
        *(f"- {note}" for note in notes),
        END_MARKER,
    ]
    head, rest = text.split(BEGIN_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    path.write_text(head + "\n".join(generated) + tail, encoding="utf-8")
