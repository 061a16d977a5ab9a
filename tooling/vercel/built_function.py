"""A built function, copied out of `.vercel/output` and served as the platform serves it.

The `.func` folder holds the handler trampoline and `.vc-config.json`, whose `filePathMap` maps
each bundle path to its source in the built project: together they are the function's files.
The copy is started by the interpreter of the function's runtime (python3.12 for
"python3.12"), with no site-packages (`-S`: only what the bundle ships is importable), the
environment the config declares plus the given variables, and nothing inherited.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tooling.vercel.output import Function, Output, python_minor
from tooling.vercel.toolchain import require_python

DRIVER = Path(__file__).resolve().parent / "driver.py"
ANSWER_TIMEOUT_SECONDS = 120


def copy_function(out: Output, function: Function, dest: Path) -> Path:
    """The function's files in `dest`, laid out as the platform unpacks them."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for bundle_path, source in function.file_map.items():
        target = dest / bundle_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out.project / source, target)
    for own in function.own_files():
        target = dest / own.relative_to(function.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(own, target)
    return dest


def runtime_python(function: Function) -> Path:
    minor = python_minor(function.runtime)
    if minor is None:
        raise ValueError(f"not a Python runtime: {function.runtime!r}")
    return require_python(f"3.{minor}")


@dataclass
class Answer:
    status: int
    headers: dict[str, Any]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def event(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> dict[str, Any]:
    """The invocation event `vercel_runtime.vc_init.vc_handler` reads (no IPC socket)."""
    payload: dict[str, Any] = {
        "method": method,
        "path": path,  # path and query string, as the request line has them
        "headers": {"host": "tally.local", "x-forwarded-proto": "https", **(headers or {})},
    }
    if body is not None:
        payload["body"] = base64.b64encode(body).decode()
        payload["encoding"] = "base64"
    return {"body": json.dumps(payload)}


@dataclass
class ServedFunction:
    """One warm instance of the copied function: `call` sends it one request at a time."""

    folder: Path
    python: Path
    config: dict[str, Any]
    env: dict[str, str]
    started_at: float = 0.0
    imported_at: float = 0.0
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _results: IO[str] | None = field(default=None, repr=False)

    def start(self) -> ServedFunction:
        read_fd, write_fd = os.pipe()
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            **self.config.get("environment", {}),
            **self.env,
        }
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(  # noqa: S603 - the runtime's interpreter, our driver
            [str(self.python), "-S", str(DRIVER), str(self.folder), str(write_fd)],
            cwd=self.folder,
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r")
        self.imported_at = float(self._read()["imported"])
        return self

    def _running(self) -> tuple[subprocess.Popen[str], IO[str]]:
        if self._process is None or self._results is None:
            raise RuntimeError("the function is not started")
        return self._process, self._results

    def _read(self) -> dict[str, Any]:
        process, results = self._running()
        line = results.readline()
        if not line:
            code = process.wait(timeout=ANSWER_TIMEOUT_SECONDS)
            raise RuntimeError(f"the function exited ({code}) without answering; see its stderr")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        process, _ = self._running()
        assert process.stdin is not None  # started with stdin=PIPE
        process.stdin.write(json.dumps(event(method, path, headers, body or None)) + "\n")
        process.stdin.flush()
        result = self._read()
        if "error" in result:
            raise RuntimeError(f"vc_handler raised {result['error']}")
        raw = result.get("body", "")
        data = base64.b64decode(raw) if result.get("encoding") == "base64" else raw.encode()
        return Answer(status=int(result["statusCode"]), headers=result["headers"], body=data)

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._results is not None:
            self._results.close()
        self._process = None

    def __enter__(self) -> ServedFunction:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(folder: Path, function: Function, env: dict[str, str]) -> ServedFunction:
    """Not started yet: use it as a context manager."""
    return ServedFunction(
        folder=folder, python=runtime_python(function), config=function.config, env=env
    )
