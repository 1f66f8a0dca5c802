"""`runner-core local up|status` tables at 80 columns: URLs whole, never cut with an ellipsis."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from deploy.local import cli


def test_components_table_keeps_urls_whole_at_80_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    logs = tmp_path / ".runner-core" / "runs" / "20261130T000000Z-abcdef" / "logs"
    components: list[dict[str, str | int | None]] = [
        {"name": "encord-emulator", "pid": 4242, "url": "http://127.0.0.1:41234", "log": str(logs / "a.log")},
        {"name": "sqs-event-source-mapping", "pid": 4243, "url": None, "log": str(logs / "b.log")},
        {
            "name": "functions-framework-consume",
            "pid": 4244,
            "url": "http://127.0.0.1:40001",
            "log": str(logs / "c.log"),
        },
    ]
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(cli, "console", console)
    monkeypatch.setattr(cli, "_component_state", lambda component: "running")
    cli._print_components({"run_dir": str(logs.parent), "components": components})
    *table, run_line = console.export_text().strip().splitlines()
    text = "\n".join(table)
    assert "…" not in text
    assert max(len(line) for line in table) <= 80
    for component in components:
        assert str(component["name"]) in text
        if component["url"]:
            assert str(component["url"]) in text
    # The paths to copy are whole on one line (the terminal may wrap it; we do not cut it).
    assert run_line == f"run: {logs.parent}; logs: {logs}/<component>.log"
