# PeerLine: one image for the web app (`peerline serve`), the worker (`peerline worker`) and
# migrations (`peerline db upgrade`). docs/production.md explains how they fit together;
# compose.yaml runs them with PostgreSQL and Redis.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY integrations integrations
COPY lms lms
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /app peerline
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV PEERLINE_ENV=production \
    PEERLINE_INSTANCE_PATH=/app/instance \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER peerline
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["peerline", "serve", "--host", "0.0.0.0", "--port", "8000"]
