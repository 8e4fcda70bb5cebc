"""What the transcoder plans to make: pure functions."""

import pytest

from workers.transcode.plan import (
    Variant,
    VariantStats,
    codecs_string,
    even,
    fit_width,
    master_playlist,
    plan_ladder,
    still_times,
    variant_stats,
)

pytestmark = pytest.mark.unit


def sizes(renditions):
    return [(r.label, r.width, r.height) for r in renditions]


def test_full_hd_gets_every_rung():
    assert sizes(plan_ladder(1920, 1080)) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]


def test_never_upscales_past_the_source():
    assert [r.label for r in plan_ladder(1280, 720)] == ["720p", "480p", "360p"]
    assert [r.label for r in plan_ladder(1000, 700)] == ["480p", "360p"]


def test_portrait_rungs_are_the_short_side():
    assert sizes(plan_ladder(1080, 1920)) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]


def test_a_source_smaller_than_every_rung_keeps_its_size_made_even():
    assert sizes(plan_ladder(321, 241)) == [("241p", 320, 240)]
    [small] = plan_ladder(176, 144)
    assert (small.width, small.height) == (176, 144)
    assert 150_000 <= small.video_bitrate < 800_000


def test_odd_sources_give_even_dimensions_with_the_same_aspect():
    for width, height in [(641, 361), (1919, 1081), (853, 481), (719, 1279)]:
        for r in plan_ladder(width, height):
            assert r.width % 2 == 0 and r.height % 2 == 0
            assert abs(r.width / r.height - width / height) < 0.01


def test_bitrates_fall_with_the_rung():
    ladder = plan_ladder(1920, 1080)
    assert [r.video_bitrate for r in ladder] == sorted((r.video_bitrate for r in ladder), reverse=True)


def test_even_and_fit_width():
    assert [even(x) for x in (1, 2, 3, 5, 6.9, 853.3)] == [2, 2, 4, 4, 6, 854]
    assert fit_width(1280, 720, 320) == (320, 180)
    assert fit_width(200, 100, 320) == (200, 100)  # never upscaled
    assert fit_width(720, 1280, 320) == (320, 568)


def test_still_times_are_inside_the_media():
    poster, thumbs = still_times(2.0, 4)
    assert 0 <= poster < 2.0
    assert thumbs == [0.4, 0.8, 1.2, 1.6]
    poster, thumbs = still_times(600.0, 3)
    assert poster == 5.0 and thumbs == [150.0, 300.0, 450.0]
    poster, thumbs = still_times(0.05, 2)
    assert poster == 0.0 and all(t == 0.0 for t in thumbs)


def test_codecs_string():
    assert codecs_string("High", 31, True) == "avc1.64001f,mp4a.40.2"
    assert codecs_string("Main", 30, False) == "avc1.4d401e"
    assert codecs_string("Constrained Baseline", 30, True) == "avc1.42e01e,mp4a.40.2"


def test_variant_stats_and_master_playlist(tmp_path):
    (tmp_path / "720p_0000.ts").write_bytes(b"x" * 1000)
    (tmp_path / "720p_0001.ts").write_bytes(b"x" * 250)
    playlist = tmp_path / "720p.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:4.000000,\n720p_0000.ts\n#EXTINF:1.000000,\n720p_0001.ts\n#EXT-X-ENDLIST\n"
    )
    stats = variant_stats(playlist)
    assert stats == VariantStats(
        peak_bandwidth=2000, average_bandwidth=2000, segments=["720p_0000.ts", "720p_0001.ts"], duration_seconds=5.0
    )
    text = master_playlist([Variant("720p.m3u8", 1280, 720, stats, "avc1.64001f,mp4a.40.2", 30.0)])
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-STREAM-INF:BANDWIDTH=2000,AVERAGE-BANDWIDTH=2000,RESOLUTION=1280x720,"
        'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000',
        "720p.m3u8",
    ]
