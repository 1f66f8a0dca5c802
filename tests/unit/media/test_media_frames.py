"""Single frames with PyAV: stills, local videos and remote videos read over HTTP Range requests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from runner_core.media.errors import AssetRejectedError, FrameNotFoundError, MediaDecodeError
from runner_core.media.frames import decode_image, decode_image_bytes, read_video_frame
from runner_core.media.settings import MediaSettings
from tests.unit.media.media_testkit import (
    Fault,
    FileServer,
    MediaFiles,
    decode_all,
    pattern_frame,
)


def test_png_decodes_to_exact_rgb(media_files: MediaFiles, settings: MediaSettings) -> None:
    image = decode_image(media_files.png, settings=settings, name="png")
    assert image.dtype == np.uint8
    assert image.shape == (48, 64, 3)
    assert np.array_equal(image, pattern_frame(3, 64, 48))


def test_jpeg_decodes_exactly_as_libjpeg_turbo(media_files: MediaFiles, settings: MediaSettings) -> None:
    """The same pixels as libjpeg-turbo (Pillow here, OpenCV in encord-agents: tests/peer compares the two)."""
    image = decode_image(media_files.jpeg, settings=settings, name="jpeg")
    reference = np.asarray(Image.open(media_files.jpeg).convert("RGB"))
    assert image.shape == reference.shape == (48, 64, 3)
    assert np.array_equal(image, reference)


def test_corrupt_jpeg_is_a_decode_error(tmp_path: pytest.TempPathFactory, settings: MediaSettings) -> None:
    path = tmp_path / "broken.jpg"  # type: ignore[operator]
    path.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(MediaDecodeError, match="broken"):
        decode_image(path, settings=settings, name="broken")


def test_grayscale_png_becomes_three_channels(tmp_path: pytest.TempPathFactory, settings: MediaSettings) -> None:
    path = tmp_path / "gray.png"  # type: ignore[operator]
    Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64).astype(np.uint8)).save(path)
    image = decode_image(path, settings=settings, name="gray")
    assert image.shape == (48, 64, 3)
    assert np.array_equal(image[..., 0], image[..., 2])


def test_not_an_image_is_a_decode_error(tmp_path: pytest.TempPathFactory, settings: MediaSettings) -> None:
    path = tmp_path / "junk.png"  # type: ignore[operator]
    path.write_bytes(b"not a picture at all")
    with pytest.raises(MediaDecodeError, match="junk"):
        decode_image(path, settings=settings, name="junk")


def test_tiff_from_memory_goes_through_the_demuxer(tmp_path: pytest.TempPathFactory) -> None:
    """No codec is guessed from TIFF's magic bytes: the in-memory demuxer path decodes it, pixel for pixel."""
    pixels = pattern_frame(5, 64, 48)
    path = tmp_path / "frame.tiff"  # type: ignore[operator]
    Image.fromarray(pixels).save(path, format="TIFF")
    assert np.array_equal(decode_image_bytes(path.read_bytes(), name="tiff"), pixels)
    with pytest.raises(MediaDecodeError, match="junk"):
        decode_image_bytes(b"II*\x00 not really a tiff", name="junk")


@pytest.mark.parametrize("index", [0, 1, 14, 15, 16, 44, 59, 89])
def test_local_frame_k_equals_decoding_up_to_k(media_files: MediaFiles, settings: MediaSettings, index: int) -> None:
    truth = decode_all(media_files.video)
    frame = read_video_frame(media_files.video, index, settings=settings, name="clip")
    assert frame.dtype == np.uint8
    assert frame.shape == (96, 128, 3)
    assert np.array_equal(frame, truth[index])


def test_frame_past_the_end(media_files: MediaFiles, settings: MediaSettings) -> None:
    with pytest.raises(FrameNotFoundError, match=r"frame 90 is past the end of the video \(90 frames\)"):
        read_video_frame(media_files.video, 90, settings=settings, name="clip")


def test_remote_frame_k_seeks_over_range_requests(
    media_files: MediaFiles, settings: MediaSettings, server: FileServer
) -> None:
    data = media_files.long_video.read_bytes()
    truth = decode_all(media_files.long_video)
    url = server.add("/long.mp4", data)
    frame = read_video_frame(url, 250, settings=settings, name="long")
    sent, ranges = server.bytes_sent, [header for _, header, _ in server.requests]
    assert np.array_equal(frame, truth[250])
    assert all(header is not None and header.startswith("bytes=") for header in ranges)
    # header, index and one keyframe span of 64 KiB blocks, not the file (bench/media.py measures a 32 MB one)
    assert sent < 0.35 * len(data), (sent, len(data))


def test_remote_frame_without_range_support_falls_back_to_a_download(
    media_files: MediaFiles, settings: MediaSettings, server: FileServer
) -> None:
    truth = decode_all(media_files.video)
    url = server.add("/clip.mp4", media_files.video.read_bytes(), ignore_range=True)
    frame = read_video_frame(url, 33, settings=settings, name="clip")
    assert np.array_equal(frame, truth[33])
    assert list(settings.temp_root().iterdir()) == []


def test_remote_reads_survive_a_reset_mid_video(
    media_files: MediaFiles, settings: MediaSettings, server: FileServer
) -> None:
    truth = decode_all(media_files.long_video)
    # the first request (the header) succeeds; the next one breaks off mid-body and is retried
    url = server.add("/long.mp4", media_files.long_video.read_bytes(), faults=[Fault(), Fault(reset_after=1000)])
    frame = read_video_frame(url, 200, settings=settings, name="long")
    assert np.array_equal(frame, truth[200])


def test_remote_video_is_re_signed_once(media_files: MediaFiles, settings: MediaSettings, server: FileServer) -> None:
    truth = decode_all(media_files.video)
    url = server.add("/clip.mp4", media_files.video.read_bytes(), valid_tokens={"new"})
    frame = read_video_frame(url + "?sig=old", 20, settings=settings, name="clip", resign=lambda: url + "?sig=new")
    assert np.array_equal(frame, truth[20])
    with pytest.raises(AssetRejectedError, match="even after re-signing"):
        read_video_frame(url + "?sig=old", 20, settings=settings, name="clip", resign=lambda: url + "?sig=bad")


def test_remote_video_retries_a_503(media_files: MediaFiles, settings: MediaSettings, server: FileServer) -> None:
    truth = decode_all(media_files.video)
    url = server.add("/clip.mp4", media_files.video.read_bytes(), faults=[Fault(status=503)])
    frame = read_video_frame(url, 5, settings=settings, name="clip")
    assert np.array_equal(frame, truth[5])
    assert server.requests[0][2] == 503
