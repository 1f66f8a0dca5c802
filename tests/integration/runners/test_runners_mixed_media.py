"""examples/agents/mixed_media.py over the demo project (images, videos, an image group): every task is served by the
reader that fits its media, none fails on a video-only dependency."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from encord_emulator.testing import DEMO_SEED, run_emulator
from runner_core import QueueMessage, QueueRunner
from runner_core.client import clear_client_cache
from runner_core.messages import encode_envelope

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agents" / "mixed_media.py"


def test_mixed_media_agent_branches_before_the_video_only_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    with run_emulator(DEMO_SEED) as emu:
        monkeypatch.setenv("ENCORD_SSH_KEY", emu.ssh_key)
        monkeypatch.setenv("ENCORD_DOMAIN", emu.url)
        monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
        clear_client_cache()
        try:
            runner: QueueRunner = runpy.run_path(str(EXAMPLE), run_name="example_mixed_media")["runner"]
            (stage,) = runner.get_agent_stages()
            tasks = list(stage.get_tasks())
            body = encode_envelope(project_hash=runner.project_hash or "", stage_uuid=stage.uuid, tasks=tasks)
            (result,) = runner.process([QueueMessage("m", body)])
        finally:
            clear_client_cache()
        assert [t.error for t in result.tasks if not t.ok] == []
        where = {task.data_title: emu.state.task_stage(task.uuid) for task in tasks}
    videos = {title for title in where if title.endswith(".mp4")}
    assert len(videos) == 3
    assert {where[title] for title in videos} == {"Annotate"}  # 45 frames each
    assert {stage for title, stage in where.items() if title not in videos} == {"Complete"}  # one frame each
