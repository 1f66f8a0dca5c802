"""Our task dependencies against encord-agents' own, side by side, on every item type the emulator serves.

Both run on the same storage items and label rows of a project created (through the SDK) from the peer seed's
"one of each item type" dataset: image, video, image group, image sequence, pdf, audio, plain text and data
group. Where encord-agents' dependency works, ours must give the identical result (same pixels, same bytes, same
twin); where theirs raises, ours must raise too (an instance of the same built-in class where theirs raises a
built-in one, so `except NotImplementedError:` carries over), except the extensions runner_core documents.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from encord.storage import StorageItem
from encord.workflow.stages.agent import AgentStage
from encord_agents.core.dependencies.shares import DataLookup as TheirDataLookup
from encord_agents.tasks import dependencies as theirs

from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core import dependencies as ours
from runner_core.context import BatchScope, TaskScope
from runner_core.media.settings import MediaSettings

T = TypeVar("T")
SEED = Path(__file__).resolve().parent / "peer_seed.yaml"
ONE_OF_EACH = "5d06b07b-135a-4c6d-ba5d-fa7048d996da"
ONTOLOGY = "6d8bb167-0c9d-43b1-a577-3da0693d664e"
TEMPLATE = "a59b3190-09e2-432c-a8bb-f2925872e298"
TITLES = (
    "video.mp4",
    "image.jpg",
    "image-group",
    "image-sequence",
    "document.pdf",
    "sound.mp3",
    "notes.txt",
    "data-group",
)
# (probe, item) pairs where encord-agents raises and runner_core returns a value, as runner_core/dependencies.py
# documents: its video iterator and sampler take video-backed image sequences too.
EXTENSIONS = {("video_sampler", "image-sequence")}

Outcome = tuple[str, Any]


@contextmanager
def entered(generator: Generator[T, None, None]) -> Iterator[T]:
    with contextmanager(lambda: generator)() as value:
        yield value


def _frames(frames: Any) -> list[tuple[int, str]]:
    return [
        (frame.frame, hashlib.sha256(np.ascontiguousarray(frame.content).tobytes()).hexdigest()) for frame in frames
    ]


def _pixels(array: Any) -> tuple[tuple[int, ...], str]:
    return tuple(array.shape), hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _asset(path: Path) -> tuple[str, str]:
    return path.suffix, hashlib.sha256(path.read_bytes()).hexdigest()


def outcome(probe: Callable[[], Any]) -> Outcome:
    try:
        return "ok", probe()
    except Exception as exc:
        return "error", exc


def same_error(theirs_raised: BaseException, ours_raised: BaseException) -> bool:
    """Ours is an instance of the built-in class theirs raised (any error where theirs is a library's own, e.g.
    OpenCV's `cv2.error` when it is handed a PDF)."""
    builtin = type(theirs_raised).__module__ == "builtins"
    return isinstance(ours_raised, type(theirs_raised)) if builtin else True


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningEmulator, dict[str, TaskScope], str]]:
    with run_emulator(SEED) as emu:
        client = emu.client()

        def create(title: str) -> str:
            return client.create_project(
                project_title=title,
                dataset_hashes=[ONE_OF_EACH],
                ontology_hash=ONTOLOGY,
                workflow_template_hash=TEMPLATE,
            )

        project_hash, twin_hash = create("dependencies"), create("twin")
        project = client.get_project(project_hash)
        stage = project.workflow.get_stage(name="Agent 1", type_=AgentStage)
        tasks = list(stage.get_tasks())
        rows = {row.data_hash: row for row in project.list_label_rows_v2()}
        ordered = [rows[str(task.data_hash)] for task in tasks]
        items = client.get_storage_items([row.backing_item_uuid for row in ordered], sign_url=True)  # type: ignore[misc]
        media = MediaSettings(temp_dir=tmp_path_factory.mktemp("media"), download_timeout_s=5)
        batch = BatchScope(project=project, stage=stage, client=client, media=media, tasks=tasks)
        scopes = {
            row.data_title: TaskScope(batch=batch, task=task, label_row=row, storage_item=item)
            for task, row, item in zip(tasks, ordered, items, strict=True)
        }
        yield emu, scopes, twin_hash


@pytest.fixture
def their_env(env: tuple[RunningEmulator, dict[str, TaskScope], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """encord-agents builds its own client from the environment: point it at the emulator."""
    emu = env[0]
    monkeypatch.delenv("ENCORD_SSH_KEY", raising=False)
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(emu.key_file))
    monkeypatch.setenv("ENCORD_DOMAIN", emu.url)


def probes(scope: TaskScope, twin_hash: str) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """probe name -> (theirs, ours), each returning a comparable value."""
    item: StorageItem = scope.storage_item  # type: ignore[assignment]
    row = scope.label_row
    assert row is not None

    def their_iterator() -> Any:
        with entered(theirs.dep_video_iterator(item)) as frames:
            return _frames(frames)

    def our_iterator() -> Any:
        with entered(ours.dep_video_iterator(item, scope)) as frames:
            return _frames(frames)

    def their_sampler() -> Any:
        with entered(theirs.dep_video_sampler(item)) as sampler:
            return _frames(sampler(0.5)), _frames(sampler([1, 2, 3]))

    def our_sampler() -> Any:
        with entered(ours.dep_video_sampler(item, scope)) as sampler:
            return _frames(sampler(0.5)), _frames(sampler([1, 2, 3]))

    def their_asset() -> Any:
        with entered(theirs.dep_asset(item)) as path:
            return _asset(path)

    def our_asset() -> Any:
        with entered(ours.dep_asset(item, scope)) as path:
            return _asset(path)

    def their_twin() -> Any:
        twin = theirs.dep_twin_label_row(twin_hash)(row)
        return None if twin is None else (twin.label_row.data_hash, twin.label_row.label_hash)

    def our_twin() -> Any:
        twin = ours.dep_twin_label_row(twin_hash)(row, scope)
        return None if twin is None else (twin.label_row.data_hash, twin.label_row.label_hash)

    def their_lookup() -> Any:
        lookup = theirs.dep_data_lookup(TheirDataLookup.sharable(scope.batch.project))
        return lookup.get_storage_item(row.data_hash).uuid

    def our_lookup() -> Any:
        return ours.dep_data_lookup(scope).get_storage_item(row.data_hash).uuid

    return {
        "single_frame": (
            lambda: _pixels(theirs.dep_single_frame(item)),
            lambda: _pixels(ours.dep_single_frame(item, scope)),
        ),
        "video_iterator": (their_iterator, our_iterator),
        "video_sampler": (their_sampler, our_sampler),
        "asset": (their_asset, our_asset),
        "storage_item": (lambda: theirs.dep_storage_item(item).uuid, lambda: ours.dep_storage_item(item).uuid),
        "twin_label_row": (their_twin, our_twin),
        "data_lookup": (their_lookup, our_lookup),
    }


def test_every_dependency_on_every_item_type_matches_encord_agents(
    env: tuple[RunningEmulator, dict[str, TaskScope], str], their_env: None
) -> None:
    emu, scopes, twin_hash = env
    assert sorted(scopes) == sorted(TITLES)
    emu.reset_counters()
    results: dict[tuple[str, str], tuple[Outcome, Outcome]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # both data lookups are deprecated, on purpose
        for title in TITLES:
            for name, (their_probe, our_probe) in probes(scopes[title], twin_hash).items():
                results[name, title] = outcome(their_probe), outcome(our_probe)

    mismatches = {}
    for key, (their_result, our_result) in results.items():
        if their_result[0] == "ok":
            if our_result != their_result:
                mismatches[key] = (their_result, our_result)
        elif key not in EXTENSIONS and not (our_result[0] == "error" and same_error(their_result[1], our_result[1])):
            mismatches[key] = (their_result, our_result)
    assert not mismatches, mismatches
    # The comparison compares something: encord-agents works on most pairs, and on every item type.
    working = {key for key, (their_result, _) in results.items() if their_result[0] == "ok"}
    assert {title for _, title in working} == set(TITLES)
    assert len(working) >= 30, sorted(results.items())
    # Every extension still is one (encord-agents raises, runner_core answers).
    for key in EXTENSIONS:
        assert (results[key][0][0], results[key][1][0]) == ("error", "ok"), results[key]
    # No dependency of either library met an unimplemented route.
    answered = emu.app.log.snapshot(limit=10_000)["entries"]
    assert [entry["route"] for entry in answered if entry["status"] == 501] == []
