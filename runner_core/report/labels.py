"""Read back what an agent saved, through the real SDK: classifications, object shapes, and a thumbnail to draw on.

The same reader serves a run on the local stack (against the emulator) and a SequentialRunner run against Encord.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from runner_core.report.model import Shape, ShapeKind, TaskLabels

if TYPE_CHECKING:
    from encord.objects.ontology_labels_impl import LabelRowV2
    from encord.user_client import EncordUserClient

logger = logging.getLogger("runner_core")

THUMBNAIL_WIDTH = 240


def read_labels(
    client: EncordUserClient, project_hash: str, data_hashes: Iterable[str], *, thumbnails: bool = True
) -> dict[str, TaskLabels]:
    """data_hash -> the labels saved on it (and a JPEG thumbnail of the frame they are on, else of frame 0)."""
    wanted = sorted(set(data_hashes))
    if not wanted:
        return {}
    project = client.get_project(project_hash)
    rows = project.list_label_rows_v2(data_hashes=wanted)
    with project.create_bundle() as bundle:
        for row in rows:
            row.initialise_labels(bundle=bundle)
    found: dict[str, TaskLabels] = {}
    for row in rows:
        classifications = tuple(_classifications(row))
        shapes, frame = _shapes(row)
        thumbnail, note = _thumbnail(client, row, frame) if thumbnails else (None, "thumbnails off")
        node = row.workflow_graph_node
        found[str(row.data_hash)] = TaskLabels(
            classifications=classifications,
            shapes=shapes,
            frame=frame,
            thumbnail=thumbnail,
            note=note,
            data_type=str(getattr(row.data_type, "value", row.data_type)).lower(),
            stage=node.title if node is not None else None,
            priority=row.priority,
        )
    return found


def _classifications(row: LabelRowV2) -> Iterable[str]:
    for instance in row.get_classification_instances():
        answer = instance.get_answer()
        values = answer if isinstance(answer, list) else [answer]
        text = ", ".join(str(getattr(value, "title", value)) for value in values if value is not None)
        yield f"{instance.ontology_item.title}: {text or '-'}"


def _shapes(row: LabelRowV2) -> tuple[tuple[Shape, ...], int]:
    """The object shapes of the first frame holding any (what a labeller would look at first), and that frame."""
    by_frame: dict[int, list[Shape]] = {}
    for instance in row.get_object_instances():
        item = instance.ontology_item
        for annotation in instance.get_annotations():
            shape = _shape(item.title, str(getattr(item, "color", "") or "#e53935"), annotation.coordinates)
            if shape is not None:
                by_frame.setdefault(annotation.frame, []).append(shape)
    if not by_frame:
        return (), 0
    frame = min(by_frame)
    return tuple(by_frame[frame]), frame


def _shape(name: str, color: str, coordinates: Any) -> Shape | None:
    from encord.objects.coordinates import (
        BoundingBoxCoordinates,
        PointCoordinate,
        PolygonCoordinates,
        PolylineCoordinates,
        RotatableBoundingBoxCoordinates,
    )

    kind: ShapeKind
    points: tuple[tuple[float, float], ...]
    if isinstance(coordinates, BoundingBoxCoordinates | RotatableBoundingBoxCoordinates):
        x, y, w, h = coordinates.top_left_x, coordinates.top_left_y, coordinates.width, coordinates.height
        kind, points = "box", ((x, y), (x + w, y + h))
    elif isinstance(coordinates, PolygonCoordinates):
        kind, points = "polygon", tuple((p.x, p.y) for p in coordinates.values)
    elif isinstance(coordinates, PolylineCoordinates):
        kind, points = "polyline", tuple((p.x, p.y) for p in coordinates.values)
    elif isinstance(coordinates, PointCoordinate):
        kind, points = "point", ((coordinates.x, coordinates.y),)
    else:
        return None  # bitmasks, skeletons...: listed by name in the labels, not drawn
    return Shape(name=name, color=color, kind=kind, points=points)


def _thumbnail(client: EncordUserClient, row: LabelRowV2, frame: int) -> tuple[str | None, str | None]:
    from runner_core.errors import RunnerCoreError
    from runner_core.media.settings import MediaSettings
    from runner_core.media.sources import read_item_frame

    if row.backing_item_uuid is None:
        return None, "no storage item"
    try:
        item = client.get_storage_item(row.backing_item_uuid, sign_url=True)
        picture = read_item_frame(item, frame, client=client, settings=MediaSettings())
    except (RunnerCoreError, OSError, ValueError) as exc:
        logger.info("report: no thumbnail for %s: %s", row.data_title, exc)
        return None, f"no thumbnail: {type(exc).__name__}"
    return jpeg_data_uri(picture), None


def jpeg_data_uri(picture: NDArray[np.uint8], *, width: int = THUMBNAIL_WIDTH) -> str:
    """An RGB frame scaled to `width` (aspect kept, even sizes) as a `data:image/jpeg;base64,...` URI.

    Encoded with PyAV's MJPEG encoder: PyAV is already how runner-core decodes media, so no imaging library is added.
    """
    import av

    height, source_width = picture.shape[:2]
    scaled_h = max(2, round(height * width / source_width) // 2 * 2)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture[..., :3]), format="rgb24")
    frame = frame.reformat(width=width, height=scaled_h, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, scaled_h, "yuvj420p"
    codec.options = {"qscale": "5"}
    packets = [*codec.encode(frame), *codec.encode(None)]
    return "data:image/jpeg;base64," + base64.b64encode(b"".join(bytes(p) for p in packets)).decode("ascii")
