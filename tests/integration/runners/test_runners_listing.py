"""The resumable stage listing (`runner_core.listing`) against the emulator with the real SDK: a cursor resumes
exactly after what was handled, a task leaving the stage in between makes no other task be skipped, and a refused
cursor falls back to the start."""

from __future__ import annotations

from encord.workflow.stages.agent import AgentStage

from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core.listing import ListingCursor, ResumableListing
from tests.integration.runners.rc_env import PRE_LABEL, seed


def _stage(emu: RunningEmulator) -> AgentStage:
    project = emu.client().get_project(emu.project_hash)
    stage: AgentStage = project.workflow.get_stage(name=PRE_LABEL, type_=AgentStage)
    return stage


def _small_pages(images: int) -> dict[str, object]:
    spec = seed(images=images, second_look_images=1)
    spec["settings"] = {"page_size": 10}
    return spec


def test_a_cursor_resumes_right_after_the_last_handled_task() -> None:
    with run_emulator(_small_pages(35)) as emu:
        stage = _stage(emu)
        everything = [t.uuid for t in stage.get_tasks()]
        first = ResumableListing(stage, None)
        taken = []
        for task in first:
            taken.append(task)
            if len(taken) == 14:  # stop in the middle of the SDK's second page
                break
        cursor = first.position_after(taken[-1])
        assert cursor is not None
        restored = ListingCursor.loads(cursor.dumps())
        rest = [t.uuid for t in ResumableListing(stage, None, restored)]
        assert [t.uuid for t in taken] + rest == everything


def test_a_task_leaving_the_stage_in_between_skips_no_other() -> None:
    with run_emulator(_small_pages(25)) as emu:
        stage = _stage(emu)
        listing = ResumableListing(stage, None)
        taken = []
        for task in listing:
            taken.append(task)
            if len(taken) == 13:
                break
        cursor = listing.position_after(taken[-1])
        # Two handled tasks of the cursor's page leave the stage (as consumers move them) before the next run.
        for task in taken[10:12]:
            task.proceed(pathway_name="annotate")
        rest = {t.uuid for t in ResumableListing(stage, None, cursor)}
        expected = {t.uuid for t in stage.get_tasks()} - {t.uuid for t in taken}
        assert rest == expected


def test_a_refused_cursor_lists_from_the_start() -> None:
    with run_emulator(_small_pages(12)) as emu:
        stage = _stage(emu)
        bogus = ListingCursor(page_token="not-a-token", done=())
        listing = ResumableListing(stage, None, bogus)
        assert len(list(listing)) == 12
        assert listing.cursor is None
