"""What goes into an artifact from source trees: our runtime packages and the user's agent package."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deploy.build.archive import ArchiveEntry
from deploy.build.errors import AgentNotFoundError, BuildError

# Only what runs in the cloud: the emulator, the CLI/build tooling, tests and benchmarks stay out.
RUNTIME_PACKAGES: tuple[str, ...] = ("runner_core", "functions")

_EXCLUDED_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# Installer bookkeeping: RECORD lists files (and hashes) we have dropped, the others name the local installer.
_EXCLUDED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def is_excluded(arcname: str) -> bool:
    """True for paths that are never needed at run time (caches, test suites, installer records)."""
    parts = PurePosixPath(arcname).parts
    if any(part in _EXCLUDED_DIRS for part in parts[:-1]):
        return True
    if arcname.endswith(_EXCLUDED_SUFFIXES):
        return True
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _EXCLUDED_DIST_INFO_FILES


def tree_entries(root: Path, *, prefix: str) -> Iterator[ArchiveEntry]:
    """Every kept file under `root`, named `prefix/<relative path>` in the archive."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        arcname = f"{prefix}/{path.relative_to(root).as_posix()}"
        if not is_excluded(arcname):
            yield ArchiveEntry.from_file(arcname, path)


def runtime_package_entries() -> Iterator[ArchiveEntry]:
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise BuildError(f"cannot find the runtime package {name!r}; run the build from a runner-core checkout")
        yield from tree_entries(Path(next(iter(spec.submodule_search_locations))), prefix=name)


@dataclass(frozen=True, slots=True)
class AgentTarget:
    """`package.module:attr`: the runner object functions load through RUNNER_TARGET."""

    module: str
    attr: str

    @classmethod
    def parse(cls, value: str) -> AgentTarget:
        module, sep, attr = value.partition(":")
        if not sep or not module or not attr or not all(p.isidentifier() for p in module.split(".")):
            raise AgentNotFoundError(f"--target must look like package.module:attr, got {value!r}")
        return cls(module=module, attr=attr)

    @property
    def top_level(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.module}:{self.attr}"


def agent_entries(target: AgentTarget, *, search_dir: Path) -> list[ArchiveEntry]:
    """Copy the agent's whole top-level package (or single module) so its relative imports keep working."""
    if target.top_level in RUNTIME_PACKAGES:
        raise AgentNotFoundError(f"the agent package may not be named {target.top_level!r}: runner-core uses it")
    # PathFinder with an explicit path list: finds the package without importing it or touching sys.path.
    spec = importlib.machinery.PathFinder.find_spec(target.top_level, [str(search_dir.resolve())])
    if spec is None:
        raise AgentNotFoundError(
            _not_found(target, f"no package or module {target.top_level!r} under {search_dir.resolve()}")
        )
    if spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        _check_attribute(_module_file(root, target), target)
        entries = list(tree_entries(root, prefix=target.top_level))
    elif spec.origin and target.module == target.top_level:
        origin = Path(spec.origin)
        _check_attribute(origin, target)
        entries = [ArchiveEntry.from_file(origin.name, origin)]
    else:
        raise AgentNotFoundError(_not_found(target, f"{target.top_level!r} is a single module, not a package"))
    return entries


def _module_file(package_root: Path, target: AgentTarget) -> Path:
    rest = target.module.split(".")[1:]
    as_module = package_root.joinpath(*rest).with_suffix(".py") if rest else None
    as_package = package_root.joinpath(*rest, "__init__.py")
    if as_module is not None and as_module.is_file():
        return as_module
    if as_package.is_file():
        return as_package
    raise AgentNotFoundError(_not_found(target, f"neither {as_module} nor {as_package} exists"))


def _not_found(target: AgentTarget, where: str) -> str:
    """The function's own load error for a missing module (functions.target), then what the build looked for."""
    return f"RUNNER_TARGET={str(target)!r}: module {target.module!r} was not found ({where})."


def _check_attribute(module_file: Path, target: AgentTarget) -> None:
    """Fail the build, not the first invocation, when the module binds no top-level `attr`.

    Read from the source instead of importing it: the agent's imports (models, GPU libraries) may not even be
    installed where the build runs.
    """
    try:
        tree = ast.parse(module_file.read_text(encoding="utf-8"), filename=str(module_file))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise AgentNotFoundError(f"cannot read {module_file}: {exc}") from None
    names = top_level_names(tree.body)
    if target.attr not in names:
        # Worded as the function's own load error (functions.target), then where and what the module does bind.
        raise AgentNotFoundError(
            f"RUNNER_TARGET={str(target)!r}: {target.module!r} has no attribute {target.attr!r}."
            f" {module_file} binds no top-level {target.attr!r}"
            f" (it binds: {', '.join(sorted(n for n in names if not n.startswith('_'))) or 'nothing'})"
        )


def top_level_names(body: list[ast.stmt]) -> set[str]:
    """Names a module body binds at top level, including under a top-level `if`, `try` or `with`."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            # Bindings under a top-level `if`/`try`/`with` still define module attributes.
            for block in ("body", "orelse", "finalbody"):
                names |= top_level_names(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                names |= top_level_names(handler.body)
    return names
