"""Dependencies through the QueueRunner: real batches, temp-root hygiene, twins and the deprecated lookup."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
from encord.exceptions import AuthorisationError
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask
from numpy.typing import NDArray

from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core import Depends, Outcome, QueueMessage, QueueRunner
from runner_core.dependencies import (
    DataLookup,
    Frame,
    Twin,
    dep_asset,
    dep_client,
    dep_data_lookup,
    dep_single_frame,
    dep_twin_label_row,
    dep_video_iterator,
)
from runner_core.messages import encode_envelope
from runner_core.outcomes import TaskOutcome
from tests.integration.dependencies.deps_env import (
    OTHER_PROJECT_HASH,
    PROJECT_HASH,
    STAGE,
    TITLES,
    TWIN_PROJECT_HASH,
    files_under,
    media_settings_for,
    scopes,
    seed,
)

LIST_ROWS = "POST /public labelrowmetadata"
GET_PROJECT = "GET /v2/public/projects/{project}"
RUNNER_ONLY_KEY = "runner-only"


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with run_emulator(seed(), extra_keys={RUNNER_ONLY_KEY: [PROJECT_HASH]}) as running:
        yield running


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runner-tmp"
    monkeypatch.setenv("RUNNER_TEMP_DIR", str(root))
    monkeypatch.setenv("RUNNER_DOWNLOAD_BACKOFF_S", "0.01")
    return root


def run_batch(emu: RunningEmulator, register: Callable[[QueueRunner], Any]) -> list[TaskOutcome]:
    """Register an agent on a fresh runner and send every task of the stage as one message."""
    client = emu.client()
    runner = QueueRunner(PROJECT_HASH, user_client=client)
    register(runner)
    stage = client.get_project(PROJECT_HASH).workflow.get_stage(name=STAGE, type_=AgentStage)
    tasks = list(stage.get_tasks())
    body = encode_envelope(project_hash=PROJECT_HASH, stage_uuid=stage.uuid, tasks=tasks)
    (result,) = runner.process([QueueMessage(message_id="m-1", body=body)])
    return list(result.tasks)


def test_a_successful_batch_leaves_the_temp_root_empty(emu: RunningEmulator, temp_root: Path) -> None:
    seen: dict[str, tuple[tuple[int, ...], int, bool]] = {}

    def register(runner: QueueRunner) -> None:
        @runner.stage(STAGE)
        def agent(
            task: AgentTask,
            frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
            client: Annotated[EncordUserClient, Depends(dep_client)],
        ) -> str:
            seen[str(task.data_title)] = (frame.shape, int(frame.dtype.itemsize), client is runner.client)
            return "done"

    outcomes = run_batch(emu, register)
    assert [o.outcome for o in outcomes] == [Outcome.MOVED] * len(TITLES)
    assert seen == dict.fromkeys(TITLES, ((48, 64, 3), 1, True))
    assert files_under(temp_root) == []


def test_a_batch_whose_agents_raise_leaves_the_temp_root_empty(emu: RunningEmulator, temp_root: Path) -> None:
    held: list[Path] = []

    def register(runner: QueueRunner) -> None:
        @runner.stage(STAGE)
        def agent(storage_item: StorageItem, asset: Annotated[Path, Depends(dep_asset)]) -> str:
            held.append(asset)
            assert asset.exists()
            raise RuntimeError(f"agent failed on {storage_item.name}")

    outcomes = run_batch(emu, register)
    by_title = dict(zip(sorted(TITLES), sorted(outcomes, key=lambda o: str(o.data_hash)), strict=True))
    assert all(o.outcome is Outcome.FAILED for o in by_title.values())
    failures = " | ".join(str(o.error) for o in outcomes)
    assert failures.count("agent failed on") == 3  # image, video, sequence reached the agent
    assert "no single asset" in failures  # the image group failed in dep_asset with the type named
    assert len(held) == 3
    assert not any(path.exists() for path in held)
    assert files_under(temp_root) == []


def test_video_iterator_through_the_runner(emu: RunningEmulator, temp_root: Path) -> None:
    counts: dict[str, int] = {}

    def register(runner: QueueRunner) -> None:
        @runner.stage(STAGE)
        def agent(task: AgentTask, frames: Annotated[Iterator[Frame], Depends(dep_video_iterator)]) -> str:
            counts[str(task.data_title)] = sum(1 for _ in frames)
            return "done"

    outcomes = run_batch(emu, register)
    assert counts == {"clip.mp4": 45, "sequence": 4}
    errors = [str(o.error) for o in outcomes if o.outcome is Outcome.FAILED]
    assert len(errors) == 2
    assert all("NotImplementedError" in error or "supports video items" in error for error in errors)
    assert files_under(temp_root) == []


def test_twin_resolves_lazily_once_per_batch(emu: RunningEmulator, temp_root: Path) -> None:
    twins: dict[str, Twin | None] = {}
    own_labels: dict[str, str | None] = {}
    # TWIN_PROJECT_HASH shares the project's dataset (same data hashes); the other project has none of its data.
    same = dep_twin_label_row(TWIN_PROJECT_HASH, include_task=True)
    other = dep_twin_label_row(OTHER_PROJECT_HASH)
    assert emu.requests() == 0  # nothing at creation

    def register(runner: QueueRunner) -> None:
        @runner.stage(STAGE)
        def agent(
            label_row: LabelRowV2,
            twin: Twin | None = Depends(same),  # default form: `same` is a local, not a module global
            absent: Twin | None = Depends(other),
        ) -> str:
            assert absent is None
            twins[label_row.data_hash] = twin
            own_labels[label_row.data_hash] = label_row.label_hash
            return "done"

    emu.reset_counters()
    outcomes = run_batch(emu, register)
    assert [o.outcome for o in outcomes] == [Outcome.MOVED] * len(TITLES)
    assert len(twins) == len(TITLES)
    for data_hash, twin in twins.items():
        assert twin is not None
        assert twin.label_row.data_hash == data_hash
        assert twin.label_row.label_hash not in (None, own_labels[data_hash])  # the twin project's own row
        assert twin.label_row.is_labelling_initialised
        assert isinstance(twin.task, AgentTask)  # the twin sits in its project's agent stage
        assert str(twin.task.data_hash) == data_hash
        # The twin project's own task, untouched by the batch that moved the project's task.
        assert str(twin.task.uuid) == emu.state.task_of(TWIN_PROJECT_HASH, data_hash)
        assert emu.state.task_stage(twin.task.uuid) == STAGE
        assert emu.state.task_stage(emu.state.task_of(PROJECT_HASH, data_hash)) == "Complete"
    # Runner: one listing for the batch; twins: one per twin project (filtered), not one per task.
    assert emu.requests(LIST_ROWS) == 3


def test_twin_without_permission_raises_authorisation_error_naming_the_project(
    emu: RunningEmulator, temp_root: Path
) -> None:
    # The "runner" key may read its own project only; the twin project refuses it as Encord would (403).
    task_scopes = scopes(emu.client_for(RUNNER_ONLY_KEY), media_settings_for(temp_root))
    dependency = dep_twin_label_row(TWIN_PROJECT_HASH)
    emu.reset_counters()
    for scope in task_scopes.values():
        assert scope.label_row is not None
        with pytest.raises(AuthorisationError, match=f"cannot read the twin project {TWIN_PROJECT_HASH}"):
            dependency(scope.label_row, scope)
    assert emu.requests(GET_PROJECT) == 1  # refused once, remembered for the batch
    assert emu.requests() == 1


def test_data_lookup_is_deprecated_but_works(emu: RunningEmulator, temp_root: Path) -> None:
    task_scopes = scopes(emu.client(), media_settings_for(temp_root))
    scope = task_scopes["clip.mp4"]
    with pytest.warns(DeprecationWarning, match="use dep_storage_item"):
        lookup = dep_data_lookup(scope)
    assert isinstance(lookup, DataLookup)
    item = lookup.get_storage_item(scope.task.data_hash)
    assert scope.storage_item is not None
    assert item.uuid == scope.storage_item.uuid
    items: Sequence[StorageItem] = lookup.get_storage_items([s.task.data_hash for s in task_scopes.values()])
    assert [i.name for i in items] == list(task_scopes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert dep_data_lookup(task_scopes["group"]) is lookup  # one per batch
