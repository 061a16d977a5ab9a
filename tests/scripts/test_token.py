from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.base.auth import verify_token
from core.base.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_token_script_mints_a_valid_token(env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_JWT_SECRET", "script-test-secret-0123456789abcdef")
    env.setenv("AUTH_JWT_AUDIENCE", "tally-app")
    done = subprocess.run(
        [sys.executable, "scripts/token.py", "user-42", "--ttl-seconds", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    assert verify_token(done.stdout.strip(), Settings()) == "user-42"


def test_token_script_refuses_bad_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/token.py", "u", "--ttl-seconds", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2


def bare_python() -> Path:
    """An interpreter without the project's dependencies (the system's, not the venv's)."""
    bare = Path(sys.base_prefix) / "bin" / "python3"
    probe = subprocess.run([bare, "-c", "import sqlmodel"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("the base interpreter has the dependencies installed")
    return bare


def test_started_without_the_venv_it_reexecs_under_it(env: pytest.MonkeyPatch) -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in this checkout (make venv builds it)")
    env.setenv("AUTH_JWT_SECRET", "script-test-secret-0123456789abcdef")
    done = subprocess.run(
        [bare_python(), "scripts/token.py", "alice"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert verify_token(done.stdout.strip(), Settings()) == "alice"


def test_without_any_venv_it_says_what_to_run(tmp_path: Path) -> None:
    # A checkout with no .venv yet: the script's own files, nothing installed.
    for part in ("scripts/token.py", "tooling/__init__.py", "tooling/venv.py"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes((ROOT / part).read_bytes())
    done = subprocess.run(
        [bare_python(), "scripts/token.py", "alice"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "make venv" in done.stderr
    assert "make token ARGS='alice'" in done.stderr


def test_prints_the_dev_secrets_from_the_state_file(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / ".tally"
    state.mkdir(exist_ok=True)
    cron, admin = "c" * 32, "a" * 32
    (state / "dev.env").write_text(f"CRON_SECRET={cron}\nADMIN_SECRET={admin}\n")
    for flag, expected in (("--cron-secret", cron), ("--admin-secret", admin)):
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "token.py"), flag],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected
