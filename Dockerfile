# Tradepit's runtime image: the server and its runtime dependencies only (no test or lint
# tools), running as an unprivileged user. Build: docker build -t tradepit .
# One process on SQLite:   docker run -p 8000:8000 -v tradepit-data:/data tradepit
# The split shape:         docker compose up   (compose.yaml, docs/operations.md)
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --disable-pip-version-check --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin tradepit \
    && mkdir /data && chown tradepit /data
COPY --from=build /install /usr/local
COPY deploy/entrypoint.sh /usr/local/bin/tradepit-entrypoint
ENV TRADEPIT_DATA_DIR=/data \
    TRADEPIT_HOST=0.0.0.0 \
    TRADEPIT_PORT=8000 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER tradepit
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['TRADEPIT_PORT']}/health\", timeout=2)"]
ENTRYPOINT ["tradepit-entrypoint"]
CMD ["serve"]
