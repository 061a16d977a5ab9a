"""`make dev` runs the whole stack with embedded defaults and no external service."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    return {k: v for k, v in os.environ.items() if k in keep}


def test_dev_stack_serves_health_with_no_external_service(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev.py"), "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            assert response.status_code == 200, response.text
            body = response.json()
            break
        assert body is not None, "dev server did not answer"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["queue"]["ok"] is True
        assert (tmp_path / ".tally" / "tally.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "export TOKEN=" in output
    assert "Tally stopped." in output
