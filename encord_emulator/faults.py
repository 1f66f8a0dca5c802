"""Injectable latency and failures, decided per request from a seeded random stream."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FaultSettings(BaseModel):
    """What `/_emulator/faults` and `set_faults(...)` accept; rates are probabilities per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_429: float = Field(default=0.0, ge=0.0, le=1.0)
    rate_503: float = Field(default=0.0, ge=0.0, le=1.0)
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    latency_ms: float = Field(default=0.0, ge=0.0, le=60_000)
    latency_jitter_ms: float = Field(default=0.0, ge=0.0, le=60_000)
    retry_after_s: int = Field(default=1, ge=0, le=3600)
    seed: int | None = None
    # Only requests whose path starts with this prefix are affected (None: every API and media route).
    path_prefix: str | None = None


class Fault(StrEnum):
    NONE = "none"
    RATE_LIMIT = "429"
    UNAVAILABLE = "503"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class FaultDecision:
    fault: Fault
    delay_s: float
    retry_after_s: int


_NO_FAULT = FaultDecision(Fault.NONE, 0.0, 0)


class FaultInjector:
    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._random = random.Random()
        self.configure(settings or FaultSettings())

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self._settings = settings
            self._random = random.Random(settings.seed)

    def decide(self, path: str) -> FaultDecision:
        settings = self._settings
        if settings.path_prefix is not None and not path.startswith(settings.path_prefix):
            return _NO_FAULT
        if not (
            settings.rate_429
            or settings.rate_503
            or settings.drop_rate
            or settings.latency_ms
            or settings.latency_jitter_ms
        ):
            return _NO_FAULT
        with self._lock:
            jitter = self._random.uniform(-settings.latency_jitter_ms, settings.latency_jitter_ms)
            roll = self._random.random()
        delay = max(0.0, settings.latency_ms + jitter) / 1000.0
        fault = Fault.NONE
        if roll < settings.drop_rate:
            fault = Fault.DROP
        elif roll < settings.drop_rate + settings.rate_429:
            fault = Fault.RATE_LIMIT
        elif roll < settings.drop_rate + settings.rate_429 + settings.rate_503:
            fault = Fault.UNAVAILABLE
        return FaultDecision(fault, delay, settings.retry_after_s)

    def as_json(self) -> dict[str, Any]:
        return self._settings.model_dump()
