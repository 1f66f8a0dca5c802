"""`runner-core emulator serve` as a real subprocess: ready line, key file, SDK use, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from encord.objects import Object
from encord.objects.coordinates import BoundingBoxCoordinates
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage

REPO = Path(__file__).resolve().parents[3]
SERVE = [sys.executable, "-c", "from deploy.cli import main; main()", "emulator", "serve"]


def test_serve_prints_ready_accepts_its_key_and_stops_on_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
    seed = REPO / "examples" / "demo" / "project.yaml"
    process = subprocess.Popen(
        [*SERVE, "--seed", str(seed), "--port", "0", "--key-out", str(key_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ready http://127.0.0.1:"), line
        url = line.split()[1]
        assert key_file.stat().st_mode & 0o077 == 0  # private key readable by its owner only
        client = EncordUserClient.create_with_ssh_private_key(ssh_private_key_path=str(key_file), domain=url)
        project = client.get_project("7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c")
        stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
        task = next(iter(stage.get_tasks()))
        (row,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
        row.initialise_labels()
        box = project.ontology_structure.get_child_by_title("Box", type_=Object)
        instance = box.create_instance()
        instance.set_for_frames(BoundingBoxCoordinates(height=0.5, width=0.5, top_left_x=0.0, top_left_y=0.0), frames=0)
        row.add_object_instance(instance)
        row.save()
        task.proceed(pathway_name="annotate")
        annotate = project.workflow.get_stage(name="Annotate")
        assert task.data_hash in {t.data_hash for t in annotate.get_tasks()}
        (saved,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
        saved.initialise_labels()
        assert len(saved.get_object_instances()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


def test_serve_refuses_a_key_file_that_is_not_an_ed25519_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text("not a key")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [*SERVE, "--port", "0", "--key-out", str(key_file)], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "ready" not in result.stdout
