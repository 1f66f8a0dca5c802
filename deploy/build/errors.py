"""The build's exception hierarchy: every failure a user can fix has its own type and a message saying how."""

from __future__ import annotations


class BuildError(Exception):
    """Base class: the artifact could not be built."""


class AgentNotFoundError(BuildError):
    """The `--target package.module:attr` runner does not point at importable source."""


class DependencyError(BuildError):
    """Runtime dependencies could not be resolved, downloaded or copied."""


class PackageTooLargeError(BuildError):
    """The unzipped artifact is over the platform limit (Lambda: 250 MB including layers)."""


class AgentCheckError(BuildError):
    """Loading the agent as the function will (imports, signature analysis) failed; the message is the function's."""
