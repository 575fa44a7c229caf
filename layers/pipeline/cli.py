"""``geoplatform pipeline …``: build the demo networks, import EPANET models."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geoplatform.db import make_engine
from layers.pipeline.epanet import import_epanet_command
from layers.pipeline.load import load_demo_networks

console = Console(stderr=True)


@click.group("pipeline")
def pipeline_command() -> None:
    """Utility networks: demo generator and EPANET import."""


@pipeline_command.command("load-demo")
@click.option("--seed", default=7, show_default=True, help="Seed of the generator.")
@click.pass_context
def load_demo_command(ctx: click.Context, seed: int) -> None:
    """Generate the demo water and gas networks from the loaded city's roads and buildings."""
    engine = make_engine(ctx.find_root().obj)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    tasks: dict[str, int] = {}
    try:
        with Progress(*columns, console=console) as progress:

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total or None)
                progress.update(tasks[stage], completed=done, total=total or None)

            summary = load_demo_networks(engine, seed=seed, progress=report)
    finally:
        engine.dispose()
    console.print(summary)


pipeline_command.add_command(import_epanet_command)
