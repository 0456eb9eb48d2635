"""Lambda SnapStart: what runs when an execution environment resumes from a snapshot.

With SnapStart, Lambda runs the function's initialisation once, when a version is published, and
starts new execution environments from a snapshot of its memory. Whatever that initialisation left
behind is shared by every restored copy and is as old as the version: connections opened then are
closed by the time of the restore, cached secrets may have been rotated since, and every copy holds
the same random-generator state. Hooks registered here put such state right after each restore.

The `snapshot_restore_py` module that runs them comes with Lambda's Python runtimes (3.12 and later)
and exists nowhere else: outside Lambda a hook is only recorded, so that tests can call it.
"""

from collections.abc import Callable

Hook = Callable[[], None]

_after_restore: list[Hook] = []
_before_snapshot: list[Hook] = []


def register_after_restore(hook: Hook) -> Hook:
    """Run `hook` after every SnapStart restore (a decorator; returns the hook unchanged)."""
    _after_restore.append(hook)
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]
            register_after_restore as register_with_lambda,
        )
    except ImportError:  # not in a Lambda Python runtime: nothing will restore this process
        return hook
    register_with_lambda(hook)
    return hook


def after_restore_hooks() -> tuple[Hook, ...]:
    """The hooks registered so far, in the order Lambda runs them."""
    return tuple(_after_restore)


def register_before_snapshot(hook: Hook) -> Hook:
    """Run `hook` once before the snapshot is taken, at the end of initialisation (a decorator).

    For work a cold start without SnapStart leaves to the first invocation (imports only some requests
    need) but a snapshot can carry for every restored copy. Nothing that expires or holds a
    connection: that would be stale after a restore.
    """
    _before_snapshot.append(hook)
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]
            register_before_snapshot as register_with_lambda,
        )
    except ImportError:  # not in a Lambda Python runtime: no snapshot will be taken
        return hook
    register_with_lambda(hook)
    return hook


def before_snapshot_hooks() -> tuple[Hook, ...]:
    """The hooks registered so far, in the order Lambda runs them."""
    return tuple(_before_snapshot)
