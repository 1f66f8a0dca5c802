"""The built Lambda zip, unpacked here, runs a golden SQS event inside the real Lambda RIE against the emulator.

The runtime process starts with `python -S` and a PYTHONPATH of the unpacked zip plus a "Lambda runtime" folder
(awslambdaric and boto3 only, as on AWS): nothing from this checkout or the venv can leak in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from encord.workflow.stages.agent import AgentStage
from packaging.requirements import Requirement

from deploy.build.dependencies import resolve_installed
from deploy.build.image import DOCKERFILE, TASK_DIR
from deploy.local import components
from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import free_port
from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core.messages import encode_envelope
from tests.iac.iac_tools import DEPS_AGENT, FIXTURE_AGENT, REPO

pytestmark = pytest.mark.iac

GOLDEN_EVENT = REPO / "tests/events/sqs_standard.json"
STAGE = "pre-label"
NEXT_STAGE = "Annotate"


def _rie_binary() -> Path:
    try:
        return components.find_rie()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))


def _lambda_runtime_dir(target: Path) -> Path:
    """What the AWS Python runtime provides besides the stdlib: the runtime client and boto3."""
    target.mkdir()
    dists = resolve_installed([Requirement("awslambdaric"), Requirement("boto3")], environment={})
    for dist in dists.values():
        for file in dist.files or []:
            top = Path(file).parts[0]
            source = Path(str(dist.locate_file(top)))
            if top.startswith("..") or (target / top).exists() or not source.exists():
                continue
            (target / top).symlink_to(source)
    return target


@dataclass(frozen=True)
class Unpacked:
    root: Path
    target: str
    handler: str = "functions.aws.consume"


def _unpack(archive_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(dest)
    return dest


@pytest.fixture
def task_root(site_packages_zip: Path, tmp_path: Path) -> Path:
    return _unpack(site_packages_zip, tmp_path / "task")


def _image_cmd(dockerfile: Path) -> str:
    """The handler the image runs: its CMD, as Lambda reads it."""
    cmd = next(line for line in dockerfile.read_text().splitlines() if line.startswith("CMD "))
    handler: str = json.loads(cmd.removeprefix("CMD "))[0]
    return handler


@pytest.fixture(
    params=[
        ("site_packages_zip", FIXTURE_AGENT),
        ("deps_site_packages_zip", DEPS_AGENT),
        ("deps_image_context", DEPS_AGENT),
    ],
    ids=["plain-agent", "agent-with-own-requirements", "image-context"],
)
def unpacked(request: pytest.FixtureRequest, tmp_path: Path) -> Unpacked:
    fixture, target = request.param
    built: Path = request.getfixturevalue(fixture)
    if built.is_dir():  # an image build context: its task/ tree is what COPY puts into LAMBDA_TASK_ROOT
        return Unpacked(root=built / TASK_DIR, target=target, handler=_image_cmd(built / DOCKERFILE))
    return Unpacked(root=_unpack(built, tmp_path / "task"), target=target)


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with run_emulator() as emu:
        yield emu


def _ssh_key_secret(moto_url: str, emu: RunningEmulator) -> str:
    """The emulator's key in (moto's) Secrets Manager, as the Terraform module expects it put."""
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn: str = client.create_secret(Name="iac/encord-ssh-key", SecretString=emu.ssh_key)["ARN"]
    return arn


def _environment(task_root: Path, runtime: Path, emu: RunningEmulator, *, moto_url: str, target: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR", "HOME")}
    return {
        **keep,
        "PYTHONPATH": f"{task_root}{os.pathsep}{runtime}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "iac-consumer",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "60",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "NO_PROXY": "127.0.0.1,localhost",
        "RUNNER_TARGET": target,
        "RUNNER_MAX_ATTEMPTS": "5",
        "ENCORD_DOMAIN": emu.url,
        # As deployed: the key comes from Secrets Manager by ARN (Powertools in the zip, boto3 from the runtime).
        "ENCORD_SSH_KEY_SECRET_ARN": _ssh_key_secret(moto_url, emu),
        "AWS_ENDPOINT_URL": moto_url,
    }


def _golden_event(emu: RunningEmulator) -> tuple[dict[str, Any], str]:
    """The golden SQS event with its body swapped for an envelope holding one live task of the demo project."""
    project = emu.client().get_project(emu.project_hash)
    stage = project.workflow.get_stage(name=STAGE, type_=AgentStage)
    task = next(iter(stage.get_tasks()))
    event = json.loads(GOLDEN_EVENT.read_text(encoding="utf-8"))
    record = event["Records"][0]
    record["body"] = encode_envelope(project_hash=emu.project_hash, stage_uuid=stage.uuid, tasks=[task])
    return {"Records": [record]}, str(task.uuid)


def _invoke(
    url: str, event: dict[str, Any], *, process: subprocess.Popen[bytes], deadline_s: float = 60
) -> dict[str, Any]:
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            response = requests.post(url, json=event, timeout=deadline_s)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > give_up:
                raise
            time.sleep(0.05)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_unpacked_zip_imports_functions_aws_without_the_checkout(task_root: Path, tmp_path: Path) -> None:
    runtime = _lambda_runtime_dir(tmp_path / "runtime")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{task_root}{os.pathsep}{runtime}"}
    code = "import functions.aws, runner_core, iac_agent.agent; print(functions.aws.__file__)"
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to(task_root.resolve())


def test_golden_sqs_event_runs_inside_the_lambda_rie(
    unpacked: Unpacked, tmp_path: Path, emulator: RunningEmulator, moto_url: str
) -> None:
    task_root = unpacked.root
    rie = _rie_binary()
    runtime = _lambda_runtime_dir(tmp_path / "runtime")
    port = free_port()
    event, task_uuid = _golden_event(emulator)
    assert emulator.state.task_stage(task_uuid) == STAGE
    log = (tmp_path / "rie.log").open("wb")
    # Both ports free and explicit: RIE's runtime API default (9001) clashes with any other RIE on the machine.
    command = [str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{port}"]
    command += ["--runtime-api-address", f"127.0.0.1:{free_port()}"]
    command += [sys.executable, "-S", "-m", "awslambdaric", unpacked.handler]
    process = subprocess.Popen(
        command,
        cwd=task_root,
        env=_environment(task_root, runtime, emulator, moto_url=moto_url, target=unpacked.target),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: RIE leaves a defunct child when killed alone
    )
    try:
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        answer = _invoke(url, event, process=process)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
        log.close()
    output = (tmp_path / "rie.log").read_text(errors="replace")
    assert "errorType" not in answer, f"{answer}\n{output[-3000:]}"
    assert answer == {"batchItemFailures": []}, output[-3000:]
    assert emulator.state.task_stage(task_uuid) == NEXT_STAGE
    assert emulator.ssh_key not in output, "the SSH key must never reach the logs"
