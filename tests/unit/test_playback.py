"""Playlist rewriting (every URI, nothing outside the job) and playback tokens (signed, short-lived, one job)."""

import time

import jwt
import pytest

from api import playback
from smmu.hls_rewrite import PlaylistError, rewrite

pytestmark = pytest.mark.unit

PREFIX = "jobs/j1/"
MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,URI="../../transcribe/captions.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Audio only",URI="audio.m3u8"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="720p_iframes.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",SUBTITLES="subs"
720p.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
360p.m3u8
"""
MEDIA = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.000000,
720p_0000.ts
#EXTINF:1.000000,
720p_0001.ts
#EXT-X-ENDLIST
"""
KNOWN = {
    PREFIX + name
    for name in (
        "transcode/hls/master.m3u8",
        "transcode/hls/720p.m3u8",
        "transcode/hls/360p.m3u8",
        "transcode/hls/audio.m3u8",
        "transcode/hls/720p_iframes.m3u8",
        "transcode/hls/720p_0000.ts",
        "transcode/hls/720p_0001.ts",
        "transcode/hls/init.mp4",
        "transcribe/captions.m3u8",
    )
}


def _rewrite(text: str, base: str = PREFIX + "transcode/hls/master.m3u8", known=KNOWN) -> str:
    return rewrite(
        text,
        base_key=base,
        prefix=PREFIX,
        known=known,
        playlist_url=lambda key: f"https://api/p/TOKEN/{key[len(PREFIX) :]}",
        file_url=lambda key: f"https://s3/{key}?X-Amz-Signature=s",
    )


def test_every_uri_of_a_master_becomes_a_signed_url_tags_included():
    out = _rewrite(MASTER)
    assert 'URI="https://api/p/TOKEN/transcribe/captions.m3u8"' in out
    assert 'URI="https://api/p/TOKEN/transcode/hls/audio.m3u8"' in out
    assert 'URI="https://api/p/TOKEN/transcode/hls/720p_iframes.m3u8"' in out
    assert "\nhttps://api/p/TOKEN/transcode/hls/720p.m3u8\n" in out
    assert "\nhttps://api/p/TOKEN/transcode/hls/360p.m3u8\n" in out
    assert 'CODECS="avc1.64001f,mp4a.40.2",SUBTITLES="subs"' in out  # other attributes untouched
    uris = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert all(uri.startswith("https://") for uri in uris)


def test_segments_and_init_sections_become_presigned_urls():
    out = _rewrite(MEDIA, base=PREFIX + "transcode/hls/720p.m3u8")
    assert "https://s3/jobs/j1/transcode/hls/720p_0000.ts?X-Amz-Signature=s" in out
    assert "https://s3/jobs/j1/transcode/hls/720p_0001.ts?X-Amz-Signature=s" in out
    assert 'URI="https://s3/jobs/j1/transcode/hls/init.mp4?X-Amz-Signature=s"' in out
    assert "#EXTINF:2.000000," in out and "#EXT-X-ENDLIST" in out


@pytest.mark.parametrize(
    "uri",
    [
        "../../../j2/transcode/hls/720p_0000.ts",  # another job's files
        "/jobs/j1/transcode/hls/720p_0000.ts",  # absolute path
        "https://elsewhere.example/x.ts",  # another host
        "720p_0002.ts",  # never stored
        "%2E%2E/%2E%2E/%2E%2E/j2/transcode/hls/720p_0000.ts",  # encoded dot segments
    ],
)
def test_a_uri_outside_the_jobs_stored_files_is_refused(uri):
    known = KNOWN | {"jobs/j2/transcode/hls/720p_0000.ts"}
    with pytest.raises(PlaylistError):
        _rewrite(f"#EXTM3U\n#EXTINF:2.0,\n{uri}\n", base=PREFIX + "transcode/hls/720p.m3u8", known=known)


def test_a_file_that_is_not_a_playlist_is_refused():
    with pytest.raises(PlaylistError):
        _rewrite("<html>not a playlist</html>")


SECRET = "s" * 40


def test_a_token_grants_one_job_until_it_expires():
    token, grant = playback.issue(SECRET, job_id="j1", tenant_id="t1", ttl_seconds=60)
    verified = playback.verify(SECRET, token)
    assert (verified.job_id, verified.tenant_id, verified.expires_at) == ("j1", "t1", grant.expires_at)
    assert 55 <= verified.seconds_left() <= 60


def test_expired_altered_foreign_and_other_purpose_tokens_are_refused():
    expired = jwt.encode(
        {"sub": "j1", "tid": "t1", "aud": playback.AUDIENCE, "exp": int(time.time()) - 1}, SECRET, algorithm="HS256"
    )
    token, _ = playback.issue(SECRET, job_id="j1", tenant_id="t1", ttl_seconds=60)
    header, _, signature = token.split(".")
    altered_claims = jwt.encode(
        {"sub": "j2", "tid": "t1", "aud": playback.AUDIENCE, "exp": int(time.time()) + 60}, "x" * 40
    ).split(".")[1]
    other_audience = jwt.encode({"sub": "j1", "tid": "t1", "aud": "smmu-api", "exp": int(time.time()) + 60}, SECRET)
    unsigned = jwt.encode(
        {"sub": "j1", "tid": "t1", "aud": playback.AUDIENCE, "exp": int(time.time()) + 60}, None, "none"
    )
    for bad in (
        expired,
        f"{header}.{altered_claims}.{signature}",  # another job under the old signature
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature changed
        playback.issue("o" * 40, job_id="j1", tenant_id="t1", ttl_seconds=60)[0],  # another secret
        other_audience,
        unsigned,
        "not-a-token",
    ):
        with pytest.raises(playback.InvalidPlaybackToken):
            playback.verify(SECRET, bad)
