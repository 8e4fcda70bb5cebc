# CI/OFFLINE-ONLY SUBSTITUTE for AWS's Lambda Python 3.11 runtime image (public.ecr.aws/lambda/python:3.11), which
# LocalStack pulls for python3.11 functions and which machines without access to that registry cannot pull.
# Built by `scripts/build-localstack.sh --offline` as smmu-lambda-python:3.11 and served to LocalStack from a
# registry on 127.0.0.1 (LAMBDA_RUNTIME_IMAGE_MAPPING in docker/localstack/offline/compose.yml). Anywhere else
# LocalStack pulls AWS's own image.
#
# Like AWS's image: Python 3.11 with boto3 (the runtime's own SDK), AWS's runtime interface client (awslambdaric)
# as /var/runtime/bootstrap, the function code in /var/task (LocalStack copies it in), /opt empty. It adds nothing
# that AWS's image lacks: in particular no layer is ever unpacked into /opt (LocalStack's free edition mounts none).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
COPY runtime-requirements.txt pip-install.sh ca-certificate[s] /tmp/runtime/
RUN python3 -m venv /var/lang \
    && sh /tmp/runtime/pip-install.sh /var/lang /tmp/runtime/runtime-requirements.txt \
    && rm -rf /tmp/runtime \
    && mkdir -p /var/runtime /var/task /opt \
    && printf '#!/bin/sh\nexec /var/lang/bin/python3 -m awslambdaric "$_HANDLER"\n' > /var/runtime/bootstrap \
    && chmod 0755 /var/runtime/bootstrap
ENV PATH=/var/lang/bin:$PATH LANG=en_US.UTF-8 TZ=:/etc/localtime LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime PYTHONPATH=/var/task
WORKDIR /var/task
ENTRYPOINT ["/var/runtime/bootstrap"]
