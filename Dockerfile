# One image for every service of deploy/docker-compose.yml: the service's command picks the
# role (`manage.py serve nginx|registry|web|worker|beat`, or the one-shot
# `manage.py platform prepare`). Debian bookworm, as the machines the tests run on.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HARBOR_DATA_DIR=/data \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
COPY deploy/install-system.sh deploy/install-system.sh
# The same package list as `make run`, plus a compiler for python-ldap and pg_dump for
# `manage.py backup`.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends gcc libc6-dev postgresql-client \
    && deploy/install-system.sh run \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN python -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
# The UI's third-party browser code (htmx), pinned by frontend/package-lock.json.
RUN cd frontend && npm ci --ignore-scripts --no-audit --no-fund --omit=dev

VOLUME ["/data"]
EXPOSE 8080
CMD ["python", "manage.py", "serve", "web"]
