from __future__ import annotations

import pytest
from encord.workflow.stages.agent import AgentTaskStatus

from functions.errors import ConfigurationError
from functions.trigger import allowed_projects, parse_statuses

PROJECT = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"


def test_statuses_parse_case_insensitively_from_repeats_and_commas() -> None:
    assert parse_statuses(["new", "RELEASED,reopened", ""]) == [
        AgentTaskStatus.NEW,
        AgentTaskStatus.RELEASED,
        AgentTaskStatus.REOPENED,
    ]
    with pytest.raises(ConfigurationError, match="unknown task status 'DONE'; choose from NEW, ASSIGNED"):
        parse_statuses(["DONE"])


def test_allow_list_defaults_to_the_runners_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_PROJECT_ALLOWLIST", raising=False)
    assert allowed_projects(own_project=PROJECT.upper()) == {PROJECT}
    other = "11111111-2222-4333-8444-555555555555"
    monkeypatch.setenv("RUNNER_PROJECT_ALLOWLIST", f" {other.upper()} , {PROJECT}")
    assert allowed_projects(own_project=PROJECT.upper()) == {other, PROJECT}
    monkeypatch.setenv("RUNNER_PROJECT_ALLOWLIST", "not-a-hash")
    with pytest.raises(ConfigurationError, match="RUNNER_PROJECT_ALLOWLIST holds 'not-a-hash'"):
        allowed_projects(own_project=PROJECT.upper())
