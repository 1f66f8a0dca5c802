"""The emulator's exception hierarchy.

`ApiError` subclasses carry what each API generation needs to answer the way Encord does:
a v2 HTTP status with `{"message": ...}`, or the legacy HTTP 200 envelope with an error code.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every error the emulator raises."""


class SeedError(EmulatorError):
    """The seed file does not describe a valid emulator state."""


class MediaError(EmulatorError):
    """Media could not be generated or read."""


class ApiError(EmulatorError):
    """An error answered to a client: HTTP status (v2) and legacy envelope code."""

    status: int = 400
    legacy_code: str = "INVALID_ARGUMENTS_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArguments(ApiError):
    status = 400
    legacy_code = "INVALID_ARGUMENTS_ERROR"


class AuthenticationFailed(ApiError):
    status = 401
    legacy_code = "AUTHENTICATION_ERROR"


class NotAuthorised(ApiError):
    status = 403
    legacy_code = "AUTHORISATION_ERROR"


class NotFound(ApiError):
    status = 404
    legacy_code = "RESOURCE_NOT_FOUND_ERROR"
