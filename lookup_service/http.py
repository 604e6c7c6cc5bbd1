"""uvicorn's httptools protocol with a cap on the request line and headers.

httptools (uvicorn's default parser, C speed on the lookup path) buffers headers without any
limit; h11 has ``h11_max_incomplete_event_size`` but parses in Python. This keeps httptools
and answers **431** once more than ``IDGRAPH_MAX_HEADER_BYTES`` arrive without the headers
being complete, or when complete headers exceed it. Use with ``uvicorn --http
lookup_service.http:CappedHttpTools`` (``idgraph serve`` and the Dockerfile do).
"""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from idgraph.core.settings import ServiceSettings

_MAX = ServiceSettings().max_header_bytes


class _HeadersTooLarge(Exception):
    pass


class CappedHttpTools(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses oversized request heads with 431."""

    max_header_bytes = _MAX

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_head = True
        self._head_bytes = 0
        self._head_too_large = False

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._head_too_large:
                self._send_431()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        if self._awaiting_head and self._head_bytes > self.max_header_bytes:
            self._send_431()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
        if size > self.max_header_bytes:
            self._head_too_large = True
            raise _HeadersTooLarge
        self._awaiting_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def _send_431(self) -> None:
        msg = f"request headers larger than {self.max_header_bytes} bytes"
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
            + f"content-length: {len(msg)}\r\nconnection: close\r\n\r\n{msg}".encode()
        )
        self.transport.close()
