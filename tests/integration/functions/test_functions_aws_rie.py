"""functions.aws.consume inside the real Lambda runtime: the runtime interface emulator running awslambdaric with the
handler string Terraform deploys, invoked over HTTP with an SQS event received from moto."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from deploy.local.processes import free_port
from deploy.local.rie import default_rie_path
from encord_emulator.testing import RunningEmulator
from runner_core.producer import build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import (
    Moto,
    bad_bodies,
    receive_event,
    stop_process_group,
    task_uuid_of,
    title_of,
)

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    while (port := free_port()) == 9001:  # the RIE's default runtime API port, whoever holds it
        pass
    return port


@pytest.fixture
def rie(emu: RunningEmulator, moto: Moto, tmp_path: Path) -> Iterator[str]:
    binary = default_rie_path()
    if not binary.is_file():
        pytest.skip(f"Lambda runtime interface emulator not found at {binary} (make install fetches it)")
    port, api_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(REPO),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)]),
        "AWS_LAMBDA_FUNCTION_NAME": "runner-core-consume",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "RUNNER_TARGET": fn_agents.TARGET,
        "FN_AGENTS_PROJECT_HASH": emu.project_hash,
    }
    log = (tmp_path / "rie.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            # Its runtime API defaults to the fixed 127.0.0.1:9001, which any other RIE on the host may hold.
            "--runtime-api-address",
            f"127.0.0.1:{api_port}",
            *(sys.executable, "-m", "awslambdaric", "functions.aws.consume"),
        ],
        env=env,
        stdout=log,  # a file, so a chatty runtime never blocks on a full pipe
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed as a group, by PID
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    finally:
        stop_process_group(process, timeout_s=5)
        log.close()


def test_mixed_batch_through_the_lambda_runtime(emu: RunningEmulator, moto: Moto, rie: str) -> None:
    by_title = {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}
    bodies = {title: by_title[title].body for title in ["bright-07.png", "dark-07.png", fn_agents.RAISES_ON]}
    bodies.update(bad_bodies(emu.project_hash))
    sqs = moto.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="rie-tasks")["QueueUrl"])
    for name, body in bodies.items():
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": name}},
        )
    event = receive_event(sqs, queue_url, len(bodies))

    response = requests.post(rie, data=json.dumps(event), timeout=60)

    answer = response.json()
    assert "errorType" not in answer, answer
    kinds = {r["messageId"]: r["messageAttributes"]["kind"]["stringValue"] for r in event["Records"]}
    failed = {kinds[item["itemIdentifier"]] for item in answer["batchItemFailures"]}
    assert failed == {fn_agents.RAISES_ON, "not_json", "wrong_schema", "unknown_stage"}
    assert emu.state.task_stage(task_uuid_of(bodies["bright-07.png"])) == "Annotate"
    assert emu.state.task_stage(task_uuid_of(bodies["dark-07.png"])) == "Complete"
