#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing but Python 3.11+ installed.

python3 dev.py run    # venv in .venv, install, migrate, seed the demo, web server + a Celery worker per queue
python3 dev.py test   # the whole test suite (extra arguments go to pytest)
"""

import os
import socket
import subprocess
import sys
import time
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


def wait_for_port(host: str, port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"The AWS emulator exited (see var/worker.log); is port {port} free? Set CCB_MOTO_PORT.")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    sys.exit(f"The AWS emulator did not answer on {host}:{port} within {seconds:.0f} s.")


def run() -> int:
    install()
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
    host, port = env.get("CCB_HOST", "127.0.0.1"), env.get("CCB_PORT", "8000")
    env.setdefault("CCB_BASE_URL", f"http://{host}:{port}")
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    # The demo's AWS is moto in server mode on loopback: the engine deploys to it exactly as to AWS.
    moto_port = env.get("CCB_MOTO_PORT", "5055")
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    moto = subprocess.Popen(
        [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", moto_port], cwd=ROOT, stdout=log, stderr=log
    )
    wait_for_port("127.0.0.1", int(moto_port), moto)
    manage("migrate", "--noinput", "-v0", env=env)
    manage("seed_demo", env=env)
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
        f"  AWS (moto): http://127.0.0.1:{moto_port}\n"
        f"  Fire the demo canary's alarm during its bake: AWS_ENDPOINT_URL=http://127.0.0.1:{moto_port} "
        f".venv/bin/python manage.py demo_alarm ALARM\n"
        f"  Celery workers log: var/worker.log          Mail sent: var/mail/new/ (one file a message)\n"
        f"  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        return subprocess.call([PY, "manage.py", "runserver", f"{host}:{port}", "--noreload"], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (*workers, sink, moto):
            process.terminate()
        for process in (*workers, sink, moto):
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
