"""The registry of background job kinds, by name: each module here defines one kind and calls
`register` (`financial_summary` is the `financial-summary` kind); `get_kind` finds one for the
drain's entry points. A new kind is one new module in this package. May import `core.base`,
`core.queue`, `core.summary`, `core.drain`, `core.notify` and `core.notify.channels`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from core.drain.kinds import JobKind

_REGISTRY: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    if kind.name in _REGISTRY and _REGISTRY[kind.name] is not kind:
        raise ValueError(f"job kind {kind.name!r} is registered twice")
    _REGISTRY[kind.name] = kind
    return kind


@cache
def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get_kind(name: str) -> JobKind:
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown job kind {name!r} (known: {known})") from None


def kinds() -> list[str]:
    _discover()
    return sorted(_REGISTRY)
