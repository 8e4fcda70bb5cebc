"""The FastAPI application: ``uvicorn api.main:app``."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors
from api.core.config import get_api_settings
from api.routes import events, health, jobs, multipart, playback, uploads, web, webhooks

DESCRIPTION = """Upload images, audio and video; follow their processing jobs.

**Authorisation.** Every `/v1` route needs `Authorization: Bearer <credential>`: an API key (`smmu keys create
--tenant <id>`; `make dev` prints one for the dev tenant) or, where configured, an OIDC access token whose
tenant claim names the tenant. Press *Authorize* and paste it. A caller sees only its tenant's jobs.
Limits per tenant answer `429` with `Retry-After`."""


def create_app() -> FastAPI:
    settings = get_api_settings()
    app = FastAPI(
        title="Smart Media Uploader",
        version="0.1.0",
        description=DESCRIPTION,
    )
    errors.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_request_body_bytes)
    app.include_router(health.router)
    app.include_router(uploads.router)
    app.include_router(multipart.router)
    app.include_router(jobs.router)
    app.include_router(events.router)
    app.include_router(playback.router)
    app.include_router(webhooks.router)
    # The web app for people (sign in with an API key, upload, follow jobs, view outputs).
    app.include_router(web.router)
    app.mount("/app", web.AppFiles(settings), name="app")
    return app


app = create_app()
