"""SnapStart: the handler registers a hook that drops what a snapshot must not hand on after restore."""

import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tiktok_connector.delivery import dead_letters, http_session, letter_store
from tiktok_connector.entrypoints import api
from tiktok_connector.platform import secret_store, snapstart

SRC = Path(__file__).resolve().parents[2] / "src"


def test_the_handler_module_registers_its_refresh_hook() -> None:
    assert api.refresh_after_restore in snapstart.after_restore_hooks()


def test_the_registered_hook_drops_secret_connections_and_random_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secret_store, "_provider", object())
    monkeypatch.setattr(dead_letters, "_sqs", object())
    monkeypatch.setattr(letter_store, "_s3", object())
    session = http_session.session("http://127.0.0.1:9/open_api/v1.3/event/track/")
    random.seed(1234)
    snapshot_state = random.getstate()
    (hook,) = [hook for hook in snapstart.after_restore_hooks() if hook is api.refresh_after_restore]

    hook()

    assert secret_store._provider is None
    assert dead_letters._sqs is None
    assert letter_store._s3 is None
    assert http_session._session is None
    assert http_session.session("http://127.0.0.1:9/open_api/v1.3/event/track/") is not session
    assert random.getstate() != snapshot_state
    http_session.reset_session()


def test_hooks_go_to_lambdas_runtime_module_where_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[object] = []
    runtime_module = types.ModuleType("snapshot_restore_py")
    runtime_module.register_after_restore = given.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_module)
    monkeypatch.setattr(snapstart, "_after_restore", [])

    def hook() -> None: ...

    assert snapstart.register_after_restore(hook) is hook
    assert given == [hook]
    assert snapstart.after_restore_hooks() == (hook,)


def test_outside_lambda_a_hook_is_only_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # importing it raises ImportError
    monkeypatch.setattr(snapstart, "_after_restore", [])

    def hook() -> None: ...

    assert snapstart.register_after_restore(hook) is hook
    assert snapstart.after_restore_hooks() == (hook,)


def test_the_handler_module_registers_its_before_snapshot_hook() -> None:
    assert api.load_before_snapshot in snapstart.before_snapshot_hooks()


def test_the_handler_imports_no_boto3_and_the_before_snapshot_hook_does_without_a_client() -> None:
    # A fresh interpreter: what a cold container imports, then what the hook adds.
    script = """
import json, sys
from tiktok_connector.entrypoints import api
from tiktok_connector.platform import secret_store
before = {name: name in sys.modules for name in ("boto3", "aws_lambda_powertools.utilities.parameters")}
api.load_before_snapshot()
after = {name: name in sys.modules for name in before}
print(json.dumps({"before": before, "after": after, "provider": secret_store._provider is not None}))
"""
    environment = {**os.environ, "PYTHONPATH": str(SRC), "POWERTOOLS_TRACE_DISABLED": "true"}
    completed = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
    )
    seen = json.loads(completed.stdout.splitlines()[-1])

    assert seen["before"] == {"boto3": False, "aws_lambda_powertools.utilities.parameters": False}
    assert seen["after"] == {"boto3": True, "aws_lambda_powertools.utilities.parameters": True}
    assert seen["provider"] is False


def test_before_snapshot_hooks_go_to_lambdas_runtime_module_where_it_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: list[object] = []
    runtime_module = types.ModuleType("snapshot_restore_py")
    runtime_module.register_before_snapshot = given.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_module)
    monkeypatch.setattr(snapstart, "_before_snapshot", [])

    def hook() -> None: ...

    assert snapstart.register_before_snapshot(hook) is hook
    assert given == [hook]
    assert snapstart.before_snapshot_hooks() == (hook,)
