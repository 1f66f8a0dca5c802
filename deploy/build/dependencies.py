"""Runtime dependencies: which distributions, at which versions, and their files.

The single source of truth is pyproject.toml (base dependencies plus the cloud's extra). Versions are
pinned to what is installed in the build environment, so the artifact runs what the tests ran.
"""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.build.archive import ArchiveEntry
from deploy.build.errors import DependencyError
from deploy.build.sources import is_excluded, tree_entries

_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# Already in the AWS Lambda Python runtime. Bundling boto3 adds ~25 MB unzipped for no gain at our usage
# (SQS send, Secrets Manager get); pass `--bundle-boto3` to pin your own SDK version instead.
LAMBDA_RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# Never bundled: the runtime's own copy holds the hook registry it runs at a SnapStart snapshot and restore.
LAMBDA_RUNTIME_HOOKS = frozenset({"snapshot-restore-py"})


@dataclass(frozen=True, slots=True)
class TargetPlatform:
    """The interpreter the artifact runs on: used for wheel tags and for evaluating dependency markers."""

    python_version: str = "3.12"
    architecture: str = "x86_64"  # or aarch64

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        # manylinux2014 is the classic Lambda tag, but recent numpy/av publish manylinux_2_28 wheels only; the
        # Python 3.12 runtime (Amazon Linux 2023, glibc 2.34) runs all three. pip does not expand these tags
        # to older glibc versions by itself, hence the explicit list.
        return tuple(f"{tag}_{self.architecture}" for tag in ("manylinux2014", "manylinux_2_28", "manylinux_2_34"))

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": self.python_version,
            "python_full_version": f"{self.python_version}.0",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": self.architecture,
            "os_name": "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }


def project_requirements(extra: str) -> list[Requirement]:
    """Base dependencies plus those of `extra` ("aws" or "gcp"), read from pyproject.toml."""
    if _PYPROJECT.is_file():
        project = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8"))["project"]
        lines = [*project["dependencies"], *project.get("optional-dependencies", {}).get(extra, [])]
        return [Requirement(line) for line in lines]
    try:  # installed as a wheel: the same information lives in the metadata
        declared = metadata.requires("runner-core") or []
    except metadata.PackageNotFoundError as exc:
        raise DependencyError("neither pyproject.toml nor runner-core metadata found") from exc
    out: list[Requirement] = []
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
            requirement.marker = None
            out.append(requirement)
    return out


def _applies(marker: Marker | None, environment: Mapping[str, str], extras: frozenset[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def resolve_installed(
    requirements: list[Requirement], *, environment: Mapping[str, str], exclude: frozenset[str] = frozenset()
) -> dict[str, metadata.Distribution]:
    """The transitive closure of `requirements` over the installed distributions (canonical name -> dist).

    Markers are evaluated for the target `environment`, so a Python 3.12 Linux target gets exactly the
    dependencies it needs. A requirement that applies but is not installed is an error: pins must be known.
    """
    found: dict[str, metadata.Distribution] = {}
    pending = [(r, frozenset(r.extras)) for r in requirements if _applies(r.marker, environment, frozenset())]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in exclude or name in found:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError as exc:
            raise DependencyError(f"{requirement.name} is required but not installed in this environment") from exc
        if requirement.specifier and not requirement.specifier.contains(dist.version, prereleases=True):
            raise DependencyError(
                f"{requirement} is required but this environment has {dist.metadata['Name']} {dist.version}; "
                "install the requirements here first, so the artifact pins the versions you tested"
            )
        found[name] = dist
        for line in dist.requires or []:
            child = Requirement(line)
            if _applies(child.marker, environment, extras):
                pending.append((child, frozenset(child.extras)))
    return found


def pinned_lines(dists: Mapping[str, metadata.Distribution]) -> list[str]:
    return [f"{name}=={dists[name].version}" for name in sorted(dists)]


def site_packages_entries(dists: Mapping[str, metadata.Distribution]) -> Iterator[ArchiveEntry]:
    """Files of installed distributions (for local testing: they match THIS machine's platform)."""
    for name in sorted(dists):
        dist = dists[name]
        for file in dist.files or []:
            arcname = PurePosixPath(file).as_posix()
            if arcname.startswith("../") or is_excluded(arcname):  # console scripts live outside site-packages
                continue
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                yield ArchiveEntry.from_file(arcname, path)


def download_wheels(
    *, pins: list[str], platform: TargetPlatform, dest: Path, wheelhouse: Path | None = None
) -> list[Path]:
    """`pip download` exactly the pinned versions as binary wheels for the target platform.

    With `wheelhouse`, pip resolves from that folder only (`--no-index`): an offline build.
    """
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--dest", str(dest), *(f"--platform={tag}" for tag in platform.pip_platforms),
            "--python-version", platform.python_version, "--implementation", "cp",
            "--only-binary=:all:", "--no-deps", "-r", str(requirements),
        ]  # fmt: skip
        if wheelhouse is not None:
            command += ["--no-index", "--find-links", str(wheelhouse)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise DependencyError(f"pip download failed:\n{completed.stderr.strip()[-2000:]}")
    return sorted(dest.glob("*.whl"))


def unpack_wheels(wheels: list[Path], *, staging: Path) -> list[ArchiveEntry]:
    """Install-by-unzip: wheel contents go to the root; `.data/purelib|platlib` are merged, scripts dropped."""
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                parts = PurePosixPath(member.filename).parts
                if parts[0].endswith(".data"):
                    if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                        continue
                    parts = parts[2:]
                target = staging.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
                if (member.external_attr >> 16) & 0o111:
                    target.chmod(0o755)
    entries: list[ArchiveEntry] = []
    for top in sorted(staging.iterdir()):
        if top.is_file():
            if not is_excluded(top.name):
                entries.append(ArchiveEntry.from_file(top.name, top))
        else:
            entries.extend(tree_entries(top, prefix=top.name))
    return entries
