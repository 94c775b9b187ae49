# Rapport in a container: the same command as the Procfile, as a user without privileges, data on
# a volume at /data. See docs/operations.md ("Containers") and compose.yaml.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000 \
    HOST=0.0.0.0 \
    DATABASE_URL=/data/rapport.db

RUN groupadd --system --gid 10001 rapport \
    && useradd --system --uid 10001 --gid rapport --home-dir /app --no-create-home --shell /usr/sbin/nologin rapport \
    && mkdir /data \
    && chown rapport:rapport /data

WORKDIR /app
# The dependencies first, in a layer of their own: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir server && touch server/__init__.py \
    && pip install --no-cache-dir . \
    && pip uninstall --yes rapport \
    && rm -rf server
# static/ and agent_console/ are served from beside server/ (an editable install keeps them there).
COPY server ./server
COPY static ./static
COPY agent_console ./agent_console
RUN pip install --no-cache-dir --no-deps -e .

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# The Procfile's web command; WEB_CONCURRENCY sets the workers (several need REDIS_URL).
CMD ["sh", "-c", "exec rapport serve --host 0.0.0.0 --port \"$PORT\""]
