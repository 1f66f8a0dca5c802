"""Where the bytes of a storage item live, per item type, and how to read one frame or the whole asset.

Image groups keep one file per frame in child items; videos, images and video-backed image sequences have one
signed URL. Re-signing goes through the runner's client: `get_storage_item(uuid, sign_url=True)`.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from uuid import UUID

from encord.orm.storage import StorageItemType

from runner_core.media.downloads import download, fetch_bytes
from runner_core.media.errors import (
    AssetTooLargeError,
    FrameNotFoundError,
    NoSingleAssetError,
    UnsupportedItemTypeError,
)
from runner_core.media.frames import RGBImage, decode_image, decode_image_bytes, read_video_frame
from runner_core.media.settings import MediaSettings
from runner_core.media.temp import task_temp_dir

if TYPE_CHECKING:
    from encord.storage import StorageItem
    from encord.user_client import EncordUserClient

# Types whose content is split across child items, so there is no single file to hand out.
COMPOSITE_TYPES = frozenset(
    {StorageItemType.IMAGE_GROUP, StorageItemType.GROUP, StorageItemType.DICOM_SERIES, StorageItemType.SCENE}
)
FRAME_TYPES = frozenset(
    {StorageItemType.IMAGE, StorageItemType.VIDEO, StorageItemType.IMAGE_GROUP, StorageItemType.IMAGE_SEQUENCE}
)


def describe(item: StorageItem) -> str:
    """How errors and logs name an item: type, name and uuid (never its URL)."""
    return f"{item.item_type.value} '{item.name}' ({item.uuid})"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One downloadable file: a signed URL plus how to get a fresh one."""

    url: str
    label: str
    file_name: str  # "<uuid><suffix>": the suffix matters to PyAV and to users' tools
    size: int | None
    resign: Callable[[], str | None]

    @contextmanager
    def downloaded(self, settings: MediaSettings) -> Iterator[Path]:
        """Stream the file into a fresh per-task temp dir (checking the declared size against the cap first).

        The directory and the file are removed when the block exits, also on errors.
        """
        self.check_size(settings)
        with task_temp_dir(settings) as directory:
            path = directory / self.file_name
            download(self.url, path, settings=settings, name=self.label, resign=self.resign)
            yield path

    def check_size(self, settings: MediaSettings) -> None:
        """Refuse a file whose declared size is over the cap before any byte is fetched."""
        if self.size is not None and self.size > settings.download_max_bytes:
            raise AssetTooLargeError(name=self.label, size=self.size, limit=settings.download_max_bytes)

    def fits_in_memory(self, settings: MediaSettings) -> bool:
        """Declared small enough to fetch into memory (an undeclared size goes to disk, where it can be large)."""
        return self.size is not None and self.size <= settings.in_memory_max_bytes


def _resigner(client: EncordUserClient, uuid: UUID) -> Callable[[], str | None]:
    def resign() -> str | None:
        return client.get_storage_item(uuid, sign_url=True).get_signed_url()

    return resign


def suffix_for(mime_type: str) -> str | None:
    """The file suffix for a media type: its subtype when that is a suffix of the same type (`image/jpeg` ->
    `.jpeg`, as encord-agents names downloads), else the standard one (`text/plain` -> `.txt`)."""
    subtype = "." + mime_type.partition("/")[2].partition(";")[0].strip().lower()
    if subtype != "." and mimetypes.guess_type(f"file{subtype}")[0] == mime_type.partition(";")[0].strip().lower():
        return subtype
    return mimetypes.guess_extension(mime_type)


def single_file(item: StorageItem, *, client: EncordUserClient) -> RemoteFile | None:
    """The item's own file, or None for composite items (and image sequences stored only as frames)."""
    if item.item_type in COMPOSITE_TYPES:
        return None
    url = item.get_signed_url()
    if url is None:
        return None
    suffix = suffix_for(item.mime_type) if item.mime_type else None
    file_name = f"{item.uuid}{suffix or PurePosixPath(item.name).suffix}"
    return RemoteFile(
        url=url, label=describe(item), file_name=file_name, size=item.file_size, resign=_resigner(client, item.uuid)
    )


def read_item_frame(item: StorageItem, index: int, *, client: EncordUserClient, settings: MediaSettings) -> RGBImage:
    """Frame `index` of an image, video, image group or image sequence, as RGB `uint8` `(h, w, 3)`.

    Videos are read remotely (seek over Range requests, no download); stills declared small enough are fetched into
    memory and decoded there, others are downloaded to a private temp dir that is gone before this returns.
    """
    if item.item_type not in FRAME_TYPES:
        raise UnsupportedItemTypeError(
            f"frames can be read from image, video, image group and image sequence items, not {describe(item)}"
        )
    if index < 0:
        raise FrameNotFoundError(f"{describe(item)}: frame index must be >= 0, got {index}")
    if item.item_type is StorageItemType.IMAGE_GROUP:
        return _read_child(item, index, client=client, settings=settings)
    remote = single_file(item, client=client)
    if remote is None:
        if item.item_type is StorageItemType.IMAGE_SEQUENCE:
            return _read_child(item, index, client=client, settings=settings)
        raise NoSingleAssetError(f"{describe(item)} has no signed URL")
    if item.item_type is StorageItemType.IMAGE:
        if index != 0:
            raise FrameNotFoundError(f"{describe(item)}: an image has only frame 0, not frame {index}")
        return _download_and_decode(remote, settings=settings)
    return read_video_frame(remote.url, index, settings=settings, name=remote.label, resign=remote.resign)


def _read_child(item: StorageItem, index: int, *, client: EncordUserClient, settings: MediaSettings) -> RGBImage:
    """Frame `index` of an image group (or frame-backed sequence): its child item, listed with signed URLs."""
    children = list(item.get_child_items(get_signed_urls=True))
    if index >= len(children):
        raise FrameNotFoundError(f"{describe(item)}: frame {index} does not exist ({len(children)} frames)")
    child = children[index]
    label = f"{describe(item)} frame {index}"
    url = child.get_signed_url()
    if url is None:
        raise NoSingleAssetError(f"{label} has no signed URL")
    remote = RemoteFile(
        url=url,
        label=label,
        file_name=f"{child.uuid}{PurePosixPath(child.name).suffix}",
        size=child.file_size,
        resign=_resigner(client, child.uuid),
    )
    return _download_and_decode(remote, settings=settings)


def _download_and_decode(remote: RemoteFile, *, settings: MediaSettings) -> RGBImage:
    if remote.fits_in_memory(settings):
        remote.check_size(settings)
        data = fetch_bytes(remote.url, settings=settings, name=remote.label, resign=remote.resign)
        return decode_image_bytes(data, name=remote.label)
    with remote.downloaded(settings) as path:
        return decode_image(path, settings=settings, name=remote.label)
