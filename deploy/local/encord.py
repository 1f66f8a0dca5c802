"""Talking to the Encord emulator from the stack: its `/_emulator/` control routes and the real SDK for labels."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task as the emulator's state dump shows it."""

    task_uuid: str
    data_hash: str
    data_title: str
    data_type: str
    stage: str
    labels_saved: bool
    priority: float | None = None


class EmulatorControl:
    """The emulator's observability and fault routes (`/_emulator/state`, `/requests`, `/faults`, `/reset`)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # loopback only: never through a proxy

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        response = self._session.request(method, f"{self.url}/_emulator/{route}", json=payload, timeout=self._timeout_s)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "state"))

    def tasks(self, project_hash: str) -> list[TaskView]:
        for project in self.state()["projects"]:
            if project["project_hash"] == project_hash:
                return [
                    TaskView(
                        task_uuid=task["task_uuid"],
                        data_hash=task["data_hash"],
                        data_title=task["data_title"],
                        data_type=task["data_type"],
                        stage=task["stage"],
                        labels_saved=bool(task["labels_saved"]),
                        priority=task.get("priority"),
                    )
                    for task in project["tasks"]
                ]
        raise KeyError(f"the emulator has no project {project_hash}")

    def stages(self, project_hash: str) -> dict[str, dict[str, Any]]:
        """Stage uuid -> its dump entry (`title`, `type` such as "AGENT", `pathways`)."""
        for project in self.state()["projects"]:
            if project["project_hash"] == project_hash:
                return {str(stage["uuid"]): dict(stage) for stage in project["stages"]}
        raise KeyError(f"the emulator has no project {project_hash}")

    def agent_stage_titles(self, project_hash: str) -> set[str]:
        return {str(stage["title"]) for stage in self.stages(project_hash).values() if stage["type"] == "AGENT"}

    def stage_counts(self, project_hash: str) -> Counter[str]:
        return Counter(task.stage for task in self.tasks(project_hash))

    def api_requests(self) -> int:
        snapshot = self._call("GET", "requests?limit=0")
        return int(snapshot["total"].get("api", 0))

    def faults_served(self) -> Counter[str]:
        """How many of the logged requests got an injected fault, by kind ("429", "503", "drop")."""
        entries = self._call("GET", "requests?limit=100000")["entries"]
        return Counter(str(entry["fault"]) for entry in entries if entry.get("fault"))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """e.g. `set_faults(rate_429=0.1, rate_503=0.1, latency_ms=20, latency_jitter_ms=200, seed=7)`."""
        return dict(self._call("PUT", "faults", settings))

    def reset(self, *, state: bool = True, requests: bool = True, faults: bool = True) -> None:
        self._call("POST", "reset", {"state": state, "requests": requests, "faults": faults})


def sdk_client(*, url: str, key_file: Path) -> EncordUserClient:
    """The real SDK's client for the emulator at `url`, signing with `key_file`."""
    from encord.user_client import EncordUserClient

    return EncordUserClient.create_with_ssh_private_key(ssh_private_key=key_file.read_text(), domain=url)


def classification_answers(*, url: str, key_file: Path, project_hash: str, title: str) -> dict[str, list[str]]:
    """data_hash -> the answers of classification `title` on each label row, read through the real SDK."""
    from encord.objects.classification import Classification

    client = sdk_client(url=url, key_file=key_file)
    project = client.get_project(project_hash)
    rows = project.list_label_rows_v2()
    with project.create_bundle() as bundle:
        for row in rows:
            row.initialise_labels(bundle=bundle)
    classification = project.ontology_structure.get_child_by_title(title, type_=Classification)
    answers: dict[str, list[str]] = {}
    for row in rows:
        instances = row.get_classification_instances(filter_ontology_classification=classification)
        answers[str(row.data_hash)] = [_answer_title(instance.get_answer()) for instance in instances]
    return answers


def _answer_title(answer: Any) -> str:
    return str(getattr(answer, "title", answer))
