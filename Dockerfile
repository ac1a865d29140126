# Smarketing: one image for the web process (gunicorn), the Celery worker and Celery beat.
# Build: docker build -t smarketing .   Run everything: see docker-compose.yml.
FROM python:3.11-slim

# gunicorn reads its worker count from WEB_CONCURRENCY (3 here); override per deployment.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first, so code changes do not invalidate this layer.
# psycopg2-binary ships a manylinux wheel: no compiler or libpq-dev is needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

# Unprivileged runtime user. The code stays owned by root (read-only for the app);
# only media/ is writable by it.
RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY . .

# Collect static files for WhiteNoise (compressed + hashed manifest when DEBUG=false).
# The key below exists only for this command; it is not baked into the image's environment,
# and settings.py refuses to start with DEBUG=false without a real SECRET_KEY.
RUN SECRET_KEY=build-only-not-secret DEBUG=false python manage.py collectstatic --noinput \
    && mkdir -p /app/media \
    && chown app:app /app/media

USER app

EXPOSE 8000

CMD ["gunicorn", "smarketing.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-"]
