"""Rewriting a stored HLS playlist so that a player can follow it without credentials (docs/playback.md).

A stored playlist names its media playlists, segments and subtitle files with URIs relative to itself. Every one
of them, on URI lines and in tags' ``URI="…"`` attributes (``#EXT-X-MEDIA``, ``#EXT-X-I-FRAME-STREAM-INF``,
``#EXT-X-MAP``, ``#EXT-X-KEY``, …), is resolved to a storage key, checked against the keys the job has, and
replaced: playlists by a URL of the playback route (they need rewriting in turn), everything else by a
short-lived presigned URL. A URI that leaves the job's files, or names one it does not have, is refused.
"""

import posixpath
import re
from collections.abc import Callable, Collection
from urllib.parse import unquote, urlsplit

_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
PLAYLIST_SUFFIX = ".m3u8"


class PlaylistError(ValueError):
    """The playlist is not one this job can serve: it names a file outside the job's or one that is missing."""


def resolve(base_key: str, uri: str, *, prefix: str, known: Collection[str]) -> str:
    """The storage key ``uri`` names, relative to the playlist stored at ``base_key``."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc or uri.startswith("/"):
        raise PlaylistError(f"the playlist names {uri!r}, which is not a file of this job")
    key = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), unquote(parts.path)))
    if not key.startswith(prefix) or key not in known:
        raise PlaylistError(f"the playlist names {uri!r}, which is not among this job's files")
    return key


def rewrite(
    text: str,
    *,
    base_key: str,
    prefix: str,
    known: Collection[str],
    playlist_url: Callable[[str], str],
    file_url: Callable[[str], str],
) -> str:
    """``text`` (the playlist stored at ``base_key``) with every URI replaced by ``playlist_url(key)`` for a
    playlist and ``file_url(key)`` for anything else. PlaylistError for a URI outside ``prefix`` or ``known``."""
    if not text.lstrip("\ufeff").startswith("#EXTM3U"):
        raise PlaylistError("the stored file is not an HLS playlist")

    def url_for(uri: str) -> str:
        key = resolve(base_key, uri, prefix=prefix, known=known)
        return playlist_url(key) if key.endswith(PLAYLIST_SUFFIX) else file_url(key)

    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append("")
        elif stripped.startswith("#"):
            # Tags (and comments) keep their text; only their URI attribute changes.
            lines.append(_URI_ATTRIBUTE.sub(lambda m: f'URI="{url_for(m.group(1))}"', stripped))
        else:
            lines.append(url_for(stripped))
    return "\n".join(lines) + "\n"
