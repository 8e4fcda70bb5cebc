"""The FastAPI application: ``uvicorn api.main:app``."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.core.config import get_api_settings
from api.routes import health, jobs, uploads


def create_app() -> FastAPI:
    settings = get_api_settings()
    app = FastAPI(
        title="Smart Media Uploader",
        version="0.1.0",
        description="Upload images, audio and video; follow their processing jobs.",
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.include_router(health.router)
    app.include_router(uploads.router)
    app.include_router(jobs.router)
    return app


app = create_app()
