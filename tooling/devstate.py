"""`make dev`'s state file: the local endpoints and secrets, kept across restarts.

`scripts/dev.py` writes `<state folder>/dev.env` (KEY=value lines, mode 0600, git-ignored with
the rest of `.tally/`); `Settings` reads it as its lowest-priority env file, so `scripts/drain.py`,
`scripts/token.py` and the Makefile targets in a second terminal talk to the same queue, database
and secrets with no export. Secrets are generated once and kept: a curl line pasted yesterday
still works after a restart.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from core.base.settings import DEV_STATE_FILE, state_dir

# Generated when neither the environment nor an earlier run supplies them.
GENERATED_SECRETS = ("CRON_SECRET", "ADMIN_SECRET", "UPSTASH_REDIS_REST_TOKEN")
SECRET_BYTES = 24
_HEADER = (
    "# Written by `make dev` (scripts/dev.py); read by every Tally command on this machine.\n"
    "# Secrets are kept across restarts; delete this file to get new ones.\n"
)


def state_file(folder: Path | None = None) -> Path:
    return (folder or state_dir()) / DEV_STATE_FILE


def read(path: Path) -> dict[str, str]:
    """The file's KEY=value pairs; an absent file is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def write(path: Path, values: Mapping[str, str]) -> None:
    """Replace the file in one step (a reader never sees half of it), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        if "\n" in value or "\n" in name:
            raise ValueError(f"{name}: a value in the state file must be one line")
    body = _HEADER + "".join(f"{name}={value}\n" for name, value in values.items())
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(body)
    os.replace(temporary, path)


def kept_secret(name: str, given: str | None, previous: Mapping[str, str]) -> str:
    """The value set for this run, else the one an earlier run generated, else a new one."""
    if given:
        return given
    return previous.get(name) or secrets.token_urlsafe(SECRET_BYTES)
