"""Project hygiene that CI must keep: lint, migrations in step with models, production settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    # The browser tests relax Django's async guard for their own process; a real deployment never does.
    env = {k: v for k, v in (env or os.environ).items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)


def test_ruff_is_clean():
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_policies_services_and_selectors():
    # The files are listed in pyproject.toml ([tool.mypy] files).
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_model_change_has_its_migration():
    result = run(sys.executable, "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_pass_the_deploy_check():
    env = {
        **os.environ,
        "CCB_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "ccb.example.com",
        "DEBUG": "0",
    }
    result = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"CCB_PRODUCTION": "1"}
    result = run(sys.executable, "manage.py", "check", env=env)
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def test_the_zero_setup_defaults_keep_everything_under_var(tmp_path):
    """On a fresh checkout, migrate and seed_demo on their own: no traceback, nothing written outside var/."""
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CI"}}
    env["CCB_VAR_DIR"] = str(var)
    before = set(os.listdir(ROOT))
    for command in (("migrate", "--noinput", "-v0"), ("seed_demo",)):
        result = run(sys.executable, "manage.py", *command, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 0 and "Traceback" not in output, output[-3000:]
    assert set(os.listdir(ROOT)) == before, "something was written next to manage.py"
    assert (var / "ccb.sqlite3").exists() and (var / "broker-control").is_dir()
