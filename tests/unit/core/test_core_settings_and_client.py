from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from encord_emulator.auth import generate_private_key
from runner_core.client import clear_client_cache, get_user_client, load_settings
from runner_core.errors import SettingsError
from runner_core.settings import EncordSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ENCORD_SSH_KEY", "ENCORD_SSH_KEY_FILE", "ENCORD_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    clear_client_cache()
    yield
    clear_client_cache()


@pytest.fixture(scope="module")
def key() -> str:
    return generate_private_key()


def test_key_content_and_domain(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("ENCORD_SSH_KEY", key)
    monkeypatch.setenv("ENCORD_DOMAIN", "http://127.0.0.1:9/")
    settings = EncordSettings()
    assert settings.ssh_key == key
    assert settings.domain == "http://127.0.0.1:9"
    assert key not in repr(settings)


def test_key_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str) -> None:
    path = tmp_path / "key"
    path.write_text(key)
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(path))
    assert EncordSettings().ssh_key == key


def test_missing_key_is_explained() -> None:
    with pytest.raises(SettingsError, match="set ENCORD_SSH_KEY"):
        load_settings()


def test_key_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match="not a file"):
        load_settings()


def test_key_content_must_not_be_a_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("x")
    monkeypatch.setenv("ENCORD_SSH_KEY", str(path))
    with pytest.raises(SettingsError, match="ENCORD_SSH_KEY holds a path"):
        load_settings()


def test_both_set_warns_and_content_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key"
    path.write_text("other key")
    monkeypatch.setenv("ENCORD_SSH_KEY", key)
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(path))
    with caplog.at_level(logging.WARNING, logger="runner_core"):
        settings = load_settings()
    assert settings.ssh_key == key
    assert "both ENCORD_SSH_KEY and ENCORD_SSH_KEY_FILE" in caplog.text
    assert key not in caplog.text


def test_errors_never_contain_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str) -> None:
    monkeypatch.setenv("ENCORD_SSH_KEY", key)
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert key not in str(info.value)
    assert key.splitlines()[1] not in repr(info.value)


def test_one_client_per_key_and_domain_also_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
) -> None:
    path = tmp_path / "key"
    path.write_text(key)
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(path))
    monkeypatch.setenv("ENCORD_DOMAIN", "http://127.0.0.1:9")
    first = get_user_client()
    assert get_user_client() is first  # the key file no longer defeats the cache
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE")
    monkeypatch.setenv("ENCORD_SSH_KEY", key)
    assert get_user_client() is first  # same key content, same domain
    monkeypatch.setenv("ENCORD_DOMAIN", "http://127.0.0.1:10")
    assert get_user_client() is not first
