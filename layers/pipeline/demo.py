"""The pipeline module's demo: the water and gas networks generated from the base city (seed 7).

Idempotent: networks that exist are left as they are (regenerating would drop edits and bump
the layers' versions); ``geoplatform pipeline load-demo --force`` regenerates them.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from geoplatform.modules import DemoError, DemoProgress
from layers.pipeline.cli import summary_table
from layers.pipeline.load import DemoNetworkError, load_demo_networks, network_rules
from layers.pipeline.networks import existing_networks


def load_demo(platform, progress: DemoProgress) -> Group | Text:
    codes = [rules.network for rules in network_rules()]
    with platform.engine.connect() as conn:
        present = existing_networks(conn, codes)
    if len(present) == len(codes):
        return Text(f"{', '.join(codes)} exist; nothing to do")
    try:
        summary = load_demo_networks(platform.engine, progress=progress)
    except DemoNetworkError as exc:
        raise DemoError(f"pipeline: {exc}") from exc
    return Group(
        summary_table(summary),
        Text(f"generated with seed {summary.seed} in {summary.seconds:.1f} s"),
    )
