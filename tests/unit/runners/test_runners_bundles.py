"""run_bundled with the SDK's real Bundle and an in-process operation (pure replay logic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from encord.http.bundle import Bundle

from runner_core.runners.bundles import run_bundled


@dataclass
class Payload:
    items: list[int]

    def add(self, other: Payload) -> Payload:
        return Payload(items=self.items + other.items)


class Server:
    """Rejects a whole request when it holds a bad item, as Encord does."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.requests: list[list[int]] = []
        self.stored: list[int] = []

    def operation(self, items: list[int]) -> list[object]:
        self.requests.append(items)
        if self.bad & set(items):
            raise ValueError(f"rejected {sorted(self.bad & set(items))}")
        self.stored.extend(items)
        return []


def _add(server: Server) -> Callable[[int, Bundle | None], None]:
    def add(item: int, bundle: Bundle | None) -> None:
        if item < 0:
            raise TypeError("cannot even be added")
        if bundle is None:
            server.operation([item])
        else:
            bundle.add(operation=server.operation, result_mapper=None, payload=Payload([item]), limit=1000)

    return add


def test_one_request_when_everything_is_fine() -> None:
    server = Server(bad=set())
    assert run_bundled([1, 2, 3], _add(server), what="test") == {}
    assert server.requests == [[1, 2, 3]]


def test_replay_isolates_the_bad_item() -> None:
    server = Server(bad={3})
    failures = run_bundled([1, 2, 3, 4], _add(server), what="test")
    assert list(failures) == [2]
    assert isinstance(failures[2], ValueError)
    assert server.requests == [[1, 2, 3, 4], [1], [2], [3], [4]]
    assert server.stored == [1, 2, 4]


def test_an_item_that_cannot_be_added_fails_alone() -> None:
    server = Server(bad=set())
    failures = run_bundled([1, -1, 2], _add(server), what="test")
    assert list(failures) == [1]
    assert server.requests == [[1, 2]]
