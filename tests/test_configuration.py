"""Settings come from the environment; each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a" * 20 + "-production-secret-" + "z" * 30,
    "ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "postgres://smarketing@db.example.com:5432/smarketing",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'health': s.DATABASES['default']['CONN_HEALTH_CHECKS'], "
    "'email': s.EMAIL_BACKEND}))"
)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "DJANGO_SETTINGS_MODULE", "EMAIL_URL"}}
    clean |= {"DJANGO_SETTINGS_MODULE": "smarketing.settings", **env}
    return subprocess.run(args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def probe(env: dict[str, str]) -> dict:
    result = run([sys.executable, "-c", PROBE], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_nothing_set_sqlite_and_eager_tasks():
    found = probe({})
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["eager"] is True and found["broker"] == "memory://"
    assert found["health"] is True


def test_with_services_set_postgres_and_redis():
    found = probe(PRODUCTION)
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["eager"] is False and found["broker"] == PRODUCTION["REDIS_URL"]
    assert found["email"] == "django.core.mail.backends.smtp.EmailBackend"


def test_production_without_secret_key_fails_loudly():
    result = run([sys.executable, "-c", PROBE], {"DEBUG": "false"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
