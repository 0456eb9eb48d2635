"""SnapStart: the handler registers a hook that drops what a snapshot must not hand on after restore."""

import random
import sys
import types

import pytest

from tiktok_connector.delivery import dead_letters, http_session, letter_store
from tiktok_connector.entrypoints import api
from tiktok_connector.platform import secret_store, snapstart


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
