"""Credentials out of what we print: ``redis://user:password@host`` → ``redis://***@host``.

Every banner, summary and log line that may carry a Redis URL (or an error message quoting
one) goes through ``redact``; ``RedactingFilter`` applies it to log records, and
``idgraph.cli.common.setup_logging`` installs it on every handler.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://userinfo@ — the userinfo (user, user:password or :password) up to the last "@"
# before the host; it contains no "/", whitespace or quote.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@'\"]+)@")


def redact(text: str) -> str:
    """``text`` with the credentials of every ``scheme://user:password@`` URL in it masked.

    Host, port, database and query stay readable: ``rediss://:tok@h:6379/0`` →
    ``rediss://***@h:6379/0``. Text without credentials is returned unchanged.
    """
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


class RedactingFilter(logging.Filter):
    """Masks URL credentials in a log record's message (arguments merged first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
