"""Suite-wide privacy guard: no raw identity and no token in any output the tests capture.

Every test phase's captured stdout, stderr and log records (what pytest shows under "Captured ...",
including output of child processes, which pytest captures at the file-descriptor level) are scanned
for the raw identity values of `events/*.json` and for the demo's tokens. A hit fails that test with
the kind and source of the value, never the value itself. Test source and assertion messages are not
scanned: a test may hold raw values on purpose; only what the code under test printed counts.

Output a test reads itself with `capsys`/`capfd` never reaches pytest's report: such tests scan what
they read with `find_leaks`. Under `-s` nothing is captured, so nothing can be scanned.
"""

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import phonenumbers
import pytest

from devstack import demo

EVENTS_DIR: Final = Path(__file__).resolve().parent.parent / "events"
_MIN_NEEDLE: Final = 6  # shorter values would match innocent text


@dataclass(frozen=True, slots=True)
class Needle:
    value: str
    """Lower-cased; output is compared lower-cased too."""
    label: str
    """What the value is and where it comes from: safe to print."""


def _identity_values(document: object) -> Iterator[str]:
    """Raw identity values in a Webhook batch (list or object form) or a Firehose message."""
    if isinstance(document, list):
        for item in document:
            yield from _identity_values(item)
        return
    if not isinstance(document, dict):
        return
    identities = document.get("user_identities")
    if isinstance(identities, dict):
        yield from (value for value in identities.values() if isinstance(value, str))
    elif isinstance(identities, list):
        for identity in identities:
            if isinstance(identity, dict):
                value = identity.get("identity", identity.get("value"))
                if isinstance(value, str) and identity.get("encoding", "raw") == "raw":
                    yield value


def _variants(value: str) -> set[str]:
    """The raw value and the normalised forms the connector computes before hashing."""
    variants = {value, value.strip()}
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        variants.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        variants.add(str(number.national_number))
    return {variant.lower() for variant in variants if len(variant.strip()) >= _MIN_NEEDLE}


def collect_needles() -> tuple[Needle, ...]:
    """Raw identities from `events/*.json`, their Authorization headers and the demo's tokens."""
    needles: dict[str, str] = {}
    for path in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(path.read_text())
        headers = event.get("headers") or {}
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if isinstance(authorization, str):
            # The whole value and its credentials without the scheme (`Basic`, `Token`).
            for value in {authorization, authorization.split(" ", 1)[-1]}:
                if len(value) >= _MIN_NEEDLE:
                    needles.setdefault(value.lower(), f"Authorization header of {path.name}")
        try:
            body = json.loads(event.get("body") or "null")
        except ValueError:
            continue  # the malformed sample holds no identity that parses
        for raw in _identity_values(body):
            for variant in _variants(raw):
                needles.setdefault(variant, f"raw identity from {path.name}")
    for name, token in (
        ("TikTok access token", demo.ACCESS_TOKEN),
        ("Webhook authorization", demo.WEBHOOK_AUTHORIZATION),
        ("Webhook authorization credentials", demo.WEBHOOK_AUTHORIZATION.removeprefix("Basic ")),
        ("Firehose token", demo.FIREHOSE_TOKEN),
        *((f"secret value {key}", value) for key, value in demo.SECRET.items()),
    ):
        needles.setdefault(token.lower(), name)
    return tuple(Needle(value, label) for value, label in needles.items())


NEEDLES: Final = collect_needles()


def find_leaks(text: str, extra: tuple[Needle, ...] = ()) -> list[str]:
    """Labels of the needles found in `text` (never the values themselves)."""
    haystack = text.lower()
    return sorted({needle.label for needle in (*NEEDLES, *extra) if needle.value in haystack})


class _Tally:
    tests = 0
    characters = 0
    leaks = 0


def _captured(report: pytest.TestReport) -> Iterator[tuple[str, str]]:
    """This phase's captured output (a report also repeats the sections of the earlier phases)."""
    for title, content in report.sections:
        if title.startswith("Captured ") and title.endswith(f" {report.when}"):
            yield title, content


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    found: dict[str, list[str]] = {}
    for title, content in _captured(report):
        _Tally.characters += len(content)
        leaks = find_leaks(content)
        if leaks:
            found[title] = leaks
    if report.when == "teardown":
        _Tally.tests += 1
    if found and report.outcome != "failed":
        _Tally.leaks += 1
        lines = [f"privacy guard: personal data or a token in captured output of {item.nodeid}"]
        lines += [f"  {title}: {', '.join(labels)}" for title, labels in found.items()]
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"privacy guard: {_Tally.tests} tests, {_Tally.characters} characters of captured output scanned "
        f"for {len(NEEDLES)} raw identities and tokens; {_Tally.leaks} leaks"
    )
