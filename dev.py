#!/usr/bin/env python3
"""Set up Relais in ./.venv from the lock file, then run the demo or the test suite.

    python3 dev.py demo              # the main job: sandbox CRMs + Relais on SQLite
    python3 dev.py test              # the whole test suite on SQLite (two pytest workers)
    python3 dev.py test --postgres   # the same suite against PostgreSQL (RELAIS_TEST_POSTGRES_URL)
    python3 dev.py check             # ruff, mypy, alembic check

Only the standard library is used here, so a fresh clone needs nothing but Python >= 3.11.
Extra arguments after `test` go to pytest; after `demo`, to `relais demo`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".relais-lock-stamp"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _lock_digest() -> str:
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the pinned dependencies when the lock file changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Relais needs Python >= 3.11, this is {sys.version.split()[0]}")
    if STAMP.exists() and STAMP.read_text() == _lock_digest() and _bin("relais").exists():
        return
    if not _bin("python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = str(_bin("python"))
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print("dev.py: installing pinned dependencies from requirements.lock", flush=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(_lock_digest())


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    ensure_venv()
    env = dict(os.environ)
    if command == "demo":
        return run([str(_bin("relais")), "demo", *rest], env)
    if command == "test":
        if "--postgres" in rest:
            rest = [a for a in rest if a != "--postgres"]
            env["RELAIS_TEST_DATABASE"] = "postgresql"
            env.setdefault("RELAIS_TEST_POSTGRES_URL", DEFAULT_PG_URL)
        # Two pytest workers (pytest-xdist): most tests wait on servers, two cores share them.
        chosen = any(a.startswith(("-n", "--numprocesses")) for a in rest)
        parallel = [] if chosen else ["-n", "2"]
        return run([str(_bin("python")), "-m", "pytest", *parallel, *rest], env)
    if command == "check":
        steps = [
            [str(_bin("ruff")), "check", "."],
            [str(_bin("ruff")), "format", "--check", "."],
            [str(_bin("mypy"))],
            [str(_bin("python")), "-m", "app.cli", "db", "check"],
        ]
        for step in steps:
            print(
                "dev.py:",
                " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)),
                flush=True,
            )
            if code := run(step, env):
                return code
        return 0
    print(f"dev.py: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
