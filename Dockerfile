# syntax=docker/dockerfile:1
# The deploy image: Sceptre with this project's plugins, templates and configuration, so any CI
# system deploys with `docker run IMAGE launch dev/services/order` (credentials from the
# environment, e.g. -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN).
# Python 3.12, as the platform's Lambda functions run. Bump the patch tag deliberately.
ARG PYTHON_IMAGE=python:3.12.11-slim-bookworm

# Build: wheels of the project and of every dependency, and the project folder Sceptre reads.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels . \
    && mkdir -p /project/.cache \
    && cp -r config templates /project/ \
    && if [ -d certs ]; then cp -r certs /project/; fi

# Run: no compiler, no wheel cache, not root.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="fargate-platform deploy" \
      org.opencontainers.image.description="Sceptre with the fargate-platform project: docker run IMAGE launch dev"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/fargate_platform-*.whl \
    && groupadd --gid 10001 sceptre \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 sceptre
# The project is read-only for the user, except .cache/ where Lambda packaging keeps downloads.
COPY --from=build /project /project
RUN chown sceptre:sceptre /project/.cache
WORKDIR /project
USER 10001:10001
ENTRYPOINT ["sceptre"]
CMD ["--help"]
