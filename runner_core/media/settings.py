"""Limits and locations for media downloads, read from the environment."""

from __future__ import annotations

import tempfile
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
    download_backoff_s: float = Field(
        default=0.25, ge=0, description="First retry delay; doubles per attempt (with jitter), capped at 8 s."
    )
    range_request_bytes: int = Field(
        default=1024**2,
        ge=64 * 1024,
        description="First HTTP Range request size when a video is read remotely (grows on sequential reads).",
    )
    # A batch of small images is fetched all at once (a 50-task batch in one round of latency); big files are
    # bounded separately below, so raising this does not put many videos on disk or in flight at once.
    max_concurrency: int = Field(default=64, ge=1, description="Tasks of one batch whose dependencies resolve at once.")
    max_large_downloads: int = Field(
        default=4,
        ge=1,
        description="Downloads to disk running at once in a process; also the task concurrency of a batch whose "
        "agent keeps whole files (dep_asset, dep_video_iterator, dep_video_sampler), so /tmp holds at most this many.",
    )
    in_memory_max_bytes: int = Field(
        default=16 * 1024**2,
        ge=0,
        description="Stills up to this size (declared) are fetched into memory and decoded there, not via a file.",
    )

    def temp_root(self) -> Path:
        """The directory temporary downloads live under (created on demand)."""
        root = self.temp_dir if self.temp_dir is not None else Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        return root
