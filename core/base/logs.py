"""Secrets never reach a log, however Tally is served (uvicorn, Vercel, Lambda, the CLI).

`install_redaction` wraps the logging module's record factory, so every record any logger makes
(uvicorn's access log with its `?token=` query, httpx, the SDKs, our own lines) is scrubbed
before any handler sees it, whichever handlers the platform installed and whenever it did:
`?token=`-like query values, `Authorization`/Bearer credentials, passwords in URLs, and every
configured secret value. A traceback is formatted and scrubbed the same way. Each pattern is
linear in the text: a fixed prefix, then one run of a character class.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"

_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:token|access_token|secret|password|api_key|apikey|signature)=)[^&\s\"'#]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_HEADER = re.compile(
    r"(?i)((?:authorization|x-api-key)[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic)\s+)?[^\s\"',]+"
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]{0,256}:)[^@\s/]{1,256}@")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_installed = False


def redact(text: str) -> str:
    """`text` with every secret this module knows of replaced by [redacted]."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _QUERY_SECRET.sub(rf"\1{REDACTED}", text)
    text = _HEADER.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    return _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, int | float) or value is None:
        return value
    # Anything else is formatted later: scrub what it would print, and keep the object itself
    # (so %d, %.3f and %r still format it) when there is nothing to scrub.
    text = str(value)
    scrubbed = redact(text)
    return value if scrubbed == text else scrubbed


def _scrub_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_scrub(a) for a in args)
    if isinstance(args, dict):
        return {k: _scrub(v) for k, v in args.items()}
    return args


def _scrubbed_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        elif record.msg is not None:
            record.msg = redact(str(record.msg))
        record.args = _scrub_args(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
            record.exc_info = None  # handlers print exc_text; the raw exception stays out
    except Exception:  # noqa: BLE001 - a log line must never raise; drop its text instead
        record.msg, record.args = "[log line withheld: it could not be scrubbed]", ()
    return record


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Scrub every log record from now on; `secrets` are added to the exact values removed.

    Idempotent: calling it again (another app instance, a settings change) only adds values.
    """
    global _secrets, _installed
    with _lock:
        values = {s for s in (*_secrets, *secrets) if s and len(s) >= 4}
        # Longest first, so a secret that contains another is replaced whole.
        _secrets = tuple(sorted(values, key=len, reverse=True))
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _scrubbed_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
