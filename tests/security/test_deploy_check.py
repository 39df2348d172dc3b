"""`manage.py check --deploy` is clean with the production settings (QUALITY.md, security):
HSTS, secure cookies, the SSL redirect behind the proxy's header, a real mailer. Run in a fresh
process, as production starts, with only what production must set."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RETURNDESK_"))}
    for name in ("DEBUG", "SECRET_KEY", "EMAIL_BACKEND", "SECURE_SSL_REDIRECT", "LOG_LEVEL"):
        env.pop(name, None)
    return {
        **env,
        "RETURNDESK_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "RETURNDESK_SECRETS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "returns.example.com",
        # never connected to: the checks read the configuration only
        "DATABASE_URL": "postgres://returndesk@127.0.0.1:5432/returndesk",
        "RETURNDESK_VAR_DIR": str(tmp_path),
    }


def returndesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "returndesk.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    done = returndesk("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    for missing in ("SECRET_KEY", "RETURNDESK_SECRETS_KEYS"):
        env = production_env(tmp_path)
        del env[missing]
        done = returndesk("check", env=env)
        assert done.returncode != 0 and f"{missing} must be set" in done.stderr


def test_production_settings_keep_outside_libraries_quiet(tmp_path: Path) -> None:
    """The payment and carrier clients log every request at INFO (Stripe: "Request to Stripe
    api" with its URL); production hears them from WARNING only, and every handler redacts."""
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.LOGGING['loggers'], "
        "[h.get('filters', []) for h in s.LOGGING['handlers'].values()]]))"
    )
    env = {**production_env(tmp_path), "DJANGO_SETTINGS_MODULE": "returndesk.config.settings"}
    done = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loggers, handler_filters = json.loads(done.stdout)
    for library in ("stripe", "urllib3", "easypost"):
        assert loggers[library]["level"] == "WARNING"
    assert all("redact_secrets" in filters for filters in handler_filters)
