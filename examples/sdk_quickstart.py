"""Drive the local Encord emulator with nothing but the `encord` SDK.

Start the emulator, then run this script with its URL and key:

    runner-core emulator serve --seed examples/demo/project.yaml --port 0 --key-out key.pem
    python examples/sdk_quickstart.py http://127.0.0.1:PORT key.pem

It lists the tasks waiting in the `pre-label` agent stage, labels the first image with a classification, proceeds it
along the `annotate` pathway and shows that it arrived in the next stage.
"""

from __future__ import annotations

import sys
from pathlib import Path

from encord.objects import Classification, LabelRowV2, Option
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage

PROJECT_HASH = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"


def main(domain: str, key_file: Path) -> None:
    client = EncordUserClient.create_with_ssh_private_key(ssh_private_key=key_file.read_text(), domain=domain)
    project = client.get_project(PROJECT_HASH)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    tasks = list(stage.get_tasks())
    print(f"{len(tasks)} tasks wait in {stage.title!r}; pathways: {[p.name for p in stage.pathways]}")

    image_task = next(t for t in tasks if t.data_title.endswith(".png"))
    (label_row,) = project.list_label_rows_v2(data_hashes=[image_task.data_hash])
    label_row.initialise_labels()
    _classify(label_row, answer="bright")
    label_row.save()
    image_task.proceed(pathway_name="annotate")

    (after,) = project.list_label_rows_v2(data_hashes=[image_task.data_hash])
    assert after.workflow_graph_node is not None
    print(f"{image_task.data_title} labelled and now in {after.workflow_graph_node.title!r}")


def _classify(label_row: LabelRowV2, *, answer: str) -> None:
    classification = label_row.ontology_structure.get_child_by_title("brightness", type_=Classification)
    instance = classification.create_instance()
    option = classification.get_child_by_title(answer, type_=Option)
    instance.set_answer(option)
    instance.set_for_frames(0)
    label_row.add_classification_instance(instance)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]))
