"""The web app: static files under ``/app`` (plain JavaScript modules, no build step), served with a strict
Content-Security-Policy. The app talks to this API and to S3 through presigned URLs, nothing else."""

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from api.core.config import ApiSettings
from api.storage import Presigner

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "app"

router = APIRouter(include_in_schema=False)
# Browsers run module scripts only with a JavaScript type; the host's MIME table may lack .mjs (or map .js oddly).
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/app/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def s3_origins(settings: ApiSettings) -> tuple[str, ...]:
    """The origins the browser sends uploads to and loads outputs from, as this API's presigned URLs name them
    (the emulator's public endpoint locally; the buckets' hosts on AWS). Signing is local: no request is made."""
    presigner = Presigner(settings.public_s3_endpoint_url, settings.region)
    urls = [
        presigner.upload(bucket=settings.raw_bucket, key="k", content_type="image/jpeg", max_bytes=1, ttl_seconds=60)[
            "url"
        ],
        presigner.download(bucket=settings.raw_bucket, key="k", ttl_seconds=60),
        presigner.download(bucket=settings.processed_bucket, key="k", ttl_seconds=60),
    ]
    return tuple(dict.fromkeys(_origin(url) for url in urls))


def content_security_policy(settings: ApiSettings) -> str:
    s3 = " ".join(s3_origins(settings))
    return "; ".join(
        [
            "default-src 'none'",
            # Modules from this origin only: no inline script, no eval.
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {s3}",
            # hls.js feeds the <video> through Media Source Extensions (blob: URLs).
            f"media-src 'self' blob: {s3}",
            f"connect-src 'self' {s3}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class AppFiles:
    """The static files, with the security headers every page and module of the app carries."""

    def __init__(self, settings: ApiSettings) -> None:
        self.files = StaticFiles(directory=STATIC_DIR, html=True)
        self.settings = settings
        self._headers: list[tuple[bytes, bytes]] | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        # Worked out on the first request, not when the app is built: naming the storage origins signs a URL, which
        # needs credentials that a process only importing the app (the OpenAPI export, tests) does not have.
        if self._headers is None:
            self._headers = [
                (b"content-security-policy", content_security_policy(self.settings).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                # Revalidate every time (the ETag makes that cheap): a new version of the app is never half-loaded.
                (b"cache-control", b"no-cache"),
            ]
        return self._headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.files(scope, receive, send_with_headers)
