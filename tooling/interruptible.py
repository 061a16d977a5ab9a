"""Run a long command (pip, from the Makefile) so that Ctrl-C ends it with one line, no traceback.

`python tooling/interruptible.py WHAT COMMAND [ARG ...]`: runs COMMAND in a session of its own,
so the terminal's Ctrl-C reaches this wrapper only. On Ctrl-C it stops COMMAND (SIGTERM, then
SIGKILL), prints `make: stopped by Ctrl-C while WHAT; run the same command again` and exits 130;
otherwise it exits with COMMAND's status. Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import subprocess
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as tooling.venv
STOP_SECONDS = 10


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: interruptible.py WHAT COMMAND [ARG ...]", file=sys.stderr)
        return 2
    what, command = argv[0], argv[1:]
    proc = subprocess.Popen(command, start_new_session=True)  # noqa: S603 - the Makefile's own
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"make: stopped by Ctrl-C while {what}; run the same command again", flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping the command
        raise SystemExit(EXIT_INTERRUPTED) from None
