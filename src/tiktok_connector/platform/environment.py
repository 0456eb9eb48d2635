"""Environment variables read as a cache key: what a cached value (settings, a client) was made from.

Lambda's environment never changes inside a container, but a process whose environment does (a test
run, a long-lived local host) must see its cached values follow it, so every invocation compares the
variables its caches were made from. Through `os.environ` each variable costs a key encoding, a lookup
and a value decoding (~0.7 µs; the settings alone are a dozen variables, read more than once per
invocation): `variables_key` reads the process environment's own table instead, with the names encoded
once, and falls back to `os.environ.get` where that table is not there (another Python, or a test that
replaced `os.environ`).
"""

import os
from collections.abc import Callable, Sequence


def variables_key(names: Sequence[str]) -> Callable[[], tuple[object, ...]]:
    """A function returning the current values of these variables (None when unset), for comparing."""
    names = tuple(names)
    environ = os.environ
    table = getattr(environ, "_data", None)
    encode = getattr(environ, "encodekey", None)
    if not isinstance(table, dict) or encode is None:
        return lambda: tuple(map(os.environ.get, names))
    encoded = tuple(map(encode, names))
    get = table.get

    def key() -> tuple[object, ...]:
        if os.environ is not environ:  # replaced wholesale (monkeypatch.setattr): read it the slow way
            return tuple(map(os.environ.get, names))
        return tuple(map(get, encoded))

    return key
