#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing but Python 3.11+ installed.

python3 dev.py run    # venv in .venv, install, migrate, seed the demo, web server + a Celery worker per queue
python3 dev.py test   # the whole test suite (extra arguments go to pytest)
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".installed"
REQUIREMENTS = ROOT / "requirements-dev.txt"


def install() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"ccb needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    newest = max(REQUIREMENTS.stat().st_mtime, (ROOT / "requirements.txt").stat().st_mtime)
    if not STAMP.exists() or STAMP.stat().st_mtime < newest:
        print("Installing the pinned requirements ...", flush=True)
        subprocess.check_call([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        subprocess.check_call([PY, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS])
        STAMP.touch()


def manage(*args: str, env: dict) -> None:
    subprocess.check_call([PY, "manage.py", *args], cwd=ROOT, env=env)


def run() -> int:
    install()
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    host, port = env.get("CCB_HOST", "127.0.0.1"), env.get("CCB_PORT", "8000")
    manage("migrate", "--noinput", "-v0", env=env)
    manage("seed_demo", env=env)
    log = open(ROOT / "var" / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    # The demo's mail goes to a local SMTP sink that keeps every message in var/mail (a Maildir).
    mail_port = env.setdefault("EMAIL_PORT", "1025")
    sink = subprocess.Popen(
        [
            PY,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{mail_port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(ROOT / "var" / "mail"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    # One worker per queue, as in production: a long bake never delays mail. Beat rides with the
    # notifications worker (exactly one beat).
    queues = {
        "deployments": [],
        "notifications,default": ["--beat", "--schedule", str(ROOT / "var" / "celerybeat-schedule")],
        "exports": [],
    }
    workers = [
        subprocess.Popen(
            [
                VENV / "bin" / "celery",
                "-A",
                "ccb",
                "worker",
                "--loglevel=info",
                "--pool=solo",
                "-Q",
                queue,
                f"--hostname={queue.split(',')[0]}@%h",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        for queue, extra in queues.items()
    ]
    print(
        f"\n  ccb is running at http://{host}:{port}/  (sign in with a demo login above)\n"
        f"  API docs: http://{host}:{port}/api/docs/   Admin: http://{host}:{port}/admin/\n"
        f"  Celery workers log: var/worker.log          Mail sent: var/mail/new/ (one file a message)\n"
        f"  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        return subprocess.call([PY, "manage.py", "runserver", f"{host}:{port}", "--noreload"], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (*workers, sink):
            process.terminate()
        for process in (*workers, sink):
            process.wait(10)


def test(args: list[str]) -> int:
    install()
    return subprocess.call([PY, "-m", "pytest", *args], cwd=ROOT)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "install"}:
        print(__doc__)
        return 2
    command = sys.argv[1]
    if command == "run":
        return run()
    if command == "test":
        return test(sys.argv[2:])
    install()
    return 0


if __name__ == "__main__":
    sys.exit(main())
