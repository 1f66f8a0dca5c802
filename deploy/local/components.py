"""How each real component of the local stack starts: the argv, the environment and the readiness check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import ProcessSpec, free_port, http_ready, log_line_ready, tcp_ready
from deploy.local.rie import default_rie_path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
# The RIE binds this port internally for its runtime API: never hand it to a component.
RIE_RESERVED_PORT = 9001


def _port() -> int:
    port = free_port()
    while port == RIE_RESERVED_PORT:
        port = free_port()
    return port


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Python child: our repo importable, loopback never proxied, unbuffered logs."""
    # The working directory too, so `--target my_agents:runner` finds the user's own module.
    parts = (str(Path.cwd()), str(REPO_ROOT), os.environ.get("PYTHONPATH", ""))
    pythonpath = os.pathsep.join(dict.fromkeys(p for p in parts if p))
    no_proxy = "127.0.0.1,localhost"
    return {
        "PYTHONPATH": pythonpath,
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
        **(extra or {}),
    }


# --- Encord emulator -------------------------------------------------------------------------------------------


def encord_emulator(*, seed: Path, key_out: Path, name: str = "encord-emulator") -> ProcessSpec:
    """Our Encord emulator through its CLI (`runner-core emulator serve`); its ready line carries the URL."""
    serve = ["serve", "--seed", str(seed), "--port", "0", "--key-out", str(key_out)]
    argv = [sys.executable, "-m", "encord_emulator", *serve]
    return ProcessSpec(
        name=name,
        argv=argv,
        ready=log_line_ready(r"ready (http://127\.0\.0\.1:\d+)"),
        env=python_env(),
        cwd=REPO_ROOT,
        startup_timeout_s=60.0,
    )


# --- Pub/Sub emulator ------------------------------------------------------------------------------------------


def find_pubsub_emulator_jar() -> Path:
    """The Pub/Sub emulator JAR of the preinstalled Debian package (or of the gcloud SDK)."""
    configured = os.environ.get("PUBSUB_EMULATOR_JAR")
    candidates: list[Path] = [Path(configured)] if configured else []
    if shutil.which("dpkg"):
        listed = subprocess.run(
            ["dpkg", "-L", "google-cloud-cli-pubsub-emulator"], capture_output=True, text=True, check=False
        )
        candidates += [Path(line) for line in listed.stdout.splitlines() if line.endswith("all.jar")]
    candidates += sorted(Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib").glob("*all.jar"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ComponentUnavailableError(
        "the Pub/Sub emulator JAR is not installed (Debian package google-cloud-cli-pubsub-emulator, "
        "or set PUBSUB_EMULATOR_JAR)"
    )


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ComponentUnavailableError("java is not on the PATH (the Pub/Sub emulator needs Java 17)")
    return java


def pubsub_emulator(*, name: str = "pubsub-emulator") -> ProcessSpec:
    """Google's emulator JAR started directly: the gcloud wrapper would orphan its java child when stopped."""
    jar, java, port = find_pubsub_emulator_jar(), find_java(), _port()
    return ProcessSpec(
        name=name,
        argv=[java, "-jar", str(jar), f"--host={LOOPBACK}", f"--port={port}"],
        ready=http_ready(f"http://{LOOPBACK}:{port}/", expect_body="Ok"),
        startup_timeout_s=60.0,
    )


# --- Firestore emulator ---------------------------------------------------------------------------------------


def find_firestore_emulator_jar() -> Path:
    """The Firestore emulator JAR of the preinstalled Debian package (or of the gcloud SDK)."""
    configured = os.environ.get("FIRESTORE_EMULATOR_JAR")
    candidates: list[Path] = [Path(configured)] if configured else []
    if shutil.which("dpkg"):
        listed = subprocess.run(
            ["dpkg", "-L", "google-cloud-cli-firestore-emulator"], capture_output=True, text=True, check=False
        )
        candidates += [
            Path(line) for line in listed.stdout.splitlines() if line.endswith("cloud-firestore-emulator.jar")
        ]
    candidates.append(Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ComponentUnavailableError(
        "the Firestore emulator JAR is not installed (Debian package google-cloud-cli-firestore-emulator, "
        "or set FIRESTORE_EMULATOR_JAR)"
    )


def firestore_emulator_argv(port: int) -> list[str]:
    """Started directly (own process group, stopped by PID); English messages whatever the machine's locale."""
    jar, java = find_firestore_emulator_jar(), find_java()
    return [
        java,
        "-Duser.language=en",
        "-cp",
        str(jar),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        f"--host={LOOPBACK}",
        f"--port={port}",
    ]


def firestore_emulator(*, name: str = "firestore-emulator") -> ProcessSpec:
    port = _port()
    return ProcessSpec(
        name=name,
        argv=firestore_emulator_argv(port),
        ready=http_ready(f"http://{LOOPBACK}:{port}/", expect_body="Ok"),
        startup_timeout_s=60.0,
    )


# --- moto ------------------------------------------------------------------------------------------------------


def moto_server(*, name: str = "moto") -> ProcessSpec:
    port = _port()
    executable = Path(sys.executable).with_name("moto_server")
    argv = [str(executable)] if executable.exists() else [sys.executable, "-m", "moto.server"]
    return ProcessSpec(
        name=name,
        argv=[*argv, "-H", LOOPBACK, "-p", str(port)],
        ready=http_ready(f"http://{LOOPBACK}:{port}/moto-api/data.json"),
        env=python_env(),
    )


# --- functions-framework ---------------------------------------------------------------------------------------


def functions_framework(
    *,
    target: str,
    source_dir: Path,
    env: Mapping[str, str],
    signature_type: str = "cloudevent",
    threads: int = 8,
    name: str = "functions-framework",
) -> ProcessSpec:
    """Serve `module:function` (e.g. functions.gcp:consume) exactly as Cloud Functions gen2's runtime does.

    functions-framework loads its target from a source *file*, so we write a one-line `main.py` that re-exports it.
    """
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"target must be 'package.module:function', not {target!r}")
    source_dir.mkdir(parents=True, exist_ok=True)
    source = source_dir / "main.py"
    source.write_text(f"from {module} import {attr} as {attr}  # generated by deploy.local\n")
    port = _port()
    return ProcessSpec(
        name=name,
        argv=[
            sys.executable,
            "-m",
            "functions_framework",
            "--target",
            attr,
            "--source",
            str(source),
            "--signature-type",
            signature_type,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ],
        # A TCP accept, not an HTTP probe: a GET would *invoke* an http-signature function (e.g. run a dispatch).
        # gunicorn queues connections that arrive before its worker has imported the function.
        ready=tcp_ready(LOOPBACK, port),
        env=python_env({"THREADS": str(threads), **env}),
        cwd=REPO_ROOT,
    )


# --- Lambda runtime interface emulator -------------------------------------------------------------------------


def find_rie() -> Path:
    path = default_rie_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ComponentUnavailableError(
            f"the Lambda RIE is not at {path}: run `make install` or `python -m deploy.local.rie fetch --dest {path}`"
        )
    return path


def lambda_rie(
    *,
    handler: str,
    env: Mapping[str, str],
    timeout_s: int = 30,
    function_name: str = "runner-core-consume",
    name: str = "lambda-rie",
) -> ProcessSpec:
    """The RIE running `python -m awslambdaric <handler>`, e.g. handler `functions.aws.consume`."""
    rie, port = find_rie(), _port()
    # The RIE serves its runtime API on 127.0.0.1:9001 unless told otherwise: a port of its own lets several RIEs
    # (ours, and anyone else's on this machine) run side by side.
    runtime_api_port = _port()
    lambda_env = {
        "LAMBDA_TASK_ROOT": str(REPO_ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        **env,
    }
    return ProcessSpec(
        name=name,
        argv=[
            str(rie),
            "--runtime-interface-emulator-address",
            f"{LOOPBACK}:{port}",
            "--runtime-api-address",
            f"{LOOPBACK}:{runtime_api_port}",
            sys.executable,
            "-m",
            "awslambdaric",
            handler,
        ],
        ready=tcp_ready(LOOPBACK, port),
        env=python_env(lambda_env),
        cwd=REPO_ROOT,
    )


def rie_invocation_url(base_url: str) -> str:
    return f"{base_url}/2015-03-31/functions/function/invocations"


# --- deliverers (for `local up`, where the stack outlives the command) ---------------------------------------------


def deliverer(*, name: str, args: list[str]) -> ProcessSpec:
    """`python -m deploy.local.deliver <args>`: the SQS poller or the Pub/Sub bridge as a process of its own."""
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-m", "deploy.local.deliver", *args],
        ready=log_line_ready(r"^(delivering)$"),
        env=python_env(),
        cwd=REPO_ROOT,
        serves_http=False,
    )
