"""Commands: ``serve`` (lookup service), ``publish`` and ``rollback`` (graph versions)."""

from __future__ import annotations

import os
import tempfile
from typing import Annotated

import typer

from idgraph.cli.app import app
from idgraph.cli.common import (
    DateOpt,
    console,
    err_console,
    parse_day,
    setup_logging,
    summary_table,
)
from idgraph.core.redaction import redact
from idgraph.core.settings import AppSettings, load_settings, settings_json
from idgraph.core.settings.environment import SETTINGS_JSON_ENV

OptionalLake = Annotated[
    str | None,
    typer.Option("--lake", help="Lake root (its embedded Valkey is used without a URL)."),
]
RedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-url", help="redis://host:port of a server or cluster node; default: embedded."
    ),
]
ClusterOpt = Annotated[bool, typer.Option("--cluster", help="The URL is a Redis Cluster node.")]


def _settings(lake: str | None, redis_url: str | None, cluster: bool) -> AppSettings:
    return load_settings(
        lake={"root": lake}, redis={"url": redis_url, "cluster": True if cluster else None}
    )


@app.command()
def serve(
    lake: OptionalLake = None,
    redis_url: RedisUrlOpt = None,
    cluster: ClusterOpt = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: IDGRAPH_PORT or 8080).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the lookup service (API keys from IDGRAPH_API_KEYS)."""
    import uvicorn

    from idgraph.core.embedded import start_embedded

    setup_logging()
    settings = _settings(lake, redis_url, cluster)
    embedded = None
    url = settings.redis.url
    if not url:
        embedded = start_embedded(
            settings.lake.root,
            port=settings.redis.embedded_port,
            listpack_entries=settings.redis.listpack_entries,
            listpack_value=settings.redis.listpack_value,
        )
        url = embedded.url
    # uvicorn starts workers from an import string, never an object: the settings validated
    # here (flags and the embedded server's URL included) reach create_served_app whole, as
    # one variable, rather than as IDGRAPH_* variables each worker would read again.
    served = settings.model_copy(update={"redis": settings.redis.model_copy(update={"url": url})})
    os.environ[SETTINGS_JSON_ENV] = settings_json(served)
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="idgraph-prom-"))
    listen_port = port or settings.service.port
    if not settings.service.api_key_list():
        err_console.print("[yellow]IDGRAPH_API_KEYS is empty: every lookup will get 401.[/]")
    console.print(
        summary_table(
            "idgraph serve",
            {
                "listening": f"http://{host}:{listen_port}",
                "redis": redact(url) + (" (embedded)" if embedded else ""),
                "workers": workers,
                "api keys": len(settings.service.api_key_list()),
            },
        )
    )
    try:
        uvicorn.run(
            "lookup_service.main:create_served_app",
            factory=True,
            host=host,
            port=listen_port,
            workers=workers,
            http="lookup_service.http:CappedHttpTools",  # httptools, headers capped
            log_level="warning",
            access_log=False,
        )
    finally:
        if embedded is not None:
            embedded.stop()


@app.command()
def publish(
    lake: Annotated[str, typer.Option("--lake", help="Lake root (path or s3://).")],
    date: DateOpt,
    redis_url: RedisUrlOpt = None,
    cluster: ClusterOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Publish even if the gate failed.")
    ] = False,
    break_lock: Annotated[
        bool,
        typer.Option(
            "--break-lock",
            help="Remove the publish lock first, whoever holds it (after a publisher died).",
        ),
    ] = False,
) -> None:
    """Publish identity_graph/dt=DATE to Redis as a new version and switch to it."""
    from rich.markup import escape

    from idgraph.core.stage import StageFailed
    from idgraph.pipeline import build_session
    from spark_jobs.graph.publish import run_publish

    setup_logging()
    day = parse_day(date)
    settings = _settings(lake, redis_url, cluster)
    if settings.redis.url and not break_lock:  # a held lock: say so before Spark starts
        _fail_if_locked(settings)
    spark = build_session(settings)
    try:
        with console.status(f"publishing {day}"):
            result = run_publish(spark, settings, day, force=force, break_lock=break_lock)
    except StageFailed as exc:
        err_console.print(f"[red]{escape(redact(str(exc)))}[/]", soft_wrap=True)  # one line
        raise typer.Exit(1) from exc
    finally:
        spark.stop()
    console.print(summary_table(f"published {day}", result.summary))


def _fail_if_locked(settings: AppSettings) -> None:
    import redis
    from rich.markup import escape

    from idgraph.core import versions

    client = versions.RedisTarget(settings.redis.url or "", cluster=settings.redis.cluster).client()
    try:
        versions.ensure_lock_free(client)
    except versions.LockHeld as exc:
        err_console.print(f"[red]{escape(f'[publish] {exc}')}[/]", soft_wrap=True)
        raise typer.Exit(1) from exc
    except redis.RedisError as exc:
        err_console.print(f"[red]{escape(redact(f'[publish] Redis unreachable: {exc}'))}[/]")
        raise typer.Exit(1) from exc
    finally:
        client.close()


@app.command()
def rollback(
    lake: OptionalLake = None, redis_url: RedisUrlOpt = None, cluster: ClusterOpt = False
) -> None:
    """Make the previous graph version live again (the current one expires)."""
    from idgraph.core import versions
    from idgraph.core.embedded import redis_target

    setup_logging()
    settings = _settings(lake, redis_url, cluster)
    with redis_target(settings) as url:
        client = versions.RedisTarget(url, cluster=settings.redis.cluster).client()
        try:
            live, retired = versions.rollback(client, retired_ttl_s=settings.redis.retired_ttl_s)
        except RuntimeError as exc:
            err_console.print(f"[red]{redact(str(exc))}[/]")
            raise typer.Exit(1) from exc
        finally:
            client.close()
    console.print(
        summary_table(
            "rollback",
            {
                "live": live.name,
                "cookies": live.cookies,
                "rolled back": retired.name,
                "expires in s": settings.redis.retired_ttl_s,
            },
        )
    )
