"""Import keys: stable ids that let the database skip rows an earlier upload already stored."""

from __future__ import annotations

import datetime
import hashlib
from array import array

_SEPARATOR = "\x1f"  # cannot occur in a trimmed description, so fields cannot run together
_MIN_SLOTS = 16


def normalise_description(description: str) -> str:
    """Case and spacing differences between two exports of one statement must not matter."""
    return " ".join(description.casefold().split())


class ImportKeys:
    """Issues keys for one file, numbering repeats of an identical transaction.

    Two coffees of the same price on the same day are two transactions, so the second gets
    occurrence 1; re-uploading the file reproduces the same numbering and thus the same keys.

    Only a 64-bit fingerprint per distinct transaction is remembered, in a flat open-addressing
    table (about 16 bytes per row, against some 130 for a dict of digests): a 50,000-row file
    is 2.6 MB, and its keys must not cost more memory than the file itself. Two different
    transactions sharing a fingerprint (odds near 1e-10 for such a file) would only share an
    occurrence counter: still the same keys on every upload of the file.
    `expected` rows size the table once; it grows if more come.
    """

    __slots__ = ("_repeats", "_slots", "_used")

    def __init__(self, expected: int = 0) -> None:
        self._slots = array("Q", [0]) * max(_MIN_SLOTS, 2 * expected)  # 0 marks a free slot
        self._used = 0
        self._repeats: dict[int, int] = {}  # occurrences so far, of fingerprints seen twice+

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
        occurrence = self._sighting(int.from_bytes(digest[:8], "big") or 1)
        return hashlib.sha256(encoded + f"{_SEPARATOR}{occurrence}".encode()).hexdigest()

    def _sighting(self, fingerprint: int) -> int:
        """How often `fingerprint` was seen before this sighting, which is recorded."""
        slots = self._slots
        index = fingerprint % len(slots)
        while (held := slots[index]) != 0:
            if held == fingerprint:
                occurrence = self._repeats.get(fingerprint, 1)
                self._repeats[fingerprint] = occurrence + 1
                return occurrence
            index = (index + 1) % len(slots)
        slots[index] = fingerprint
        self._used += 1
        if 2 * self._used > len(slots):  # past half full, linear probing slows down
            self._grow()
        return 0

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", [0]) * (2 * len(old))
        size = len(self._slots)
        for fingerprint in old:
            if fingerprint:
                index = fingerprint % size
                while self._slots[index]:
                    index = (index + 1) % size
                self._slots[index] = fingerprint
