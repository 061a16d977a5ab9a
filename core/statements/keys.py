"""Import keys: stable ids that let the database skip rows an earlier upload already stored."""

from __future__ import annotations

import datetime
import hashlib

_SEPARATOR = "\x1f"  # cannot occur in a trimmed description, so fields cannot run together


def normalise_description(description: str) -> str:
    """Case and spacing differences between two exports of one statement must not matter."""
    return " ".join(description.casefold().split())


class ImportKeys:
    """Issues keys for one file, numbering repeats of an identical transaction.

    Two coffees of the same price on the same day are two transactions, so the second gets
    occurrence 1; re-uploading the file reproduces the same numbering and thus the same keys.
    Only a digest per distinct transaction is remembered, never the rows themselves.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[bytes, int] = {}

    def for_content(
        self, date: datetime.date, amount_minor: int, currency: str, description: str
    ) -> str:
        canonical = _SEPARATOR.join(
            (date.isoformat(), str(amount_minor), currency, normalise_description(description))
        )
        return self._next(canonical)

    def for_fitid(self, account: str, fitid: str) -> str:
        """OFX rows: the bank's own transaction id, scoped to the account it belongs to."""
        return self._next(_SEPARATOR.join(("ofx-fitid", account, fitid)))

    def _next(self, canonical: str) -> str:
        encoded = canonical.encode("utf-8")
        digest = hashlib.sha256(encoded).digest()
        occurrence = self._seen.get(digest, 0)
        self._seen[digest] = occurrence + 1
        return hashlib.sha256(encoded + f"{_SEPARATOR}{occurrence}".encode()).hexdigest()
