"""runner_core.report.page: shapes drawn in normalised coordinates, failures (and tasks never run) first, escaping."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from runner_core.report import Section, Shape, TaskLabels, TaskRecord, render
from runner_core.report.labels import jpeg_data_uri
from runner_core.report.model import NOT_RUN


def _record(title: str, outcome: str, **labels: object) -> TaskRecord:
    return TaskRecord(
        task_uuid=f"t-{title}",
        data_hash=f"d-{title}",
        title=title,
        data_type="image",
        outcome=outcome,
        labels=TaskLabels(thumbnail="data:image/jpeg;base64,AAAA", **labels),  # type: ignore[arg-type]
    )


def test_every_shape_kind_is_drawn_where_it_was_saved() -> None:
    shapes = (
        Shape("Car", "#ff0000", "box", ((0.1, 0.2), (0.4, 0.6))),
        Shape("Road", "#00ff00", "polygon", ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5))),
        Shape("Lane", "#0000ff", "polyline", ((0.1, 0.9), (0.9, 0.9))),
        Shape("Eye", "#ffff00", "point", ((0.25, 0.75),)),
    )
    page = render([Section("s", "S", [_record("a.png", "moved", shapes=shapes)])], title="t")
    assert re.search(r'<rect class="shape" data-name="Car" x="0.1000" y="0.2000" width="0.3000" height="0.4000"', page)
    assert '<polygon class="shape" data-name="Road" points="0.0000,0.0000 0.5000,0.0000 0.5000,0.5000"' in page
    assert '<polyline class="shape" data-name="Lane" points="0.1000,0.9000 0.9000,0.9000"' in page
    assert '<circle class="shape" data-name="Eye" cx="0.2500" cy="0.7500"' in page
    assert 'viewBox="0 0 1 1" preserveAspectRatio="none"' in page
    assert "Car (box); Road (polygon); Lane (polyline); Eye (point)" in page


def test_failures_and_tasks_never_run_come_first_and_text_is_escaped() -> None:
    records = [
        _record("a.png", "moved"),
        _record("z.png", "failed"),
        _record("m.png", NOT_RUN),
        _record("<b>.png", "held"),
    ]
    records[1].error = "ValueError: <script>alert(1)</script>"
    page = render([Section("aws", "AWS", records)], title="t")
    titles = re.findall(r'data-title="([^"]+)"', page)
    failures = titles[:2]
    assert failures == ["m.png", "z.png"]  # the failures section
    assert titles[2:] == ["m.png", "z.png", "&lt;b&gt;.png", "a.png"]  # then the run, failures first
    assert "<script>" not in page
    assert "ValueError: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<h2 class="bad">Failed tasks (2)</h2>' in page


def test_a_section_without_failures_has_no_failure_list() -> None:
    page = render([Section("gcp", "GCP", [_record("a.png", "moved")])], title="t")
    assert 'id="failures"' not in page
    assert '<td class="ok">ok</td>' in page


def test_thumbnail_is_a_scaled_jpeg_of_the_frame() -> None:
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:, 32:] = (250, 20, 20)  # right half red
    uri = jpeg_data_uri(frame, width=32)
    picture = Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/jpeg;base64,"))))
    assert picture.format == "JPEG"
    assert picture.size == (32, 24)
    left, right = picture.convert("RGB").getpixel((4, 12)), picture.convert("RGB").getpixel((28, 12))
    assert isinstance(left, tuple)
    assert isinstance(right, tuple)
    assert max(left) < 40
    assert right[0] > 200 > right[1]
