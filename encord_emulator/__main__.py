"""`python -m encord_emulator serve ...` (same as `runner-core emulator serve ...`)."""

from __future__ import annotations

from encord_emulator.cli import app

app(prog_name="encord_emulator")
