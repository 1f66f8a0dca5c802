"""The request log: every API and media request with its route, status and timing, plus per-route counters."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

RequestKind = Literal["api", "media"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    kind: RequestKind
    method: str
    path: str  # without the query string
    route: str  # e.g. "GET /v2/public/projects/{project_hash}" or "POST /public labelrow.PUT"
    status: int
    duration_ms: float
    at: float
    fault: str | None = None


class RequestLog:
    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RequestRecord] = deque(maxlen=max_entries)
        self._counters: Counter[str] = Counter()
        self._paths: Counter[str] = Counter()
        self._total: Counter[RequestKind] = Counter()

    def record(self, record: RequestRecord) -> None:
        with self._lock:
            self._entries.append(record)
            self._counters[record.route] += 1
            self._paths[record.path] += 1
            self._total[record.kind] += 1

    def count(self, prefix: str | None = None) -> int:
        """API requests (media excluded). A prefix starting with "/" matches request paths (media included,
        e.g. "/files"); any other prefix matches route names (e.g. "POST /public labelrow")."""
        with self._lock:
            if prefix is None:
                return self._total["api"]
            counter = self._paths if prefix.startswith("/") else self._counters
            return sum(count for key, count in counter.items() if key.startswith(prefix))

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def snapshot(self, *, limit: int = 1000) -> dict[str, Any]:
        with self._lock:
            entries = list(self._entries)[-limit:] if limit > 0 else []
            return {
                "total": dict(self._total),
                "counters": dict(self._counters),
                "entries": [asdict(entry) for entry in entries],
                "now": time.time(),
            }

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counters.clear()
            self._paths.clear()
            self._total.clear()
