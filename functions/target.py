"""Find the user's runner from `RUNNER_TARGET=package.module:attr`, once per instance.

Same spelling as functions-framework's `--target`/`--source` pair collapsed into one value, so one variable works
for both clouds and for `runner-core dispatch --target`.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from functions.errors import TargetLoadError
from runner_core.protocols import RunnerTarget

TARGET_ENV = "RUNNER_TARGET"
_EXAMPLE = "'my_agents:runner' (module my_agents.py, attribute runner)"

_lock = threading.Lock()
_loaded: dict[str, RunnerTarget] = {}


def parse_target(spec: str) -> tuple[str, str]:
    """Split `package.module:attr` into module and attribute path, or raise `TargetLoadError` saying why."""
    module_name, sep, attr_path = spec.strip().partition(":")
    if not sep or not module_name or not attr_path:
        raise TargetLoadError(f"{TARGET_ENV}={spec!r} is not of the form 'package.module:attr', e.g. {_EXAMPLE}.")
    return module_name, attr_path


def _import(spec: str) -> Any:
    module_name, attr_path = parse_target(spec)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            raise TargetLoadError(
                f"{TARGET_ENV}={spec!r}: module {module_name!r} was not found; is it packaged with the function "
                "and on sys.path?"
            ) from exc
        raise TargetLoadError(
            f"{TARGET_ENV}={spec!r}: importing {module_name!r} failed because it needs {exc.name!r}, "
            "which is not installed."
        ) from exc
    target: Any = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise TargetLoadError(f"{TARGET_ENV}={spec!r}: {module_name!r} has no attribute {attr_path!r}.") from None
    return target


def load_runner(spec: str | None = None) -> RunnerTarget:
    """The runner named by `spec` (default: `$RUNNER_TARGET`), imported once per process and cached.

    Checked against `RunnerTarget` (what the entrypoints call), so a wrong target fails with its name, not deep
    inside a handler.
    """
    if spec is None:
        from functions.settings import function_settings

        spec = function_settings().target
    if not spec.strip():
        raise TargetLoadError(f"{TARGET_ENV} is not set; set it to the QueueRunner your agents use, e.g. {_EXAMPLE}.")
    with _lock:
        if spec not in _loaded:
            runner = _import(spec)
            if not isinstance(runner, RunnerTarget):
                raise TargetLoadError(
                    f"{TARGET_ENV}={spec!r} is a {type(runner).__name__}, not a QueueRunner "
                    "(a runner_core.protocols.RunnerTarget: project_hash, get_agent_stages, process and use_client)."
                )
            _loaded[spec] = runner
        return _loaded[spec]


def clear_cache() -> None:
    """Forget loaded runners (tests, or a warm instance whose target changed)."""
    with _lock:
        _loaded.clear()
