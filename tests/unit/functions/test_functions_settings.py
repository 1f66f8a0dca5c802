"""FunctionSettings: the functions layer's environment, parsed once, errors naming the variable."""

from __future__ import annotations

import pytest

from functions.errors import ConfigurationError
from functions.settings import function_settings


@pytest.mark.parametrize(("raw", "expected"), [("", 5), ("3", 3)])
def test_max_attempts(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    monkeypatch.setenv("RUNNER_MAX_ATTEMPTS", raw)
    assert function_settings().max_attempts == expected


@pytest.mark.parametrize("raw", ["0", "five"])
def test_max_attempts_rejects_nonsense(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("RUNNER_MAX_ATTEMPTS", raw)
    with pytest.raises(ConfigurationError, match="RUNNER_MAX_ATTEMPTS"):
        function_settings()


def test_a_wrong_secret_is_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", "s3cr3t-value")
    monkeypatch.setenv("RUNNER_TASKS_PER_MESSAGE", "many")
    with pytest.raises(ConfigurationError, match="RUNNER_TASKS_PER_MESSAGE='many'") as caught:
        function_settings()
    assert "s3cr3t-value" not in str(caught.value)
    monkeypatch.delenv("RUNNER_TASKS_PER_MESSAGE")
    settings = function_settings()
    assert settings.webhook_secret is not None
    assert "s3cr3t-value" not in repr(settings)


def test_blank_variables_are_unset_and_urls_are_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_DEADLINE_MARGIN_S", "")
    monkeypatch.setenv("RUNNER_DLQ_URL", "  http://q/dlq  ")
    settings = function_settings()
    assert settings.deadline_margin_s == 10.0
    assert settings.dlq_url == "http://q/dlq"


def test_one_configuration_error_hierarchy() -> None:
    from runner_core.errors import ConfigurationError as CoreConfigurationError
    from runner_core.errors import RunnerCoreError, SettingsError

    assert issubclass(ConfigurationError, CoreConfigurationError)
    assert issubclass(ConfigurationError, RunnerCoreError)
    with pytest.raises(CoreConfigurationError):
        raise SettingsError("no key")
    with pytest.raises(CoreConfigurationError):
        raise ConfigurationError("RUNNER_TOPIC is not set")
