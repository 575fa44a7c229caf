"""``geoplatform pipeline …``: build the demo networks, import EPANET models."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from geoplatform.db import make_engine
from geoplatform.progress import progress_bars, stage_reporter
from layers.pipeline.epanet import import_epanet_command
from layers.pipeline.load import DemoSummary, load_demo_networks, network_rules
from layers.pipeline.networks import existing_networks

console = Console(stderr=True)


@click.group("pipeline")
def pipeline_command() -> None:
    """Utility networks: demo generator and EPANET import."""


@pipeline_command.command("load-demo")
@click.option("--seed", default=7, show_default=True, help="Seed of the generator.")
@click.option("--force", is_flag=True, help="Regenerate even if the demo networks exist.")
@click.pass_context
def load_demo_command(ctx: click.Context, seed: int, force: bool) -> None:
    """Generate the demo water and gas networks from the loaded city's roads and buildings."""
    engine = make_engine(ctx.find_root().obj)
    codes = [rules.network for rules in network_rules()]
    with engine.connect() as conn:
        present = existing_networks(conn, codes)
    if len(present) == len(codes) and not force:
        engine.dispose()
        # make setup runs this every time: regenerating would drop edits and bump versions.
        console.print(f"{', '.join(codes)} exist; nothing to do. Use --force to regenerate.")
        return
    try:
        with progress_bars(console) as progress:
            summary = load_demo_networks(engine, seed=seed, progress=stage_reporter(progress))
    finally:
        engine.dispose()
    console.print(summary_table(summary))
    console.print(f"generated with seed {summary.seed} in {summary.seconds:.1f} s")


def summary_table(summary: DemoSummary) -> Table:
    """One column per network, one row per measure: fits a narrow terminal."""
    networks = list(summary.networks.values())
    table = Table("", *(n.network for n in networks), title="demo networks")
    rows = {
        "mains": lambda n: f"{n.pipes['main']:,}",
        "main km": lambda n: f"{n.main_km:,.1f}",
        "service pipes": lambda n: f"{n.pipes['service']:,}",
        "valves": lambda n: f"{n.points['valve']:,}",
        "hydrants": lambda n: f"{n.points['hydrant']:,}",
        "service connections": lambda n: f"{n.points['service_connection']:,}",
        "sources": lambda n: f"{n.points['source']:,}",
        "components": lambda n: str(n.components),
    }
    for label, value in rows.items():
        table.add_row(label, *(value(n) for n in networks))
    reasons = sorted({reason for n in networks for reason in n.not_served})
    for reason in reasons:
        table.add_row(f"not served: {reason}", *(f"{n.not_served[reason]:,}" for n in networks))
    return table


pipeline_command.add_command(import_epanet_command)
