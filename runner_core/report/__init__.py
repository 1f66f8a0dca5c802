"""A run report for any agent: per task its data unit and frame with the labels saved, route, outcome and error.

`read_labels` reads what was saved through the SDK; `write_report` renders sections of `TaskRecord`s as one
self-contained HTML page. The local stack (`runner-core local demo` / `local report`) and `SequentialRunner`
(`--report`) fill the records from what each knows about the run.
"""

from runner_core.report.labels import read_labels
from runner_core.report.model import Section, Shape, TaskLabels, TaskRecord
from runner_core.report.page import render, write_report

__all__ = ["Section", "Shape", "TaskLabels", "TaskRecord", "read_labels", "render", "write_report"]
