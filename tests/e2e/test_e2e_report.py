"""The run report for an agent that is not the demo, through the AWS path, opened in a real headless Chromium.

The agent (report_agent.py) draws a box, answers a classification, sets a priority and routes each task; one image is
planted to fail. The page must show that failure first, each task's thumbnail with its box drawn over it, its
labels, route, stages, priority, attempts and outcome: checked on Chromium's DOM and on its screenshot.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from deploy.local.report import path_section
from deploy.local.stack import Stack
from deploy.local.testing import start_path
from runner_core.report import write_report
from tests.e2e import report_agent
from tests.e2e.headless_chromium import chromium_or_skip, render

HERE = Path(__file__).parent
SEED = HERE / "report_seed.yaml"
BOX_BLUE = (0x00, 0xA0, 0xFF)
FAILED_RED = (0xC6, 0x28, 0x28)


@dataclass
class Card:
    attrs: dict[str, str]
    images: list[str] = field(default_factory=list)
    shapes: list[dict[str, str]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class _Cards(HTMLParser):
    """The task cards of the report, in page order, from Chromium's serialised DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[Card] = []
        self._inside = False
        self._th: str | None = None
        self._text: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "article":
            self.cards.append(Card(attrs=values))
            self._inside = True
        elif self._inside and tag == "img":
            self.cards[-1].images.append(values.get("src", ""))
        elif self._inside and "shape" in values.get("class", ""):
            self.cards[-1].shapes.append({"tag": tag, **values})
        elif self._inside and tag in ("th", "td"):
            self._in_cell, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._inside = False
        elif self._inside and tag in ("th", "td") and self._in_cell:
            text = "".join(self._text).strip()
            if tag == "th":
                self._th = text
            elif self._th is not None:
                self.cards[-1].fields[self._th] = text
                self._th = None
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self._text.append(data)


def _rows_with(picture: Image.Image, colour: tuple[int, int, int], *, tolerance: int = 40) -> list[int]:
    rgb = picture.convert("RGB")
    width, height = rgb.size
    pixels = rgb.load()
    assert pixels is not None
    rows = []
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            if abs(r - colour[0]) + abs(g - colour[1]) + abs(b - colour[2]) <= tolerance:
                rows.append(y)
                break
    return rows


@pytest.mark.timeout(180)
def test_report_of_a_test_agent_in_headless_chromium(aws_stack: Stack, tmp_path: Path) -> None:
    chromium_or_skip()  # before the stack work: nothing to check the page with
    run = start_path(
        aws_stack,
        "aws",
        seed=SEED,
        target="report_agent:runner",
        pythonpath=[HERE],
        max_attempts=2,
    )
    before = {task.task_uuid: task.stage for task in run.tasks()}
    run.path.dispatch()

    def settled() -> bool:
        waiting = [task.data_title for task in run.tasks() if task.stage == "triage"]
        # Both attempts' outcome lines too: the function dead-letters a message before it logs the last outcome.
        routed = waiting == [report_agent.PLANTED_FAILURE] and len(run.dead_letters()) >= 1
        return routed and run.summary().failed_attempts >= 2

    run.wait_until(settled, timeout_s=90, what="every task routed and the planted failure dead-lettered")
    section = path_section(
        name="aws",
        encord=run.encord,
        project_hash=run.project_hash,
        log_dir=aws_stack.run_dir / "logs",
        log_prefix=run.path.log_prefix,
        before=before,
        dead_lettered=len(run.dead_letters()),
    )
    page = write_report(tmp_path / "report.html", [section], title="report test")
    rendered = render(page, work_dir=tmp_path)

    parser = _Cards()
    parser.feed(rendered.dom)
    cards = parser.cards
    # The failure is listed at the top (its own section), then again first in its path's cards.
    assert cards[0].attrs["data-title"] == report_agent.PLANTED_FAILURE
    assert cards[0].attrs["class"] == "task failed"
    assert cards[0].fields["outcome"] == "failed"
    assert cards[0].fields["error"] == f"ValueError: {report_agent.PLANTED_ERROR}"
    assert cards[0].fields["stage"] == "triage → triage"
    assert cards[0].fields["attempts"] == "2"
    per_path = [card for card in cards if card.attrs["data-section"] == "aws"][1:]  # [0]: the failures section
    assert per_path[0].attrs["data-title"] == report_agent.PLANTED_FAILURE
    done = [card for card in per_path if card.attrs["data-outcome"] == "moved"]
    assert sorted(card.attrs["data-title"] for card in done) == [
        "clip.mp4", "light-0.png", "light-1.png", "shade-0.png", "shade-1.png"
    ]  # fmt: skip
    for card in done:
        quality = card.fields["labels"].split(";")[0].removeprefix("quality: ")
        assert quality in ("good", "poor"), card.fields
        assert card.fields["pathway"] == report_agent.PATHWAY[quality]
        assert card.fields["stage"] == f"triage → {'Review' if quality == 'good' else 'Archive'}"
        assert card.fields["priority"] == f"{report_agent.PRIORITY[quality]:g}"
        assert card.fields["attempts"] == "1", card
        assert "Region (box)" in card.fields["labels"]
        # The thumbnail is a real JPEG of the data unit, and the box is drawn where the agent put it.
        (src,) = card.images
        thumbnail = Image.open(io.BytesIO(base64.b64decode(src.removeprefix("data:image/jpeg;base64,"))))
        assert thumbnail.format == "JPEG"
        assert thumbnail.width == 240
        (box,) = card.shapes
        x, y, w, h = report_agent.BOX[quality]
        assert (float(box["x"]), float(box["y"]), float(box["width"]), float(box["height"])) == pytest.approx(
            (x, y, w, h), abs=1e-3
        )
    light = [card for card in done if card.attrs["data-title"].startswith("light")]
    shade = [card for card in done if card.attrs["data-title"].startswith("shade")]
    assert all("quality: good" in card.fields["labels"] for card in light)
    assert all("quality: poor" in card.fields["labels"] for card in shade)

    # The screenshot: the failure's red frame is above every drawn box, and the boxes are painted.
    screenshot = Image.open(rendered.screenshot)
    red, blue = _rows_with(screenshot, FAILED_RED), _rows_with(screenshot, BOX_BLUE)
    assert red, "no failure frame painted"
    assert blue, "no box painted"
    assert min(red) < min(blue)
    assert len(blue) >= 20  # box edges across several cards, not a stray pixel
