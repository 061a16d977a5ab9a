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
