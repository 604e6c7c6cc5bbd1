"""Command: ``idgraph simulate`` (raw pixel files and ground truth for a run of days)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from idgraph.cli.app import app
from idgraph.cli.common import (
    LakeOpt,
    console,
    err_console,
    parse_day,
    setup_logging,
    summary_table,
)
from idgraph.core.settings import load_settings

if TYPE_CHECKING:  # the simulator (numpy, pyarrow) is imported only when the command runs
    from idgraph.simulator import DayReport


@app.command()
def simulate(
    out: LakeOpt,
    start_date: Annotated[str, typer.Option("--start-date", help="First day, YYYY-MM-DD.")],
    days: Annotated[
        int | None, typer.Option(help="Number of days [IDGRAPH_SIM_DAYS, 7].", min=1)
    ] = None,
    people: Annotated[
        int | None, typer.Option(help="People in the world [IDGRAPH_SIM_PEOPLE, 2000].", min=1)
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed; same seed, same bytes [IDGRAPH_SIM_SEED, 42].")
    ] = None,
    bad_rate: Annotated[
        float | None,
        typer.Option(
            help="Injected bad records per good line, every kind of docs/bad-input.md [0 = none].",
            min=0.0,
            max=0.5,
        ),
    ] = None,
    activity: Annotated[
        float | None,
        typer.Option(help="Multiplier on sessions per active person-day [1.0: ~14 events]."),
    ] = None,
    profile: Annotated[
        Literal["default", "dense"] | None,
        typer.Option(
            help=(
                "World shape: default, or dense (few people, ~140 cookies each a month, "
                "households packed in a few /24s; 120 people unless --people) "
                "[IDGRAPH_SIM_PROFILE, default]."
            ),
        ),
    ] = None,
    panel_share: Annotated[
        float | None,
        typer.Option(
            "--panel-share",
            help="Share of people in the consented panel [IDGRAPH_SIM_PANEL_SHARE, 0.01].",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Simulate pixel traffic: raw/pixel/dt=…/*.json.gz plus the ground truth under truth/."""
    from idgraph.simulator import simulate as run_simulation

    setup_logging(verbose)
    start = parse_day(start_date, name="start-date")
    try:
        settings = load_settings(
            lake={"root": out},
            simulator={
                "people": people,
                "seed": seed,
                "bad_record_rate": bad_rate,
                "days": days,
                "activity": activity,
                "profile": profile,
                "panel_share": panel_share,
            },
        ).simulator
    except ValidationError as exc:
        err_console.print(f"[bold red]invalid settings:[/] {exc}")
        raise typer.Exit(code=2) from exc
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("simulating", total=settings.days)

        def on_day(report: DayReport) -> None:
            progress.update(
                task,
                advance=1,
                description=(
                    f"{report.day}: {report.lines:,} lines ({report.injected:,} injected bad) "
                    f"in {report.seconds:.1f}s"
                ),
            )

        summary = run_simulation(
            out,
            start,
            settings.days,
            settings.people,
            settings.seed,
            bad_rate=settings.bad_record_rate,
            activity=settings.activity,
            on_day=on_day,
            profile=settings.profile,
            panel_share=settings.panel_share,
        )
    rows: list[tuple[str, object]] = [
        ("lake", out),
        ("profile", summary.profile),
        ("days", f"{summary.start} .. {start.fromordinal(start.toordinal() + summary.days - 1)}"),
        ("raw lines", summary.lines),
        ("events per day (mean)", summary.lines // summary.days),
        ("people / households", f"{summary.people:,} / {summary.households:,}"),
        ("devices / browsers", f"{summary.devices:,} / {summary.browsers:,}"),
        ("cookies", summary.cookies),
        ("panelists", summary.panelists),
    ]
    rows += [(f"natural {kind}", n) for kind, n in summary.natural_by_kind.items()]
    rows += [(f"injected {kind}", n) for kind, n in summary.injected_by_kind.items() if n]
    rows += [
        ("seconds", round(summary.seconds, 1)),
        ("lines/s", int(summary.lines / max(summary.seconds, 1e-9))),
    ]
    console.print(summary_table("idgraph simulate", rows))
