"""Assemble the deployable artifacts: a Lambda zip (code + Linux wheels) and a Cloud Functions source zip."""

from __future__ import annotations

import ast
import importlib.util
import json
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from deploy.build.agent_requirements import AgentRequirements, find_agent_requirements
from deploy.build.archive import ArchiveEntry, ZippedEntry, sha256_of, write_reproducible_zip
from deploy.build.dependencies import (
    LAMBDA_RUNTIME_HOOKS,
    LAMBDA_RUNTIME_PROVIDED,
    TargetPlatform,
    download_wheels,
    pinned_lines,
    project_requirements,
    resolve_installed,
    site_packages_entries,
    unpack_wheels,
)
from deploy.build.errors import BuildError, DependencyError, PackageTooLargeError
from deploy.build.image import DOCKERFILE, IMAGE_LIMIT_BYTES, context_entries, tree_digest, write_image_context
from deploy.build.preflight import check_in_artifact, link_distributions, stage_code
from deploy.build.report import LAMBDA_UNZIPPED_LIMIT_BYTES, SizeReport, size_report
from deploy.build.sources import AgentTarget, agent_entries, runtime_package_entries, top_level_names

LAMBDA_ZIP = "lambda.zip"
GCP_ZIP = "source.zip"
MANIFEST = "manifest.json"

# Entry points main.py re-exports when functions.gcp defines them (the Cloud Functions `entry_point`s).
GCP_ENTRYPOINTS: tuple[str, ...] = ("consume", "consume_http", "dispatch")
_REQUIRED_GCP_ENTRYPOINTS = frozenset({"consume", "dispatch"})


class DependencySource(StrEnum):
    DOWNLOAD = "download"  # pip download of Linux wheels for the target (the default for real deploys)
    SITE_PACKAGES = "site-packages"  # copy this machine's installed packages: LOCAL TESTING ONLY
    NONE = "none"  # our code and the agent only


@dataclass(frozen=True, slots=True)
class BuildResult:
    artifact: Path
    sha256: str
    report: SizeReport
    manifest: dict[str, object] = field(default_factory=dict)


def build_aws(
    *,
    agent: AgentTarget,
    out_dir: Path,
    agent_dir: Path = Path("."),
    requirements: Path | None = None,
    platform: TargetPlatform | None = None,
    dependencies: DependencySource = DependencySource.DOWNLOAD,
    wheelhouse: Path | None = None,
    bundle_boto3: bool = False,
    image: bool = False,
    max_unzipped_bytes: int | None = None,
) -> BuildResult:
    """Build `out_dir/lambda.zip`: our code, the agent's package, and Linux wheels for our and the agent's
    requirements; with `image`, the same tree as a container build context in `out_dir/image/` instead.
    Raises before writing when the agent does not load (AgentCheckError) or the unzipped size is over
    `max_unzipped_bytes` (default: Lambda's limit, 250 MB for a zip, 10 GB for an image) (PackageTooLargeError)."""
    if max_unzipped_bytes is None:
        max_unzipped_bytes = IMAGE_LIMIT_BYTES if image else LAMBDA_UNZIPPED_LIMIT_BYTES
    platform = platform or TargetPlatform()
    exclude = LAMBDA_RUNTIME_HOOKS | (frozenset() if bundle_boto3 else LAMBDA_RUNTIME_PROVIDED)
    environment = _environment_for(dependencies, platform)
    agent_requirements = find_agent_requirements(agent, agent_dir=agent_dir, explicit=requirements)
    dists = resolve_installed(
        [*project_requirements("aws"), *agent_requirements.requirements], environment=environment, exclude=exclude
    )
    pins = pinned_lines(dists)
    with tempfile.TemporaryDirectory(prefix="runner-core-build-") as scratch:
        code = [*runtime_package_entries(), *agent_entries(agent, search_dir=agent_dir)]
        provided = _installed_runtime_provided(
            LAMBDA_RUNTIME_HOOKS | (frozenset() if bundle_boto3 else LAMBDA_RUNTIME_PROVIDED)
        )
        stages = _check_agent(agent, code=code, dists={**provided, **dists}, scratch=Path(scratch))
        entries = list(code)
        if dependencies is DependencySource.SITE_PACKAGES:
            entries += site_packages_entries(dists)
        elif dependencies is DependencySource.DOWNLOAD:
            wheels = download_wheels(pins=pins, platform=platform, dest=Path(scratch) / "wheels", wheelhouse=wheelhouse)
            entries += unpack_wheels(wheels, staging=Path(scratch) / "site")
        _check_size(entries, limit=max_unzipped_bytes)
        if image:
            artifact = write_image_context(entries, out_dir, platform)
            zipped = context_entries(artifact.parent)
        else:
            artifact = out_dir / LAMBDA_ZIP
            zipped = write_reproducible_zip(entries, artifact)
    manifest = _manifest(
        "aws",
        agent,
        platform,
        dependencies,
        pins if dependencies is not DependencySource.NONE else [],
        agent_requirements,
        stages,
    )
    return _finish(artifact, zipped, manifest, out_dir)


def build_gcp(
    *, agent: AgentTarget, out_dir: Path, agent_dir: Path = Path("."), requirements: Path | None = None
) -> BuildResult:
    """Build `out_dir/source.zip`: main.py, our packages, the agent and one pinned requirements.txt for ours and the
    agent's requirements (Cloud Build installs it). Raises AgentCheckError before writing when the agent does not
    load."""
    platform = TargetPlatform()
    agent_requirements = find_agent_requirements(agent, agent_dir=agent_dir, explicit=requirements)
    dists = resolve_installed(
        [*project_requirements("gcp"), *agent_requirements.requirements], environment=platform.marker_environment()
    )
    pins = pinned_lines(dists)
    code = [*runtime_package_entries(), *agent_entries(agent, search_dir=agent_dir)]
    with tempfile.TemporaryDirectory(prefix="runner-core-build-") as scratch:
        stages = _check_agent(agent, code=code, dists=dists, scratch=Path(scratch))
    entries = [
        *code,
        ArchiveEntry.from_text("main.py", gcp_main_source()),
        ArchiveEntry.from_text("requirements.txt", "\n".join(pins) + "\n"),
    ]
    artifact = out_dir / GCP_ZIP
    zipped = write_reproducible_zip(entries, artifact)
    manifest = _manifest("gcp", agent, platform, DependencySource.NONE, pins, agent_requirements, stages)
    return _finish(artifact, zipped, manifest, out_dir)


def _check_agent(
    agent: AgentTarget, *, code: list[ArchiveEntry], dists: dict[str, metadata.Distribution], scratch: Path
) -> list[str]:
    """Load the agent in a process that sees only what the artifact holds (see deploy.build.preflight)."""
    python_path = [
        stage_code(code, scratch / "check" / "code"),
        link_distributions(dists, scratch / "check" / "site"),
    ]
    empty = scratch / "check" / "cwd"
    empty.mkdir()
    return check_in_artifact(str(agent), python_path=python_path, cwd=empty)


def _installed_runtime_provided(names: frozenset[str]) -> dict[str, metadata.Distribution]:
    """What the Lambda runtime provides (boto3 and its dependencies), as installed here, for the agent check."""
    try:
        return resolve_installed([Requirement(name) for name in sorted(names)], environment={})
    except DependencyError:
        return {}  # not installed here: an agent importing boto3 then fails the check, as it should not be unseen


def gcp_main_source() -> str:
    names = gcp_entrypoints()
    lines = [
        '"""Cloud Functions entry points (generated by `runner-core build gcp`; set `entry_point` to one of these)."""',
        "",
        f"from functions.gcp import {', '.join(names)}",
        "",
        f"__all__ = [{', '.join(json.dumps(n) for n in names)}]",
        "",
    ]
    return "\n".join(lines)


def gcp_entrypoints() -> tuple[str, ...]:
    """The entry points functions.gcp defines, found by parsing it (no import: its deps may be absent here)."""
    spec = importlib.util.find_spec("functions")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("cannot find the functions package")
    root = Path(next(iter(spec.submodule_search_locations)))
    source = root / "gcp.py" if (root / "gcp.py").is_file() else root / "gcp" / "__init__.py"
    if not source.is_file():
        raise BuildError(f"functions.gcp not found under {root}")
    defined = top_level_names(ast.parse(source.read_text(encoding="utf-8")).body)
    missing = _REQUIRED_GCP_ENTRYPOINTS - defined
    if missing:
        raise BuildError(f"functions.gcp does not define {sorted(missing)}")
    return tuple(name for name in GCP_ENTRYPOINTS if name in defined)


def _environment_for(dependencies: DependencySource, platform: TargetPlatform) -> dict[str, str]:
    # Copying local packages: evaluate markers for THIS interpreter, since that is what gets copied.
    return {} if dependencies is DependencySource.SITE_PACKAGES else platform.marker_environment()


def _check_size(entries: Iterable[ArchiveEntry], *, limit: int) -> None:
    report = size_report(ZippedEntry(e.arcname, e.size, 0) for e in entries)
    if report.total_size > limit:
        biggest = ", ".join(f"{p.name} {p.size / 1024 / 1024:.1f} MB" for p in report.largest(5))
        raise PackageTooLargeError(
            f"unzipped size {report.total_size / 1024 / 1024:.1f} MB is over the limit of "
            f"{limit / 1024 / 1024:.1f} MB (Lambda allows 250 MB for code plus layers). "
            f"Largest: {biggest}. Trim the agent's dependencies or deploy as a container image."
        )


def _manifest(
    cloud: str,
    agent: AgentTarget,
    platform: TargetPlatform,
    dependencies: DependencySource,
    pins: list[str],
    agent_requirements: AgentRequirements,
    stages: list[str],
) -> dict[str, object]:
    return {
        "stages": stages,
        "agent_requirements": [str(r) for r in agent_requirements.requirements],
        "agent_requirements_source": agent_requirements.describe(),
        "cloud": cloud,
        "runner_target": str(agent),
        "platform": asdict(platform) if dependencies is not DependencySource.SITE_PACKAGES else "this machine",
        "dependencies": dependencies.value,
        "pins": pins,
    }


def _finish(artifact: Path, zipped: list[ZippedEntry], manifest: dict[str, object], out_dir: Path) -> BuildResult:
    is_context = artifact.name == DOCKERFILE
    digest = tree_digest(artifact.parent) if is_context else sha256_of(artifact)
    report = size_report(zipped)
    manifest = {
        **manifest,
        "artifact": artifact.relative_to(out_dir).as_posix(),
        "sha256": digest,
        "unzipped_bytes": report.total_size,
        "zipped_bytes": None if is_context else artifact.stat().st_size,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return BuildResult(artifact=artifact, sha256=digest, report=report, manifest=manifest)
