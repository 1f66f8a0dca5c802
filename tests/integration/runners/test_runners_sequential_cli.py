"""`SequentialRunner.run()` as a command: exit codes, one line per failed attempt, tracebacks in the log file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from encord.workflow.stages.agent import AgentTask

from runner_core import SequentialRunner
from tests.integration.runners.rc_env import PRE_LABEL, Env


def _runner(env: Env, *, fail_title: str | None) -> SequentialRunner:
    runner = SequentialRunner(user_client=env.client)
    runner.retry_backoff_base_s = 0.01

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        if task.data_title == fail_title:
            raise ValueError("no frame to label")
        return "annotate"

    return runner


def _run(runner: SequentialRunner, monkeypatch: pytest.MonkeyPatch, *args: str) -> int | str | None:
    monkeypatch.setattr("sys.argv", ["agent.py", *args])
    with pytest.raises(SystemExit) as done:
        runner.run()
    return done.value.code


def test_failed_tasks_exit_1_with_one_line_per_attempt_and_their_titles(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log_file = tmp_path / "run.log"
    runner = _runner(env, fail_title="img-003.png")
    args = ("--project-hash", env.project_hash, "--num-retries", "1", "--log-file", str(log_file))
    code = _run(runner, monkeypatch, *args)
    out, err = capsys.readouterr()
    assert code == 1
    attempt_lines = [line for line in err.splitlines() if " failed in " in line]
    assert len(attempt_lines) == 2  # the first attempt and its one retry
    assert all(
        re.fullmatch(r"WARNING task [0-9a-f-]{36} failed in \S*agent: ValueError: no frame to label", line)
        for line in attempt_lines
    ), attempt_lines
    assert "Traceback" not in err
    assert re.search(r"pre-label: 'img-003.png' \(task [0-9a-f-]{36}\) failed \(retryable\)", out)
    assert err.splitlines()[-1] == f"1 task(s) failed; tracebacks in {log_file}"
    logged = log_file.read_text()
    assert logged.count("Traceback (most recent call last)") == 2
    assert "ValueError: no frame to label" in logged
    # The handlers are gone again: a later library use of the logger does not write to this run's file.
    assert logging.getLogger("runner_core").propagate


def test_verbose_prints_the_traceback(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runner = _runner(env, fail_title="img-000.png")
    args = ("--project-hash", env.project_hash, "--num-retries", "0", "--verbose", "--log-file", str(tmp_path / "l"))
    assert _run(runner, monkeypatch, *args) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_clean_run_exits_0_and_writes_no_log(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log_file = tmp_path / "logs" / "run.log"
    runner = _runner(env, fail_title=None)
    assert _run(runner, monkeypatch, "--project-hash", env.project_hash, "--log-file", str(log_file)) == 0
    assert not log_file.exists()
    assert "failed" not in capsys.readouterr().err


def test_a_runner_that_cannot_start_exits_2(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runner = SequentialRunner(user_client=env.client)

    @runner.stage("no-such-stage")
    def agent(task: AgentTask) -> str:
        return "annotate"

    assert _run(runner, monkeypatch, "--project-hash", env.project_hash, "--log-file", str(tmp_path / "l")) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: project 5a1e0000-0000-4000-8000-000000000001 has no stage 'no-such-stage'. ")
    assert "Valid agent stages: 'pre-label' (" in line


def test_report_lists_every_task_with_its_route_and_the_failure_first(
    env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    runner = _runner(env, fail_title="img-002.png")
    args = (
        "--project-hash",
        env.project_hash,
        "--num-retries",
        "1",
        "--report",
        str(page),
        "--log-file",
        str(tmp_path / "l"),
    )
    assert _run(runner, monkeypatch, *args) == 1
    text = page.read_text()
    cards = [
        (title, dict(re.findall(r"<tr><th>(\w+)</th><td[^>]*>([^<]*)</td></tr>", body)))
        for title, body in re.findall(r'<article class="task \w+" [^>]*data-title="([^"]+)"[^>]*>(.*?)</article>', text)
    ]
    failures, per_run = cards[:1], cards[1:]
    assert [title for title, _ in failures] == ["img-002.png"]
    assert failures[0][1]["outcome"] == "failed"
    assert failures[0][1]["attempts"] == "2"
    assert failures[0][1]["error"] == "ValueError: no frame to label"
    assert per_run[0][0] == "img-002.png"  # failures first in the run's own list too
    moved = per_run[1:]
    assert sorted(title for title, _ in moved) == [f"img-{i:03d}.png" for i in range(12) if i != 2]
    for _, fields in moved:
        assert fields["outcome"] == "moved"
        assert fields["pathway"] == "annotate"
        assert fields["stage"] == "pre-label → Annotate"
        assert fields["attempts"] == "1"
    assert text.count('src="data:image/jpeg;base64,') == 12 + 1  # every task's picture (the failure's twice)


def test_no_key_reaches_the_terminal_or_the_log_file(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runner = SequentialRunner(user_client=env.client)
    runner.retry_backoff_base_s = 0.01

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        raise ValueError(f"cannot use {env.emu.ssh_key}")

    for verbose in ((), ("--verbose",)):
        log_file = tmp_path / f"run{len(verbose)}.log"
        args = ("--project-hash", env.project_hash, "--num-retries", "0", "--log-file", str(log_file), *verbose)
        assert _run(runner, monkeypatch, *args) == 1
        out, err = capsys.readouterr()
        secret = env.emu.ssh_key.splitlines()[1]  # the key's first base64 line
        for text in (out, err, log_file.read_text()):
            assert "OPENSSH PRIVATE KEY" not in text
            assert secret not in text
        assert "ValueError" in err
