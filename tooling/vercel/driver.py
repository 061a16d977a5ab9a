"""Run inside a copied Vercel function, by the interpreter of its runtime: stdlib only.

    python -S driver.py FUNCTION_DIR RESULT_FD

Imports the handler the way the runtime does with no IPC socket (`vc__handler__python`, with
the function's folder first on sys.path, as the task root is), then reads one event per line on
stdin, calls `vc_handler(event, None)` and writes each result as one JSON line on RESULT_FD, so
nothing the app prints can be mistaken for an answer. The first line on RESULT_FD reports the
import: {"imported": time.monotonic()} (the clock is shared with the parent on Linux).
"""

import json
import os
import sys
import time

root, result_fd = sys.argv[1], int(sys.argv[2])
# This file's own folder must not be importable from the function.
sys.path[0] = root
os.chdir(root)
results = os.fdopen(result_fd, "w", buffering=1)

import vc__handler__python as entry  # noqa: E402 - the runtime imports it after setting the path

results.write(json.dumps({"imported": time.monotonic()}) + "\n")
for line in sys.stdin:
    event = json.loads(line)
    try:
        answer = entry.vc_handler(event, None)
    except BaseException as exc:  # noqa: BLE001 - report it as the platform's 502 would
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    results.write(json.dumps(answer) + "\n")
