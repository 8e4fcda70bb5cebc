"""HLS playlists that need more than one worker's outputs: captions (the transcript's WebVTT) as a SUBTITLES
rendition in the master playlist that the transcode worker wrote. Pure: text in, text out.

The master is written by the transcode branch and the transcript by the transcribe branch, which run side by
side; the step after both (PackageHls) adds the one to the other, so neither branch waits for the other.
"""

import math
import re

#: The subtitles rendition group every variant names (``SUBTITLES="subs"``).
SUBTITLES_GROUP = "subs"
_STREAM_INF = "#EXT-X-STREAM-INF:"
_GROUP_ATTRIBUTE = re.compile(r',SUBTITLES="[^"]*"')

#: English names of the languages players most often meet; any other is named by its code.
LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip


def language_name(code: str | None) -> str:
    if not code:
        return "Captions"
    return LANGUAGE_NAMES.get(code, code)


def timestamp_map(mpegts_start: int | None) -> str:
    """The WebVTT header line that ties cue time 0 to the MPEG-TS segments' first timestamp (90 kHz ticks).

    FFmpeg's TS segments start at about 1.4 s, not 0; without this line a player following RFC 8216 would show
    every caption that much early."""
    return f"X-TIMESTAMP-MAP=MPEGTS:{mpegts_start or 0},LOCAL:00:00:00.000"


def vtt_for_hls(vtt: str, mpegts_start: int | None) -> str:
    """The transcript's WebVTT with the timestamp map in its header (kept once, replacing an older one)."""
    lines = vtt.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].startswith("WEBVTT"):
        raise ValueError("not a WebVTT file")
    header_end = lines.index("") if "" in lines else len(lines)
    header = [line for line in lines[1:header_end] if not line.startswith("X-TIMESTAMP-MAP=")]
    return "\n".join([lines[0], *header, timestamp_map(mpegts_start), *lines[header_end:]])


def subtitles_playlist(vtt_uri: str, duration_seconds: float) -> str:
    """A media playlist with the whole WebVTT file as its one segment (VOD)."""
    duration = max(duration_seconds, 0.001)
    return "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(duration)}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{duration:.3f},",
            vtt_uri,
            "#EXT-X-ENDLIST",
            "",
        ]
    )


def with_subtitles(master: str, *, uri: str, language: str | None) -> str:
    """``master`` with one SUBTITLES rendition (``uri``, in ``language``) that every variant names.

    Idempotent: a rendition added before (a retried step) is replaced, not doubled. AUTOSELECT lets a player
    turn the captions on when they match the viewer's language settings; DEFAULT=NO leaves them off otherwise.
    """
    lines = [line for line in master.replace("\r\n", "\n").split("\n") if not _is_our_media(line)]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist")
    attributes = [
        "TYPE=SUBTITLES",
        f'GROUP-ID="{SUBTITLES_GROUP}"',
        f'NAME="{language_name(language)}"',
        *([f'LANGUAGE="{language}"'] if language else []),
        "DEFAULT=NO",
        "AUTOSELECT=YES",
        "FORCED=NO",
        f'URI="{uri}"',
    ]
    media = "#EXT-X-MEDIA:" + ",".join(attributes)
    out: list[str] = []
    for line in lines:
        if line.startswith(_STREAM_INF):
            if media:  # renditions go before the variants that name them
                out.append(media)
                media = ""
            line = _GROUP_ATTRIBUTE.sub("", line) + f',SUBTITLES="{SUBTITLES_GROUP}"'
        out.append(line)
    return "\n".join(out)


def _is_our_media(line: str) -> bool:
    return line.startswith("#EXT-X-MEDIA:") and f'GROUP-ID="{SUBTITLES_GROUP}"' in line
