"""Cache keys from environment variables follow every change of the environment."""

import os

import pytest

from tiktok_connector.platform.environment import variables_key

NAMES = ("TIKTOK_TEST_VARIABLE_A", "TIKTOK_TEST_VARIABLE_B")


def test_the_key_changes_with_each_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAMES[0], raising=False)
    monkeypatch.delenv(NAMES[1], raising=False)
    key = variables_key(NAMES)
    unset = key()
    monkeypatch.setenv(NAMES[0], "one")
    first = key()
    monkeypatch.setenv(NAMES[1], "two")
    both = key()
    monkeypatch.setenv(NAMES[0], "three")
    changed = key()
    monkeypatch.delenv(NAMES[1])
    deleted = key()

    assert len({unset, first, both, changed, deleted}) == 5
    assert unset == (None, None)
    assert key() == deleted


def test_a_replaced_environment_is_read_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAMES[0], "real")
    key = variables_key(NAMES)
    real = key()
    monkeypatch.setattr(os, "environ", {NAMES[0]: "replaced"})

    assert key() == ("replaced", None)
    assert key() != real
