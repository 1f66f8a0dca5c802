"""The README's SDK-only quickstart runs against the emulator and moves the task it labels."""

from __future__ import annotations

import pytest

from encord_emulator.testing import RunningEmulator
from examples import sdk_quickstart


def test_quickstart_labels_and_moves_one_image(emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    sdk_quickstart.main(emulator.url, emulator.key_file)

    printed = capsys.readouterr().out
    assert "now in 'Annotate'" in printed
    moved = emulator.state.tasks_in_stage(sdk_quickstart.PROJECT_HASH, "Annotate")
    assert len(moved) == 1
    (task_uuid,) = moved
    assert emulator.state.task_stage(task_uuid) == "Annotate"
