"""The uploaded file as the parser reads it: in chunks from an offset, under the size limit.

An upload reaches the parser either as `bytes` (tests, scripts) or as the seekable binary file
the web framework spooled it to, which is on disk once it passes 1 MB. Either way the parser
only ever holds a chunk (plus a partial line) of it: holding the whole upload would make the
server's memory grow with the file for no benefit, since every pass reads it front to back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from core.writes.statements.errors import StatementTooLarge

type StatementData = bytes | IO[bytes]
"""What `open_statement` reads: the file's bytes, or a seekable binary file (from its start)."""

CHUNK_BYTES = 65_536


class ByteSource:
    """A seekable file read by offset, refusing to read past `max_bytes`.

    The size is checked when the source is made (so a file over the limit is refused before
    any of it is read), and again while reading: a file whose size was misreported, or that
    grows between passes, still stops at the limit. Every read seeks first, so two iterations
    over the same source never disturb each other's position.
    """

    __slots__ = ("_file", "max_bytes", "size")

    def __init__(self, data: StatementData, max_bytes: int) -> None:
        # BytesIO shares the bytes object's buffer rather than copying it.
        file = io.BytesIO(data) if isinstance(data, bytes) else data
        if not file.seekable():
            raise ValueError("a statement file must be seekable: it is read more than once")
        self._file = file
        self.max_bytes = max_bytes
        self.size = file.seek(0, io.SEEK_END)
        if self.size > max_bytes:
            raise StatementTooLarge(
                f"The file is {self.size:,} bytes; the limit is {max_bytes:,} bytes."
            )

    def read(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset` (fewer at the end of the file)."""
        self._file.seek(offset)
        data = self._file.read(max(0, min(size, self.max_bytes + 1 - offset)))
        self._check(offset + len(data))
        return data

    def chunks(self, offset: int = 0) -> Iterator[bytes]:
        """The file from `offset` to its end, `CHUNK_BYTES` at a time."""
        while chunk := self.read(offset, CHUNK_BYTES):
            offset += len(chunk)
            yield chunk

    def read_all(self) -> bytes:
        """The whole file at once: only for formats that cannot be read in pieces (OFX).

        Joined from chunks: one read of the limit's size would allocate all of it up front.
        """
        return b"".join(self.chunks())

    def _check(self, end: int) -> None:
        if end > self.max_bytes:
            raise StatementTooLarge(
                f"The file is larger than the limit of {self.max_bytes:,} bytes."
            )
