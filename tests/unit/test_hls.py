"""Captions in the HLS master (smmu.hls) and the storyboard's layout (workers.transcode.plan): pure functions,
checked with a player-side parser (the m3u8 library) where a player would read the result."""

import m3u8
import pytest

from smmu.hls import subtitles_playlist, vtt_for_hls, with_subtitles
from workers.transcode.plan import plan_storyboard, sheet_layout, storyboard_vtt

pytestmark = pytest.mark.unit

MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1500000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
720p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=65000,CODECS="mp4a.40.2"
audio.m3u8
"""


def test_captions_become_a_subtitles_rendition_every_variant_names():
    master = m3u8.loads(with_subtitles(MASTER, uri="subtitles_de.m3u8", language="de"))
    [media] = master.media
    assert (media.type, media.group_id, media.language, media.name, media.uri) == (
        "SUBTITLES",
        "subs",
        "de",
        "German",
        "subtitles_de.m3u8",
    )
    assert (media.autoselect, media.default) == ("YES", "NO")
    assert [p.uri for p in master.playlists] == ["720p.m3u8", "audio.m3u8"]
    assert all(p.stream_info.subtitles == "subs" for p in master.playlists)
    assert master.playlists[0].stream_info.resolution == (1280, 720)


def test_adding_captions_again_replaces_them():
    once = with_subtitles(MASTER, uri="subtitles_en.m3u8", language="en")
    twice = with_subtitles(once, uri="subtitles_fr.m3u8", language="fr")
    master = m3u8.loads(twice)
    assert [m.language for m in master.media] == ["fr"]
    assert twice.count('SUBTITLES="subs"') == 2


def test_unknown_language_is_named_by_its_code_and_none_left_out():
    assert 'NAME="sw",LANGUAGE="sw"' in with_subtitles(MASTER, uri="s.m3u8", language="sw")
    unnamed = m3u8.loads(with_subtitles(MASTER, uri="s.m3u8", language=None)).media[0]
    assert unnamed.language is None and unnamed.name == "Captions"


def test_not_a_playlist_is_refused():
    with pytest.raises(ValueError, match="HLS"):
        with_subtitles("<html>", uri="s.m3u8", language="en")
    with pytest.raises(ValueError, match="WebVTT"):
        vtt_for_hls("1\n00:00:00,000 --> 00:00:01,000\nhi\n", 126000)


def test_subtitles_playlist_has_the_whole_vtt_as_one_segment():
    playlist = m3u8.loads(subtitles_playlist("subtitles_en.vtt", 9.5))
    assert playlist.is_endlist and playlist.playlist_type == "vod" and playlist.target_duration == 10
    assert [(s.uri, s.duration) for s in playlist.segments] == [("subtitles_en.vtt", 9.5)]


def test_vtt_gets_the_timestamp_map_in_its_header_once():
    vtt = "WEBVTT\nLanguage: en\n\n00:00:00.000 --> 00:00:01.000\nHello\n"
    mapped = vtt_for_hls(vtt, 126000)
    assert mapped.split("\n\n")[0] == "WEBVTT\nLanguage: en\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000"
    assert mapped.endswith("00:00:00.000 --> 00:00:01.000\nHello\n")
    assert vtt_for_hls(mapped, 90000).count("X-TIMESTAMP-MAP") == 1


@pytest.mark.parametrize(
    ("duration", "frames", "expected"),
    [
        (3.0, 3, [(480, 90, 3)]),  # one row, only as wide as its frames
        (25.0, 25, [(1600, 270, 25)]),
        (250.0, 150, [(1600, 900, 100), (1600, 450, 50)]),
    ],
)
def test_sheets_hold_the_frames_in_rows(duration, frames, expected):
    plan = plan_storyboard(duration, 1280, 720, tile_width=160, max_frames=200, min_interval=1.0, columns=10, rows=10)
    assert [(s.width, s.height, s.frames) for s in sheet_layout(plan, frames)] == expected


def test_long_videos_get_sparser_frames_and_cues_cover_the_whole_video():
    plan = plan_storyboard(1000.0, 1920, 1080, tile_width=160, max_frames=200, min_interval=1.0, columns=10, rows=10)
    assert plan.interval == 5.0 and (plan.tile_width, plan.tile_height) == (160, 90)
    sheets = sheet_layout(plan, 200)
    text = storyboard_vtt(plan, sheets, 1000.0)
    cues = [block.split("\n") for block in text.split("\n\n")[1:] if block]
    assert len(cues) == 200
    assert cues[0] == ["00:00:00.000 --> 00:00:05.000", "storyboard_01.jpg#xywh=0,0,160,90"]
    assert cues[99][1] == "storyboard_01.jpg#xywh=1440,810,160,90"
    assert cues[100][1] == "storyboard_02.jpg#xywh=0,0,160,90"
    assert cues[-1][0] == "00:16:35.000 --> 00:16:40.000"
