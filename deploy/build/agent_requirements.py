"""The agent's own requirements: `--requirements FILE`, or a requirements.txt / pyproject.toml next to the agent.

Only plain requirement lines are read (`name[extras] specifier ; marker`). pip options (`-r`, `-e`, `--index-url`)
and URL or path requirements are refused with the line that has them: the build pins versions from the build
environment, so every requirement must be a named distribution installed there.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from deploy.build.errors import DependencyError
from deploy.build.sources import AgentTarget

REQUIREMENTS_TXT = "requirements.txt"
PYPROJECT_TOML = "pyproject.toml"
# runner-core's own pyproject.toml (an agent built from this checkout's root): its dependencies are ours, packed anyway.
_OUR_DISTRIBUTION = "runner-core"


@dataclass(frozen=True, slots=True)
class AgentRequirements:
    """Requirements read from `source` (None: the agent declares none)."""

    requirements: tuple[Requirement, ...] = ()
    source: Path | None = None

    def describe(self) -> str:
        return str(self.source) if self.source is not None else "no requirements file"


def find_agent_requirements(target: AgentTarget, *, agent_dir: Path, explicit: Path | None) -> AgentRequirements:
    """`explicit` when given; else the nearest requirements.txt or pyproject.toml from the agent's module folder up
    to `agent_dir` (requirements.txt first in each folder)."""
    if explicit is not None:
        if not explicit.is_file():
            raise DependencyError(f"--requirements {explicit}: no such file")
        return read_requirements_file(explicit)
    for folder in _folders_next_to(target, agent_dir.resolve()):
        listed = folder / REQUIREMENTS_TXT
        if listed.is_file():
            return read_requirements_file(listed)
        project = folder / PYPROJECT_TOML
        if project.is_file() and not _is_our_pyproject(project):
            return read_requirements_file(project)
    return AgentRequirements()


def read_requirements_file(path: Path) -> AgentRequirements:
    if path.name == PYPROJECT_TOML:
        return AgentRequirements(_from_pyproject(path), path)
    requirements: list[Requirement] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirements.append(_parse(line, where=f"{path}:{number}"))
    return AgentRequirements(tuple(requirements), path)


def _from_pyproject(path: Path) -> tuple[Requirement, ...]:
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except tomllib.TOMLDecodeError as exc:
        raise DependencyError(f"{path}: not valid TOML ({exc})") from None
    lines = project.get("dependencies", [])
    if not isinstance(lines, list):
        raise DependencyError(f"{path}: [project].dependencies must be a list of requirement strings")
    return tuple(_parse(str(line), where=f"{path} [project].dependencies") for line in lines)


def _parse(line: str, *, where: str) -> Requirement:
    if line.startswith("-"):
        raise DependencyError(
            f"{where}: {line!r} is a pip option; list the packages themselves (one requirement per line)"
        )
    try:
        requirement = Requirement(line)
    except InvalidRequirement as exc:
        raise DependencyError(f"{where}: {line!r} is not a requirement ({exc})") from None
    if requirement.url:
        raise DependencyError(
            f"{where}: {line!r} names a URL or path; install it in the build environment and list it by name"
        )
    return requirement


def _folders_next_to(target: AgentTarget, agent_dir: Path) -> list[Path]:
    """The agent module's package folder and its parents inside the top-level package, then `agent_dir`."""
    parts = target.module.split(".")
    folders = [agent_dir.joinpath(*parts[:depth]) for depth in range(len(parts), 0, -1)]
    return [*(folder for folder in folders if folder.is_dir()), agent_dir]


def _is_our_pyproject(path: Path) -> bool:
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("name")
    except tomllib.TOMLDecodeError:
        return False
    return bool(name == _OUR_DISTRIBUTION)
