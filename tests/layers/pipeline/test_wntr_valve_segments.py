"""Burst isolation agrees with WNTR's valve segments on EPANET's Net3 and KY10.

Each model is imported with a WNTR valve layer; the network is then built from the stored
geometry alone, and for every link the isolated segment of a burst at its middle must be the
WNTR segment holding that link: the same links, the same nodes, and as valves to close exactly
the valves with one side in the segment.

WNTR's graph holds pumps and EPANET valves as ordinary links, and its strategic valve layer
may put isolation valves on them; the importer stores them as pipes (role ``pump`` and
``control_valve``), so they are compared like any pipe.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import wntr
from pyproj import Transformer
from wntr.metrics.topographic import valve_segments

from geoplatform.db import make_engine
from layers.pipeline.epanet import import_epanet
from layers.pipeline.isolation import Isolation, isolate_burst
from layers.pipeline.network import Network, load_network

NETWORKS = Path(wntr.__file__).parent / "library" / "networks"
UTM_32N = 32632
ANCHOR_LON_LAT = (9.52, 47.14)
# Net3's units are drawing units (about 225 m each by its pipe lengths); ky10's are US feet.
SCALES = {"Net3": 225.0, "ky10": 0.3048}
SEED = 11
CASES = [
    ("Net3", "strategic:2"),
    ("ky10", "strategic:2"),
    ("Net3", "random:80"),
    ("ky10", "random:700"),
]


@dataclass(frozen=True)
class Reference:
    """WNTR's answer for one model and valve layer, indexed for a lookup per link."""

    link_segment: dict[str, int]
    node_segment: dict[str, int]
    valves: dict[str, tuple[str, str]]  # code -> (link, node)
    links_of: dict[int, set[str]]
    nodes_of: dict[int, set[str]]

    def segment_valves(self, segment: int) -> set[str]:
        return {
            code
            for code, (link, node) in self.valves.items()
            if (self.link_segment[link] == segment) != (self.node_segment[node] == segment)
        }


def model_path(name: str) -> Path:
    return NETWORKS / f"{name}.inp"


def placement(model: wntr.network.WaterNetworkModel, name: str):
    """Offset and scale that centre the model on the anchor in UTM 32N."""
    scale = SCALES[name]
    xs, ys = zip(*(model.get_node(n).coordinates for n in model.node_name_list), strict=True)
    anchor = Transformer.from_crs(4326, UTM_32N, always_xy=True).transform(*ANCHOR_LON_LAT)
    centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return (anchor[0] - scale * centre[0], anchor[1] - scale * centre[1]), scale


def reference(model: wntr.network.WaterNetworkModel, spec: str) -> Reference:
    placement_type, n = spec.split(":")
    layer = wntr.network.generate_valve_layer(model, placement_type, int(n), seed=SEED)
    valves = {f"V{index}": (row.link, row.node) for index, row in layer.iterrows()}
    # valve_segments turns the MultiDiGraph into an undirected one itself.
    node_segments, link_segments, _ = valve_segments(model.to_graph(), layer)
    links_of: dict[int, set[str]] = defaultdict(set)
    nodes_of: dict[int, set[str]] = defaultdict(set)
    for link, segment in link_segments.items():
        links_of[int(segment)].add(link)
    for node, segment in node_segments.items():
        nodes_of[int(segment)].add(node)
    return Reference(
        link_segment={k: int(v) for k, v in link_segments.items()},
        node_segment={k: int(v) for k, v in node_segments.items()},
        valves=valves,
        links_of=dict(links_of),
        nodes_of=dict(nodes_of),
    )


def segment_pipes(network: Network, isolation: Isolation) -> set[str]:
    """Pipes whose middle piece lies in the isolated segment."""
    # Isolation names the segment's pieces (graph edges); a pipe split by a valve near one end
    # belongs to the segment holding the rest of it, as in WNTR.
    found = getattr(isolation, "segment_pipes", None)
    if found is not None:
        return set(found)
    edges = set(isolation.segment_edges)
    return {
        code
        for code, pipe in network.pipes.items()
        if network.locate(code, pipe.length / 2) in edges
    }


@pytest.fixture(scope="module")
def engine(make_database):
    engine = make_engine(make_database("valve_segments"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-{s}" for n, s in CASES])
def case(request, engine):
    name, spec = request.param
    model = wntr.network.WaterNetworkModel(str(model_path(name)))
    offset, scale = placement(model, name)
    code = f"{name.lower()}-{spec.replace(':', '')}"
    summary = import_epanet(
        engine,
        model_path(name),
        network=code,
        crs=UTM_32N,
        offset=offset,
        scale=scale,
        valve_layer=spec,
        seed=SEED,
    )
    with engine.connect() as conn:
        network = load_network(conn, code)
    return model, summary, network, reference(model, spec)


@pytest.fixture(scope="module")
def isolations(case) -> dict[str, Isolation]:
    """A burst at the middle of every link, timed: each must take milliseconds."""
    model, _, network, _ = case
    started = time.perf_counter()
    found = {link: isolate_burst(network, pipe_code=link) for link in model.link_name_list}
    per_link_ms = (time.perf_counter() - started) * 1000 / len(found)
    print(f"\n{network.code}: {per_link_ms:.2f} ms per isolation")
    assert per_link_ms < 50
    return found


def test_the_network_holds_every_link_and_valve_of_the_model(case):
    model, summary, network, ref = case
    assert set(network.pipes) == set(model.link_name_list)
    valves = {code for code, p in network.points.items() if p.kind == "valve"}
    assert valves == set(ref.valves) and summary.valves == len(ref.valves)
    assert network.unattached == []
    # Every valve splits its own link.
    for code, (link, _node) in ref.valves.items():
        assert network.points[code].pipe_code == link


def test_every_burst_isolates_the_wntr_segment_of_its_link(case, isolations):
    model, _, network, ref = case
    mismatches = []
    for link, isolation in isolations.items():
        segment = ref.link_segment[link]
        expected = (ref.links_of[segment], ref.nodes_of.get(segment, set()))
        got = (segment_pipes(network, isolation), set(isolation.segment_nodes))
        if expected != got:
            mismatches.append(
                f"{link}: pipes missing {sorted(expected[0] - got[0])} "
                f"extra {sorted(got[0] - expected[0])}; "
                f"nodes missing {sorted(expected[1] - got[1])} extra {sorted(got[1] - expected[1])}"
            )
    print(
        f"\n{network.code}: segments of {len(isolations)} links compared, "
        f"{len(isolations) - len(mismatches)} matched ({len(ref.valves)} valves, "
        f"{len(ref.links_of)} segments)"
    )
    assert not mismatches, f"{len(mismatches)} of {len(isolations)} links differ:\n" + "\n".join(
        mismatches[:20]
    )


def test_the_valves_to_close_are_those_with_one_side_in_the_segment(case, isolations):
    _, _, network, ref = case
    mismatches = []
    for link, isolation in isolations.items():
        segment = ref.link_segment[link]
        expected, got = ref.segment_valves(segment), set(isolation.valves_to_close)
        assert len(isolation.valves_to_close) == len(got)
        if expected != got:
            mismatches.append(
                f"{link} (segment {segment}): missing "
                f"{[describe(ref, code, segment) for code in sorted(expected - got)]} extra "
                f"{[describe(ref, code, segment) for code in sorted(got - expected)]}"
            )
    print(
        f"\n{network.code}: valves to close of {len(isolations)} links compared, "
        f"{len(isolations) - len(mismatches)} matched"
    )
    assert not mismatches, f"{len(mismatches)} of {len(isolations)} links differ:\n" + "\n".join(
        mismatches[:20]
    )


def describe(ref: Reference, code: str, segment: int) -> str:
    """A valve with the segments on its node side and on its link side."""
    link, node = ref.valves[code]
    return (
        f"{code} on {link} at {node}: node side segment {ref.node_segment[node]}, "
        f"link side segment {ref.link_segment[link]}"
    )
