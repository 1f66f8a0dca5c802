"""The Pub/Sub function through functions-framework's test client: binary, structured and raw push deliveries.

The runner is scripted here (transport mapping only); tests/integration/functions runs the real one.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.functions._functions_fakes import ScriptedRunner, ff_client, install_scripted_runner

EVENTS = Path(__file__).parents[2] / "events"
SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ScriptedRunner:
    fake = install_scripted_runner(monkeypatch)
    monkeypatch.delenv("RUNNER_DEAD_LETTER_TOPIC", raising=False)
    return fake


def _client(target: str, signature_type: str) -> FlaskClient:
    return ff_client(SOURCE, target, signature_type)


def _data(script: str) -> str:
    return base64.b64encode(json.dumps({"script": script}).encode()).decode()


def _golden(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def _binary(script: str) -> tuple[dict[str, str], str]:
    golden = _golden("pubsub_cloudevent_binary.json")
    body = copy.deepcopy(golden["body"])
    body["message"]["data"] = _data(script)
    return golden["headers"], json.dumps(body)


def _structured(script: str) -> str:
    golden = _golden("pubsub_cloudevent_structured.json")
    golden["data"]["message"]["data"] = _data(script)
    return json.dumps(golden)


def _raw_push(script: str, attempt: int = 3) -> str:
    golden = _golden("pubsub_push_raw.json")
    golden["message"]["data"] = _data(script)
    golden["deliveryAttempt"] = attempt
    return json.dumps(golden)


@pytest.mark.parametrize(("script", "status"), [("moved", 200), ("routed", 200), ("retry", 500)])
def test_binary_cloudevent(runner: ScriptedRunner, script: str, status: int) -> None:
    headers, body = _binary(script)
    response = _client("consume", "cloudevent").post("/", headers=headers, data=body)
    assert response.status_code == status
    ((messages, _),) = runner.calls
    assert messages[0].message_id == "2070443601311540"
    assert messages[0].attempt == 1  # Eventarc carries no deliveryAttempt


def test_structured_cloudevent(runner: ScriptedRunner) -> None:
    client = _client("consume", "cloudevent")
    ok = client.post("/", data=_structured("moved"), headers={"Content-Type": "application/cloudevents+json"})
    assert ok.status_code == 200
    assert json.loads(runner.calls[0][0][0].body) == {"script": "moved"}


def test_raw_push_keeps_delivery_attempt(runner: ScriptedRunner) -> None:
    client = _client("consume", "cloudevent")
    response = client.post("/", data=_raw_push("moved", attempt=4), content_type="application/json")
    assert response.status_code == 200
    assert runner.calls[0][0][0].attempt == 4


def test_permanent_failure_without_dead_letter_topic_nacks(runner: ScriptedRunner) -> None:
    client = _client("consume", "cloudevent")
    response = client.post("/", data=_raw_push("decode"), content_type="application/json")
    assert response.status_code == 500


def test_http_entrypoint_reads_the_raw_push_body(runner: ScriptedRunner) -> None:
    client = _client("consume_http", "http")
    assert client.post("/", data=_raw_push("moved", attempt=2), content_type="application/json").status_code == 204
    assert runner.calls[-1][0][0].attempt == 2
    assert client.post("/", data=_raw_push("retry"), content_type="application/json").status_code == 500
    assert client.post("/", data="[]", content_type="application/json").status_code == 400
    assert client.post("/", data=json.dumps({"message": {}}), content_type="application/json").status_code == 400


def test_trace_header_reaches_the_log_line(runner: ScriptedRunner, capsys: pytest.CaptureFixture[str]) -> None:
    client = _client("consume_http", "http")
    client.post(
        "/",
        data=_raw_push("moved"),
        content_type="application/json",
        headers={"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"},
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    outcome = next(line for line in lines if line.get("event") == "task_outcome")
    assert outcome["severity"] == "INFO"
    assert outcome["message"] == "task outcome"
    assert outcome["logging.googleapis.com/trace"].endswith("105445aa7843bc8bf206b12000100000")
    assert outcome["outcome"] == "moved"


def test_a_deployed_main_py_re_exporting_the_entrypoints_works(
    runner: ScriptedRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cloud Functions loads `main.py` from the source root: re-exporting functions.gcp's entrypoints is enough."""
    (tmp_path / "main.py").write_text("from functions.gcp import consume, consume_http, dispatch  # noqa: F401\n")
    headers, body = _binary("moved")
    client = ff_client(str(tmp_path / "main.py"), "consume", "cloudevent")
    assert client.post("/", headers=headers, data=body).status_code == 200
    assert len(runner.calls) == 1
