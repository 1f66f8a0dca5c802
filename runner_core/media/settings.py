"""Limits and locations for media downloads, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaSettings(BaseSettings):
    """How dependencies fetch media. Defaults suit a 512 MB Lambda with a small, shared /tmp."""

    model_config = SettingsConfigDict(env_prefix="RUNNER_", extra="ignore")

    temp_dir: Path | None = Field(default=None, description="Root for temporary downloads (default: the system temp).")
    download_max_bytes: int = Field(default=2 * 1024**3, gt=0, description="Refuse assets larger than this.")
    download_timeout_s: float = Field(default=30.0, gt=0, description="Connect and per-read timeout.")
    download_retries: int = Field(default=3, ge=0, description="Retries on 429, 5xx and connection resets.")
    max_concurrency: int = Field(default=8, ge=1, description="Tasks of one batch whose dependencies resolve at once.")
