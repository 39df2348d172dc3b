from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from returndesk.catalog.inputs import OrderInput


@dataclass(frozen=True)
class Skip:
    """A source row (or record) left out of the import, with the reason the user is shown."""

    line: int
    reason: str
    key: str = ""


@dataclass(frozen=True)
class Note:
    """Something worth reporting that did not stop the row from landing (e.g. a duplicate)."""

    line: int
    message: str
    key: str = ""


@dataclass(frozen=True)
class ParsedOrder:
    order: OrderInput
    first_line: int


ParseEvent = ParsedOrder | Skip | Note


class ImportFormatError(Exception):
    """The file as a whole cannot be read in this format (the message says why)."""


class CountingReader(io.RawIOBase):
    """Counts bytes read from the underlying (compressed) file, for the progress bar."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n


def open_text(path: Path) -> tuple[IO[str], CountingReader]:
    """Open a file for streaming text reading, gunzipping `.gz` transparently."""
    raw = path.open("rb")
    counter = CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=1 << 16)
    head = buffered.peek(2)[:2]
    stream = cast(IO[bytes], gzip.GzipFile(fileobj=buffered) if head == b"\x1f\x8b" else buffered)
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), counter


class BloomFilter:
    """A fixed-size set membership test with no false negatives and rare false positives.

    The importers use it to remember keys they have finished with, in memory that does not grow
    with the file: 4 MiB and 7 hashes give a false-positive rate near 1e-9 at 250,000 keys and
    near 1e-5 at 1,000,000.
    """

    def __init__(self, size_bytes: int = 4 * 1024 * 1024, hashes: int = 7) -> None:
        self.bits = bytearray(size_bytes)
        self.size = size_bytes * 8
        self.hashes = hashes

    def _positions(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first = int.from_bytes(digest[:8], "little")
        second = int.from_bytes(digest[8:], "little") | 1
        return [(first + i * second) % self.size for i in range(self.hashes)]

    def add(self, key: str) -> None:
        for position in self._positions(key):
            self.bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: str) -> bool:
        return all(self.bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))
