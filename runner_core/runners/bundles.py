"""Run one Encord bundle for many tasks, and replay task by task when the bundle as a whole fails.

Encord rejects a whole bundled request when one item in it is bad; replaying one by one (only then) keeps one bad
task from failing the others while the normal path stays one request per operation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from encord.http.bundle import Bundle

logger = logging.getLogger("runner_core")

T = TypeVar("T")


def run_bundled(items: Sequence[T], add: Callable[[T, Bundle | None], None], *, what: str) -> dict[int, Exception]:
    """Call `add(item, bundle)` for every item, execute the bundle once, replay with `add(item, None)` on failure.

    Returns the failures by item index (empty when everything succeeded).
    """
    from encord.http.bundle import Bundle

    failures: dict[int, Exception] = {}
    if not items:
        return failures
    bundle = Bundle()
    for index, item in enumerate(items):
        try:
            add(item, bundle)
        except Exception as exc:  # one item that cannot even be added fails alone
            failures[index] = exc
    try:
        bundle.execute()
    except Exception as exc:
        logger.warning(
            "bundled %s of %d task(s) failed (%s); replaying task by task", what, len(items), type(exc).__name__
        )
        for index, item in enumerate(items):
            if index in failures:
                continue
            try:
                add(item, None)
            except Exception as item_exc:
                failures[index] = item_exc
    return failures
