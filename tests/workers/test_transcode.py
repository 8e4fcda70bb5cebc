"""The transcoder with real FFmpeg on generated media: what a viewer or listener gets."""

import itertools
import json
import re
import subprocess

import pytest
from PIL import Image, ImageStat

from smmu.errors import CorruptMediaError
from workers.probe import probe, probe_raw
from workers.transcode.settings import TranscodeSettings
from workers.transcode.worker import transcode

pytestmark = pytest.mark.integration

SETTINGS = TranscodeSettings(x264_preset="ultrafast", thumbnails=3)


@pytest.fixture(scope="module")
def full_hd(files, tmp_path_factory):
    """The 1080p source through the whole video pipeline (shared: it is the slowest run)."""
    from workers import process

    out = tmp_path_factory.mktemp("full_hd")

    def run(args, name):
        log = out / f"{name}.log"
        process.run(args, log_path=log)
        return log

    artifacts, media = transcode(files["video_1080"], out / "out", run, SETTINGS)
    return artifacts, media, out / "out"


def by_kind(artifacts, kind):
    return [a for a in artifacts if a.kind == kind]


def test_ladder_renditions_have_the_promised_size_and_duration(full_hd):
    artifacts, media, _ = full_hd
    videos = by_kind(artifacts, "video")
    assert [(a.name, a.width, a.height) for a in videos] == [
        ("video/1080p.mp4", 1920, 1080),
        ("video/720p.mp4", 1280, 720),
        ("video/480p.mp4", 854, 480),
        ("video/360p.mp4", 640, 360),
    ]
    for artifact in videos:
        made = probe_raw(artifact.path)
        video = next(s for s in made["streams"] if s["codec_type"] == "video")
        audio = next(s for s in made["streams"] if s["codec_type"] == "audio")
        assert (video["codec_name"], video["pix_fmt"], audio["codec_name"]) == ("h264", "yuv420p", "aac")
        assert (video["width"], video["height"]) == (artifact.width, artifact.height)
        assert abs(float(made["format"]["duration"]) - media["duration_seconds"]) <= 0.2
        assert artifact.duration_seconds == pytest.approx(media["duration_seconds"], abs=0.2)
        assert artifact.bitrate and artifact.bitrate > 0
    assert videos[0].bitrate > videos[-1].bitrate


def test_hls_master_references_every_rendition(full_hd):
    artifacts, _, out = full_hd
    [master] = by_kind(artifacts, "hls_master")
    lines = master.path.read_text().splitlines()
    assert lines[0] == "#EXTM3U"
    variants = [(lines[i], lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]
    assert [uri for _, uri in variants] == ["1080p.m3u8", "720p.m3u8", "480p.m3u8", "360p.m3u8", "audio.m3u8"]
    *pictures, (audio_info, _) = variants
    # The audio-only rendition: AAC alone, no picture size, listed last so no player starts with it.
    assert 'CODECS="mp4a.40.2"' in audio_info and "RESOLUTION" not in audio_info
    [audio_only] = by_kind(artifacts, "hls_audio_playlist")
    audio_segments = [line for line in audio_only.path.read_text().splitlines() if line.endswith(".ts")]
    made = probe_raw(out / "hls" / audio_segments[0])
    assert [s["codec_type"] for s in made["streams"]] == ["audio"]
    assert audio_only.bitrate and audio_only.bitrate < 100_000
    for info, uri in pictures:
        attributes = {k: v.strip('"') for k, v in re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', info.split(":", 1)[1])}
        assert int(attributes["BANDWIDTH"]) > 0
        expected = {"1080p": "1920x1080", "720p": "1280x720", "480p": "854x480", "360p": "640x360"}[uri[:-5]]
        assert attributes["RESOLUTION"] == expected
        assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attributes["CODECS"])
        # Each media playlist is complete and its segments exist and play.
        playlist = (out / "hls" / uri).read_text().splitlines()
        assert "#EXT-X-ENDLIST" in playlist
        segments = [line for line in playlist if line and not line.startswith("#")]
        assert segments and all((out / "hls" / s).is_file() for s in segments)
    segment = next(a for a in artifacts if a.name.endswith(".ts"))
    assert segment.kind is None and segment.content_type == "video/mp2t"  # uploaded but not listed
    assert probe(segment.path)["has_video"]


def test_poster_and_thumbnails_are_jpegs_of_the_promised_size(full_hd):
    artifacts, _, _ = full_hd
    [poster] = by_kind(artifacts, "poster")
    thumbs = by_kind(artifacts, "thumbnail")
    assert len(thumbs) == 3
    for artifact in [poster, *thumbs]:
        with Image.open(artifact.path) as image:
            assert image.format == "JPEG"
            assert image.size == (artifact.width, artifact.height)
    assert (poster.width, poster.height) == (1920, 1080)
    assert {(t.width, t.height) for t in thumbs} == {(320, 180)}


def test_a_downscaled_re_encode_has_a_near_perceptual_hash_and_a_different_video_a_far_one(
    files, full_hd, tmp_path, runner
):
    from smmu.similar import distance
    from smmu_stack.devkit import worker_media

    _, media, _ = full_hd
    original = media["perceptual_hash"]
    frames = original.split(":")
    assert len(frames) == 5 and all(len(f) == 32 for f in frames)  # five frames, 128 bits each
    # Other bytes: a third of the size, much stronger compression, other audio; the same pictures.
    copy = tmp_path / "copy.mp4"
    worker_media.ffmpeg("-i", str(files["video_1080"]), "-vf", "scale=640:360", "-c:v", "libx264", "-preset",
                        "ultrafast", "-crf", "32", "-c:a", "aac", "-b:a", "48k", str(copy))  # fmt: skip
    other = tmp_path / "other.mp4"
    worker_media.ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=640x360:r=30", "-t", "2", "-c:v", "libx264", "-preset",
                        "ultrafast", "-pix_fmt", "yuv420p", str(other))  # fmt: skip
    small = TranscodeSettings(x264_preset="ultrafast", heights=(360,), hls=False, storyboard=False, thumbnails=1)
    _, copied = transcode(copy, tmp_path / "copy", runner, small)
    _, different = transcode(other, tmp_path / "other", runner, small)
    near, far = distance(original, copied["perceptual_hash"]), distance(original, different["perceptual_hash"])
    print(f"perceptual distance: re-encoded copy {near}, different video {far} (bits of 128 per frame)")
    assert near is not None and near <= 6
    assert far is not None and far > 30


def test_storyboard_cues_point_inside_their_sprite_sheets(full_hd):
    artifacts, media, _ = full_hd
    sheets = {a.path.name: a for a in by_kind(artifacts, "storyboard_sheet")}
    [track] = by_kind(artifacts, "storyboard")
    text = track.path.read_text()
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"([\d:.]+) --> ([\d:.]+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", text)
    # A 2 s video, a frame a second: two thumbnails, covering the whole video without gaps.
    assert len(cues) == 2
    times = [(_seconds(start), _seconds(end)) for start, end, *_ in cues]
    assert times[0][0] == 0 and times[-1][1] == pytest.approx(media["duration_seconds"], abs=0.01)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(times))
    for _, _, sheet, x, y, w, h in cues:
        with Image.open(sheets[sheet].path) as image:
            assert image.size == (sheets[sheet].width, sheets[sheet].height)
            assert int(x) + int(w) <= image.width and int(y) + int(h) <= image.height
            # 16:9 tiles of the configured width, each holding a picture (not the sheet's black background).
            assert (int(w), int(h)) == (160, 90)
            tile = image.crop((int(x), int(y), int(x) + int(w), int(y) + int(h))).convert("L")
            assert tile.getextrema()[1] > 40


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_hdr_is_tone_mapped_to_sdr_bt709(files, tmp_path, runner, transfer):
    from smmu_stack.devkit import worker_media

    source = (
        files["hdr"] if transfer == "smpte2084" else worker_media.hdr_video(tmp_path / "hlg.mp4", transfer=transfer)
    )
    assert probe(source)["video"]["hdr"] and probe(source)["video"]["pix_fmt"] == "yuv420p10le"
    artifacts, media = transcode(source, tmp_path / "out", runner, SETTINGS)
    assert media["tone_mapped"] is True
    for artifact in by_kind(artifacts, "video"):
        video = next(s for s in probe_raw(artifact.path)["streams"] if s["codec_type"] == "video")
        assert (video["pix_fmt"], video["color_space"], video["color_transfer"], video["color_primaries"]) == (
            "yuv420p",
            "bt709",
            "bt709",
            "bt709",
        )
    # The poster is tone-mapped too: testsrc2's colours keep their saturation (the SDR original's mean is ~250 of
    # 255); the same frame decoded without tone mapping comes out washed out (~115).
    [poster] = by_kind(artifacts, "poster")
    with Image.open(poster.path) as image:
        assert ImageStat.Stat(image.convert("HSV")).mean[1] >= 200


def test_sdr_video_is_not_tone_mapped(full_hd):
    _, media, _ = full_hd
    assert media["tone_mapped"] is False and media["video"]["hdr"] is False


def test_animated_gif_becomes_a_smaller_mp4_and_webp(files, tmp_path, runner):
    from workers.transcode.worker import animate

    artifacts, facts = animate(files["gif"], tmp_path / "out", runner, SETTINGS)
    assert facts["frames"] == 20
    made = {a.kind: a for a in artifacts}
    assert set(made) == {"animation_mp4", "animation_webp"}
    gif_size = files["gif"].stat().st_size
    mp4 = probe_raw(made["animation_mp4"].path)
    [video] = mp4["streams"]  # no audio track
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 320, 240)
    assert float(mp4["format"]["duration"]) == pytest.approx(2.0, abs=0.15)
    with Image.open(made["animation_webp"].path) as webp:
        assert webp.format == "WEBP" and webp.is_animated and webp.n_frames == 20 and webp.size == (320, 240)
    for artifact in made.values():
        assert artifact.path.stat().st_size < gif_size, artifact.kind


def test_a_still_gif_makes_no_animation(tmp_path, runner):
    from workers.transcode.worker import animate

    still = tmp_path / "still.gif"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(still)
    assert animate(still, tmp_path / "out", runner, SETTINGS) == ([], {"frames": 1})


def test_rotated_video_comes_out_upright(files, tmp_path, runner):
    artifacts, media = transcode(files["rotated"], tmp_path / "out", runner, SETTINGS)
    assert (media["video"]["width"], media["video"]["height"]) == (720, 1280)
    videos = by_kind(artifacts, "video")
    assert [(a.width, a.height) for a in videos] == [(720, 1280), (480, 854), (360, 640)]
    for artifact in videos:
        made = probe(artifact.path)["video"]
        # Stored upright, so no player has to (or can wrongly) rotate it again.
        assert (made["coded_width"], made["coded_height"], made["rotation"]) == (artifact.width, artifact.height, 0)
    [poster] = by_kind(artifacts, "poster")
    with Image.open(poster.path) as image:
        assert image.size == (720, 1280)


def test_odd_sized_video_without_audio(files, tmp_path, runner):
    artifacts, media = transcode(files["odd"], tmp_path / "out", runner, SETTINGS)
    assert not media["has_audio"]
    [video] = by_kind(artifacts, "video")
    made = probe(video.path)
    assert (made["video"]["width"], made["video"]["height"]) == (640, 360)
    assert not made["has_audio"]
    [master] = by_kind(artifacts, "hls_master")
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6}"', master.path.read_text())  # no audio codec announced


def test_small_video_keeps_its_size(files, tmp_path, runner):
    artifacts, _ = transcode(files["small"], tmp_path / "out", runner, SETTINGS)
    assert [(a.name, a.width, a.height) for a in by_kind(artifacts, "video")] == [("video/240p.mp4", 320, 240)]


def test_audio_is_normalised_to_aac_and_mp3_with_a_waveform(files, tmp_path, runner):
    artifacts, media = transcode(files["tone"], tmp_path / "out", runner, SETTINGS)
    assert media["normalised"] is True
    audio = {a.content_type: a for a in by_kind(artifacts, "audio")}
    assert set(audio) == {"audio/mp4", "audio/mpeg"}
    for artifact, codec in ((audio["audio/mp4"], "aac"), (audio["audio/mpeg"], "mp3")):
        made = probe(artifact.path)
        assert made["audio"]["codec"] == codec and not made["has_video"]
        assert abs(made["duration_seconds"] - 3.0) <= 0.2
        # The quiet source (a sine at about -27 LUFS) now sits near the -16 LUFS target.
        assert abs(_integrated_loudness(artifact.path) - SETTINGS.loudness_lufs) <= 1.5
    [waveform] = by_kind(artifacts, "waveform")
    with Image.open(waveform.path) as image:
        assert image.format == "PNG" and image.size == (1200, 240)
        assert image.convert("L").getextrema()[1] > 0  # something is drawn


def test_silent_audio_is_converted_without_normalising(files, tmp_path, runner):
    artifacts, media = transcode(files["silence"], tmp_path / "out", runner, SETTINGS)
    assert media["normalised"] is False
    assert len(by_kind(artifacts, "audio")) == 2


@pytest.mark.parametrize("name", ["corrupt", "text"])
def test_corrupt_input_raises_corrupt_media(files, tmp_path, runner, name):
    with pytest.raises(CorruptMediaError):
        transcode(files[name], tmp_path / "out", runner, SETTINGS)


def test_an_image_is_not_transcoded(tmp_path, runner):
    path = tmp_path / "still.png"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path)
    with pytest.raises(CorruptMediaError, match="no audio or video"):
        transcode(path, tmp_path / "out", runner, SETTINGS)


def _integrated_loudness(path) -> float:
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-af", "loudnorm=print_format=json", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = result.stderr[result.stderr.rfind("{") : result.stderr.rfind("}") + 1]
    return float(json.loads(report)["input_i"])
