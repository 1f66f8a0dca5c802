"""Open a page in a real headless Chromium (Debian's `chromium`): its DOM after load and a PNG screenshot.

`make test` installs the package when missing; a test skips only when the binary is absent, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


@dataclass(frozen=True, slots=True)
class Rendered:
    dom: str
    screenshot: Path


def chromium_or_skip() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("the chromium binary is absent (Debian package `chromium`; `make test` installs it)")
    return found


def render(page: Path, *, work_dir: Path, width: int = 1280, height: int = 2400) -> Rendered:
    """Load `page` twice in fresh profiles: once for `--dump-dom`, once for `--screenshot`."""
    binary = chromium_or_skip()
    url = page.resolve().as_uri()
    shot = work_dir / "screenshot.png"

    def run(name: str, *extra: str) -> str:
        profile = work_dir / f"profile-{name}"
        done = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra, url],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    dom = run("dom", "--dump-dom")
    run("shot", f"--screenshot={shot}")
    assert shot.is_file(), "chromium wrote no screenshot"
    return Rendered(dom=dom, screenshot=shot)
