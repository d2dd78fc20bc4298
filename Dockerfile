# Image for every process of the platform: web, worker (scheduler), ingest, migrate.
# The process is chosen by the command; see docker-compose.yml and docs/deployment.md.
#
#   docker build -t housing .
#   docker run --rm -p 8000:8000 -e HOUSING_AUTH__SECRET_KEY=... housing
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed uid/gid so that volume permissions are predictable across rebuilds.
RUN groupadd --system --gid 10001 housing \
    && useradd --system --uid 10001 --gid housing --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin housing

# Build context: only what the wheel needs (pyproject.toml uses hatchling; the wheel
# carries the packages housing, sensors, billing and templates). Dependencies come as
# binary wheels (psycopg[binary], argon2-cffi), so no compiler is needed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY housing ./housing
COPY sensors ./sensors
COPY billing ./billing
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir . \
    && rm -rf /src/build

# The working directory of the running processes: writable by the app user (the
# default SQLite file ./housing.db would land here if no HOUSING_DB__URL is given).
WORKDIR /app
# var/* are where compose mounts the uploads' volumes; made here so that each volume starts
# owned by the app user.
RUN mkdir -p /app/var/request-photos /app/var/announcement-files /app/var/meeting-files \
    && chown -R housing:housing /app
USER housing:housing

EXPOSE 8000

CMD ["housing", "serve", "--host", "0.0.0.0", "--port", "8000"]
