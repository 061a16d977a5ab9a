"""A failed job's error as the queue keeps it (clipped) and logs it (one line, class apart,
without what a database driver quotes after its message), and values safe in a key=value line.
"""

from __future__ import annotations

import json
import re

MAX_ERROR_LENGTH = 500
_ERROR_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,100}")
# What a driver error quotes after its message: the SQL query, its parameters (amounts and
# descriptions) and a link. None of it belongs in a log line.
_QUOTED = ("\n[SQL:", "\n[parameters:", "\n(Background on", "[SQL:", "[parameters:")
MAX_LOGGED_ERROR = 300


def failure_summary(error: str) -> tuple[str, str]:
    """An error text ("DataError: (psycopg...) bigint out of range\n[SQL: ...]") as its class
    and a one-line message without the quoted query and parameters."""
    for marker in _QUOTED:
        error = error.split(marker, 1)[0]
    head, colon, rest = error.partition(": ")
    if colon and _ERROR_CLASS.fullmatch(head):
        error_class, message = head, rest
    else:
        error_class, message = "-", error
    message = " ".join(message.split())
    if len(message) > MAX_LOGGED_ERROR:
        message = message[: MAX_LOGGED_ERROR - 1] + "…"
    return error_class, message


_PLAIN_VALUE = re.compile(r"[^\s\"=]{1,255}")


def plain(value: str) -> str:
    """A value as is in a key=value line, or JSON-quoted when it could break the line."""
    return value if _PLAIN_VALUE.fullmatch(value) else json.dumps(value)


def clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR_LENGTH else error[: MAX_ERROR_LENGTH - 1] + "…"
