# The transcode worker (`python -m workers.transcode`), built from the repository root (classic builder compatible):
# FFmpeg (Debian), the project's core requirements and, of its `workers` extra, ffmpeg-python.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /tmp/deps
# The bracket glob makes the extra CA certificates optional: the COPY succeeds where there are none.
COPY pyproject.toml requirements.lock docker/requirements.py docker/pip-install.sh build/ca-certificate[s] /tmp/deps/
RUN python -m venv /opt/venv \
    && python requirements.py workers --only ffmpeg-python > requirements.txt \
    && sh pip-install.sh /opt/venv requirements.txt

# The same first layer in both worker images (FFmpeg, the user, the scratch directory): built once, shared.
FROM ${PYTHON_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin smmu \
    && install -d -o smmu -g smmu /scratch
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AWS_DEFAULT_REGION=us-east-1 \
    TMPDIR=/scratch \
    HF_HUB_OFFLINE=1
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY smmu/ /app/smmu/
COPY workers/ /app/workers/
RUN python -m compileall -q /app \
    && python -c "import workers.transcode.worker" \
    && ffmpeg -hide_banner -version | head -1
USER smmu
CMD ["python", "-m", "workers.transcode"]
