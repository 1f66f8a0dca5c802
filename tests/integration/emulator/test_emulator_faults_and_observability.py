"""`/_emulator/` observability and injected faults, as SDK clients with custom RequestsSettings see them."""

from __future__ import annotations

import time

import pytest
import requests
from encord.exceptions import RateLimitExceededError, RequestException, UnknownException
from encord.workflow.stages.agent import AgentStage

from encord_emulator.faults import FaultSettings
from encord_emulator.testing import RunningEmulator, run_emulator


def test_request_log_counts_routes_and_excludes_media_by_default(emulator: RunningEmulator) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    (row,) = project.list_label_rows_v2(data_title_eq="bright-00.png")
    assert row.backing_item_uuid is not None
    url = client.get_storage_item(row.backing_item_uuid, sign_url=True).get_signed_url()
    assert url is not None
    assert requests.get(url, timeout=5).status_code == 200
    assert emulator.requests() == 4
    assert emulator.requests("/files") == 1
    assert emulator.requests("/v2/public/projects") == 1
    assert emulator.requests("POST /public labelrowmetadata") == 1
    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    assert log["counters"]["GET /v2/public/ontologies/{ontology}"] == 1
    assert log["total"] == {"api": 4, "media": 1}
    assert [entry["status"] for entry in log["entries"]] == [200] * 5
    emulator.reset_counters()
    assert emulator.requests() == 0


def test_state_dump_and_reset_over_http(emulator: RunningEmulator) -> None:
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    task = next(iter(stage.get_tasks()))
    task.proceed(pathway_name="skip")
    dump = requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()
    (entry,) = [t for t in dump["projects"][0]["tasks"] if t["task_uuid"] == str(task.uuid)]
    assert entry["stage"] == "Complete"
    assert entry["status"] == "COMPLETED"
    assert requests.post(f"{emulator.url}/_emulator/reset", json={}, timeout=5).json() == {"ok": True}
    assert emulator.state.task_stage(task.uuid) == "pre-label"
    assert emulator.requests() == 0


def test_429_carries_retry_after_and_the_sdk_reports_it(emulator: RunningEmulator) -> None:
    emulator.set_faults(rate_429=1.0, retry_after_s=7)
    client = emulator.client(max_retries=0)
    with pytest.raises(RateLimitExceededError) as raised:
        client.get_project(emulator.project_hash)
    assert raised.value.retry_after == 7
    assert emulator.requests() == 1


def test_503_and_recovery_at_run_time(emulator: RunningEmulator) -> None:
    client = emulator.client(max_retries=0)
    emulator.set_faults(rate_503=1.0, path_prefix="/v2/public/projects")
    with pytest.raises(UnknownException):
        client.get_project(emulator.project_hash)
    response = requests.put(f"{emulator.url}/_emulator/faults", json={}, timeout=5)
    assert response.json()["rate_503"] == 0.0
    assert client.get_project(emulator.project_hash).title == "Demo pre-labelling"


def test_sdk_retries_through_intermittent_503(emulator: RunningEmulator) -> None:
    emulator.set_faults(rate_503=0.5, seed=3)
    client = emulator.client(max_retries=8, backoff_factor=0.001)
    project = client.get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    assert len(list(stage.get_tasks())) == 28
    log = emulator.app.log.snapshot()
    assert any(entry["status"] == 503 for entry in log["entries"])


def test_dropped_connection_is_a_request_exception(emulator: RunningEmulator) -> None:
    emulator.set_faults(drop_rate=1.0)
    client = emulator.client(max_retries=0, connection_retries=0)
    with pytest.raises(RequestException):
        client.get_project(emulator.project_hash)


def test_latency_applies_and_faults_can_be_set_at_start() -> None:
    with run_emulator(faults=FaultSettings(latency_ms=80)) as emulator:
        client = emulator.client()
        started = time.perf_counter()
        client.get_project(emulator.project_hash)  # two requests
        assert time.perf_counter() - started >= 0.16
        assert requests.get(f"{emulator.url}/_emulator/faults", timeout=5).json()["latency_ms"] == 80


def test_bad_fault_settings_are_rejected(emulator: RunningEmulator) -> None:
    response = requests.put(f"{emulator.url}/_emulator/faults", json={"rate_429": 2}, timeout=5)
    assert response.status_code == 400
    assert emulator.app.faults.settings.rate_429 == 0.0
