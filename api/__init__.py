"""HTTP API (FastAPI). Issues presigned uploads and reports jobs; media bytes never pass through it."""
