"""A deadline for request headers, which uvicorn lacks: a client that opens a connection and
sends its headers a byte at a time (slowloris) is cut off after ``header_timeout`` seconds
instead of holding a socket for as long as it likes. The body has its own deadline in the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("deepworks.serve")


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a timer from a request's first byte (or from the
    connection opening) to its last header; when it fires, the connection is closed."""

    header_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            client = ":".join(map(str, self.client)) if self.client else "a client"
            log.warning("%s: headers not complete in %g s; closed", client, self.header_timeout)
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadline]:
    """The protocol class for ``uvicorn.run(http=...)`` with this header deadline."""
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": seconds})
