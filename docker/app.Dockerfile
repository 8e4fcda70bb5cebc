# The API and the emulator images, built from the repository root (classic builder: no BuildKit syntax).
#
#   docker build -f docker/app.Dockerfile --target api      -t smmu-api:local .
#   docker build -f docker/app.Dockerfile --target emulator -t smmu-emulator:local .
#
# Dependencies come from pyproject.toml (docker/requirements.py), installed from the package index by
# docker/pip-install.sh (with the extra CA certificates scripts/build-images.sh puts in build/ca-certificates).
# The legacy builder builds every stage before its target: the api's stages come first, so building `api`
# does not build the emulator's.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- dependencies of the API: the project's core requirements, in a virtual environment -------------------
FROM ${PYTHON_IMAGE} AS api-deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /tmp/deps
# The bracket glob makes the extra CA certificates optional: the COPY succeeds where there are none.
COPY pyproject.toml requirements.lock docker/requirements.py docker/pip-install.sh build/ca-certificate[s] /tmp/deps/
RUN python -m venv /opt/venv \
    && python requirements.py > requirements.txt \
    && sh pip-install.sh /opt/venv requirements.txt
# The functions' third-party packages for Lambda's own runtime (manylinux wheels for the manifest's runtime, pinned
# to the versions just installed), zipped with the code by `smmu package`/`smmu provision` (SMMU_LAMBDA_DEPENDENCIES)
# because LocalStack's free edition mounts no layers. Only the packaging code and the manifest are needed here.
COPY smmu_stack/__init__.py smmu_stack/manifest.py smmu_stack/packaging.py /tmp/deps/smmu_stack/
COPY infra/resources.json /tmp/deps/infra/resources.json
RUN if [ -f ca-bundle.pem ]; then export PIP_CERT=/tmp/deps/ca-bundle.pem; fi \
    && /opt/venv/bin/python -m smmu_stack.packaging dependencies /opt/lambda

# ---- common runtime: non-root user, the virtual environment on PATH, sources under /app --------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin smmu
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AWS_DEFAULT_REGION=us-east-1
WORKDIR /app
COPY docker/healthcheck.py /usr/local/bin/

# ---- API (uvicorn api.main:app); also runs the one-shot `smmu provision` -----------------------------------
FROM runtime AS api
COPY --from=api-deps /opt/venv /opt/venv
COPY --from=api-deps /opt/lambda/dependencies /opt/lambda/dependencies
ENV SMMU_LAMBDA_DEPENDENCIES=/opt/lambda/dependencies
COPY infra/resources.json /app/infra/resources.json
COPY sfn/ /app/sfn/
COPY smmu/ /app/smmu/
COPY lambdas/ /app/lambdas/
COPY smmu_stack/ /app/smmu_stack/
COPY api/ /app/api/
# The Lambda code package (with the packages above) is built here, once (`smmu package`); `smmu provision` finds it
# unchanged and uploads it.
RUN python -m smmu_stack.cli package && python -m compileall -q /app
USER smmu
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]

# ---- dependencies of the emulator: the API's plus the `local` extra (moto, pinned in pyproject.toml) --------
FROM api-deps AS emulator-deps
RUN python requirements.py local > requirements.txt \
    && sh pip-install.sh /opt/venv requirements.txt

# ---- emulator: `smmu emulator` (moto + Step Functions + the Lambda executor), provisioning itself on start ---
# The Lambda executor runs the deployed zip in subprocesses of this image's Python, so the functions'
# third-party dependencies (Pillow, Powertools, pydantic, pydantic-settings, filetype, boto3) are installed
# here: they are core requirements.
FROM runtime AS emulator
COPY --from=emulator-deps /opt/venv /opt/venv
COPY --from=api-deps /opt/lambda/dependencies /opt/lambda/dependencies
ENV SMMU_LAMBDA_DEPENDENCIES=/opt/lambda/dependencies
COPY infra/resources.json /app/infra/resources.json
COPY sfn/ /app/sfn/
COPY smmu/ /app/smmu/
COPY lambdas/ /app/lambdas/
COPY smmu_stack/ /app/smmu_stack/
COPY docker/emulator-entrypoint.sh /usr/local/bin/
RUN python -m smmu_stack.cli package && python -m compileall -q /app \
    && chmod 0755 /usr/local/bin/emulator-entrypoint.sh \
    && install -d -o smmu -g smmu /var/lib/smmu
USER smmu
ENV SMMU_EMULATOR_PORT=4566 SMMU_EMULATOR_WORK_DIR=/var/lib/smmu
EXPOSE 4566
CMD ["emulator-entrypoint.sh"]
