"""ffprobe's description, normalised; unreadable files become CorruptMediaError."""

import pytest

from smmu.errors import CorruptMediaError
from workers.probe import describe, probe, rotation_of


@pytest.mark.unit
def test_rotation_from_display_matrix_or_tag():
    assert rotation_of({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}) == 90
    assert rotation_of({"side_data_list": [{"rotation": 90}]}) == 270
    assert rotation_of({"tags": {"rotate": "180"}}) == 180
    assert rotation_of({}) == 0


@pytest.mark.unit
def test_describe_applies_rotation_and_pixel_aspect_to_the_display_size():
    info = {
        "format": {
            "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": "2.5",
            "bit_rate": "1000",
            "size": "313",
            "tags": {"major_brand": "isom"},
        },
        "streams": [
            {
                "index": 0,
                "codec_type": "video",
                "codec_name": "h264",
                "width": 1920,
                "height": 1080,
                "avg_frame_rate": "30000/1001",
                "side_data_list": [{"rotation": -90}],
            },
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2, "sample_rate": "48000"},
            {"index": 2, "codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}},
        ],
    }
    media = describe(info)
    assert media["container"] == "mp4"
    assert media["duration_seconds"] == 2.5
    assert (media["video"]["width"], media["video"]["height"], media["video"]["rotation"]) == (1080, 1920, 90)
    assert media["video"]["fps"] == 29.97
    assert media["audio"] == {
        "index": 1,
        "codec": "aac",
        "profile": None,
        "channels": 2,
        "channel_layout": None,
        "sample_rate": 48000,
        "bitrate": None,
        "duration_seconds": None,
    }
    anamorphic = {
        "format": {"duration": "1"},
        "streams": [{"index": 0, "codec_type": "video", "width": 720, "height": 576, "sample_aspect_ratio": "64:45"}],
    }
    assert describe(anamorphic)["video"]["width"] == 1024


@pytest.mark.unit
def test_describe_refuses_files_without_media():
    with pytest.raises(CorruptMediaError, match="no audio or video"):
        describe({"format": {"duration": "1"}, "streams": [{"codec_type": "data"}]})
    with pytest.raises(CorruptMediaError, match="duration"):
        describe({"format": {}, "streams": [{"index": 0, "codec_type": "audio"}]})


@pytest.mark.integration
def test_probe_video_audio_and_rotation(files):
    video = probe(files["video_720"])
    assert video["container"] == "mp4" and video["has_audio"] and video["has_video"]
    assert (video["video"]["width"], video["video"]["height"], video["video"]["fps"]) == (1280, 720, 30.0)
    assert abs(video["duration_seconds"] - 2.0) < 0.1
    assert video["audio"]["codec"] == "aac" and video["audio"]["sample_rate"] == 44100
    rotated = probe(files["rotated"])
    assert rotated["video"]["rotation"] in (90, 270)
    assert (rotated["video"]["width"], rotated["video"]["height"]) == (720, 1280)
    wav = probe(files["tone"])
    assert wav["container"] == "wav" and not wav["has_video"] and wav["audio"]["channels"] == 2


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "reason"),
    [("corrupt", "cannot be read as audio or video"), ("text", "not audio or video")],
)
def test_unreadable_files_are_corrupt_media(files, name, reason):
    with pytest.raises(CorruptMediaError, match=reason) as caught:
        probe(files[name])
    assert str(files[name]) not in str(caught.value)  # no machine paths in a client-facing reason
