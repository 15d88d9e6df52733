"""Read a response body of at most ``limit`` decoded bytes, whatever its Content-Encoding.

httpx decodes each network chunk in full (``aiter_bytes``), so 64 KB of gzip can become 64 MB
in memory before any cap is checked: a decompression bomb. Here the raw bytes are inflated with
zlib's ``max_length``, so no more than the cap (plus one byte, to know it was passed) is ever
produced. Only the encodings the crawler asks for (``ACCEPT_ENCODING``) are decoded; anything
else is refused rather than read as garbage.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from socialcrm.discovery.failures import FetchFailed

ACCEPT_ENCODING: Final = "gzip, deflate"
# Real HTML compresses 3-20 times; a body that inflates past the cap at 100 times its size or
# more is built to exhaust memory, not to be read.
BOMB_RATIO: Final = 100


@dataclass(frozen=True, slots=True)
class Body:
    data: bytes
    truncated: bool


class _Inflater:
    """One Content-Encoding, decoded a bounded piece at a time."""

    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        self.encoding = encoding.strip().lower()
        self._tail = b""
        self._raw_deflate_tried = False
        if self.encoding in ("", "identity"):
            self._zlib = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._zlib = zlib.decompressobj()  # zlib-wrapped, as RFC 9110 says; raw if not
        else:
            raise FetchFailed("unsupported_encoding", f"{url}: Content-Encoding {encoding!r}")

    @property
    def compressed(self) -> bool:
        return self._zlib is not None

    def feed(self, data: bytes, room: int) -> bytes:
        """At most ``room`` decoded bytes of what was received so far."""
        if self._zlib is None:
            return data[:room]
        pending = self._tail + data
        try:
            out = self._zlib.decompress(pending, room)
        except zlib.error as exc:
            if self.encoding != "deflate" or self._raw_deflate_tried:
                raise FetchFailed("bad_encoding", f"{self.url}: {self.encoding}: {exc}") from exc
            self._raw_deflate_tried = True  # servers that send raw deflate (as browsers accept)
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data, room)
        self._raw_deflate_tried = True
        self._tail = self._zlib.unconsumed_tail
        return out

    @property
    def backlog(self) -> int:
        """Raw bytes received but not yet inflated (they wait for room)."""
        return len(self._tail)


async def read_body(
    url: str, chunks: AsyncIterator[bytes], content_encoding: str, limit: int
) -> Body:
    """The decoded body of ``url``, cut at ``limit`` bytes; raises FetchFailed for a bomb or an
    encoding we did not ask for."""
    inflater = _Inflater(url, content_encoding)
    out = bytearray()
    raw = 0
    async for chunk in chunks:
        raw += len(chunk)
        out += inflater.feed(chunk, limit + 1 - len(out))
        if len(out) > limit:
            consumed = max(1, raw - inflater.backlog)
            if inflater.compressed and len(out) >= BOMB_RATIO * consumed:
                what = f"{url}: {consumed:,} bytes of {inflater.encoding}"
                raise FetchFailed("decompression_bomb", f"{what} inflate past {limit:,} bytes")
            return Body(bytes(out[:limit]), truncated=True)
    return Body(bytes(out), truncated=False)
