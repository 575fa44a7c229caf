"""Import an EPANET model (.inp) as a pipeline network, keeping the model's ids as codes.

The model is read with wntr; its nodes become points (junctions, reservoirs, tanks) and all its
links become pipes, pumps and EPANET valves included, because they are edges of the same graph.
Model coordinates are placed on the map with ``x' = offset + scale * x`` in the EPSG code given,
measured in a projected CRS, and stored in EPSG:4490. An optional wntr valve layer adds isolation
valves as points on their links, next to the node each one shuts off.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import shapely
import wntr
from pyproj import CRS, Transformer
from rich.console import Console
from rich.table import Table
from shapely import LineString, Point
from sqlalchemy import Engine, bindparam, func, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geoplatform.city import projected_srid
from geoplatform.config import Settings, load_settings
from geoplatform.db import make_engine
from geoplatform.errors import InvalidParameter
from geoplatform.ingest import ReplacementRefused, check_replacement
from layers.pipeline import models
from layers.pipeline.changes import networks_changed
from layers.pipeline.utilities import Utility, utility_by_name_or_code

NETWORK_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VALVE_LAYER = re.compile(r"^(strategic|random):(\d+)$")
STORAGE_SRID = 4490

# A valve sits this far along its link from the node it shuts off, or at this share of a short
# link, so both valves of one link stay on it and in order.
VALVE_OFFSET_M = 1.0
VALVE_OFFSET_SHARE = 0.1
# EPANET draws many pumps and valves with both nodes on one spot. A graph built from geometry
# would make them one node, so every further node of such a spot is moved this far along its
# own link (or that share of a short link).
SEPARATION_M = 1.0
SEPARATION_SHARE = 0.1
# The model's topology is exact, so the network's snap tolerance only has to absorb the round
# trip through EPSG:4490 (far below a millimetre); it stays under a quarter of the smallest gap
# between two nodes, or between a valve and its node, so that nothing distinct is merged.
DEFAULT_SNAP_TOLERANCE_M = 0.5
MIN_GAP_M = 0.001

LINK_ROLES = {"Pipe": "main", "Pump": "pump", "Valve": "control_valve"}
SOURCE_KINDS = {"Reservoir": "reservoir", "Tank": "tank"}

_LOCK_NETWORK = "SELECT utility FROM pipeline.networks WHERE code = :code FOR UPDATE"
_DELETE_NETWORK = "DELETE FROM pipeline.networks WHERE code = :code"
_NETWORK_COUNTS = """
SELECT (SELECT count(*) FROM pipeline.pipes WHERE network = :code) AS pipes,
       (SELECT count(*) FROM pipeline.points WHERE network = :code) AS points
"""

console = Console(stderr=True)


class EpanetImportError(InvalidParameter):
    """The model or the import's options cannot be imported; nothing was changed."""


@dataclass(frozen=True)
class EpanetImport:
    """What one import wrote."""

    network: str
    utility: str
    junctions: int
    reservoirs: int
    tanks: int
    pipes: int
    pumps: int
    control_valves: int
    valves: int
    separated_nodes: int
    snap_tolerance_m: float
    projected_srid: int
    replaced: bool
    seconds: float

    @property
    def nodes(self) -> int:
        return self.junctions + self.reservoirs + self.tanks

    @property
    def links(self) -> int:
        return self.pipes + self.pumps + self.control_valves


@dataclass(frozen=True)
class _Layout:
    """The model drawn in a projected CRS: node positions, link lines and valve positions."""

    nodes: dict[str, Point]
    links: dict[str, LineString]
    valves: list[tuple[str, str, Point]]  # (code, link, position)
    separated_nodes: int
    snap_tolerance_m: float


def import_epanet(
    engine: Engine,
    path: Path,
    *,
    network: str,
    utility: str = "JS",
    crs: int,
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    valve_layer: str | None = None,
    seed: int = 0,
    replace: bool = False,
    force: bool = False,
    max_loss: float = 0.5,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> EpanetImport:
    """Write the model at ``path`` as network ``network`` in one transaction, all or nothing."""
    started = time.monotonic()
    owner = _utility(utility)
    _check_network_code(network)
    source_crs = _crs(crs)
    if not (math.isfinite(scale) and scale > 0):
        raise EpanetImportError(f"scale must be a positive number, got {scale}")
    if not all(math.isfinite(v) for v in offset):
        raise EpanetImportError(f"offset must be two finite numbers, got {offset}")
    model = read_model(path)
    _check_placement(model, source_crs, offset, scale)
    valves = _valve_layer(model, valve_layer, seed)
    with engine.begin() as conn:
        srid = _measuring_srid(conn, source_crs)
        layout = _layout(model, valves, source_crs, srid, offset, scale)
        replaced_utility = _make_room(
            conn, network, replace, _new_counts(model, layout), max_loss=max_loss, force=force
        )
        network_row = {
            "code": network,
            "utility": owner.code,
            "name_zh": name_zh or network,
            "name_en": name_en or path.stem,
            "source": _source_note(path, crs, offset, scale, valve_layer, seed),
            "snap_tolerance_m": layout.snap_tolerance_m,
        }
        try:
            conn.execute(insert(models.networks), network_row)
        # Another import of the same code committed between the check and this insert.
        except IntegrityError as exc:
            raise EpanetImportError(f"network {network!r} exists") from exc
        to_storage = Transformer.from_crs(srid, STORAGE_SRID, always_xy=True)
        _insert_pipes(conn, _pipe_rows(model, layout, network, owner, to_storage))
        _insert_points(conn, _point_rows(model, layout, network, owner, to_storage))
        changed = {owner.code, replaced_utility} - {None}
        networks_changed(conn, [utility_by_name_or_code(code) for code in changed])
    links = Counter(model.get_link(name).link_type for name in model.link_name_list)
    nodes = Counter(model.get_node(name).node_type for name in model.node_name_list)
    return EpanetImport(
        network=network,
        utility=owner.code,
        junctions=nodes["Junction"],
        reservoirs=nodes["Reservoir"],
        tanks=nodes["Tank"],
        pipes=links["Pipe"],
        pumps=links["Pump"],
        control_valves=links["Valve"],
        valves=len(layout.valves),
        separated_nodes=layout.separated_nodes,
        snap_tolerance_m=layout.snap_tolerance_m,
        projected_srid=srid,
        replaced=replaced_utility is not None,
        seconds=time.monotonic() - started,
    )


def read_model(path: Path) -> wntr.network.WaterNetworkModel:
    """The EPANET model in ``path``; EpanetImportError when it cannot be read."""
    if not path.is_file():
        raise EpanetImportError(f"{path} is not a file")
    try:
        model = wntr.network.WaterNetworkModel(str(path))
    # wntr's reader fails on malformed input with whatever the failing line raises (syntax
    # errors, ValueError, AttributeError, KeyError …), so every failure means "not readable".
    except Exception as exc:
        raise EpanetImportError(f"{path.name} is not a readable EPANET model: {exc}") from exc
    if model.num_nodes == 0:
        raise EpanetImportError(f"{path.name} has no nodes")
    return model


# How far outside its CRS's area of use a model may lie: a city at the edge of a UTM zone is
# often drawn in the neighbouring zone.
AREA_OF_USE_MARGIN_DEGREES = 3.0


def _check_placement(
    model: wntr.network.WaterNetworkModel, source: CRS, offset: tuple[float, float], scale: float
) -> None:
    """Every node has finite coordinates that land, placed, inside the CRS's area of use.

    A model with a NaN coordinate, or an offset that throws it off the globe, would otherwise
    fail deep in GEOS with a bare GEOSException, or be stored somewhere no one will find it."""
    names = model.node_name_list
    xy = _node_xy(model)
    bad = [name for name, row in zip(names, xy, strict=True) if not np.isfinite(row).all()]
    if bad:
        raise EpanetImportError(
            f"{len(bad)} node(s) have no finite coordinates in [COORDINATES]: "
            f"{', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}"
        )
    placed = _scaled(xy, offset, scale)
    lon, lat = Transformer.from_crs(source, 4326, always_xy=True).transform(
        placed[:, 0], placed[:, 1]
    )
    area = source.area_of_use
    west, south, east, north = (
        (area.west, area.south, area.east, area.north) if area else (-180.0, -90.0, 180.0, 90.0)
    )
    m = AREA_OF_USE_MARGIN_DEGREES
    inside = (
        np.isfinite(lon)
        & np.isfinite(lat)
        & (lon >= west - m)
        & (lon <= east + m)
        & (lat >= max(south - m, -90))
        & (lat <= min(north + m, 90))
    )
    if not inside.all():
        first = int(np.argmin(inside))
        raise EpanetImportError(
            f"{int((~inside).sum())} node(s) placed with offset {offset} and scale {scale} fall "
            f"outside EPSG:{source.to_epsg()}'s area of use ({west}..{east} E, {south}..{north} "
            f"N), e.g. node {names[first]} at ({placed[first, 0]:.6g}, {placed[first, 1]:.6g}): "
            "check --offset, --scale and --crs"
        )


def _node_xy(model: wntr.network.WaterNetworkModel) -> np.ndarray:
    """The model's node coordinates, in node_name_list order, as an (n, 2) array."""
    return np.array([model.get_node(name).coordinates for name in model.node_name_list], float)


def _scaled(xy: np.ndarray, offset: tuple[float, float], scale: float) -> np.ndarray:
    """Model coordinates placed in the import CRS: ``offset + scale * xy``."""
    return np.asarray(offset, dtype=float) + scale * xy


def _valve_layer(
    model: wntr.network.WaterNetworkModel, spec: str | None, seed: int
) -> list[tuple[int, str, str]]:
    if spec is None:
        return []
    match = VALVE_LAYER.match(spec)
    if match is None:
        raise EpanetImportError(f"valve layer {spec!r} is not strategic:N or random:N")
    placement, n = match.group(1), int(match.group(2))
    if placement == "random" and n > 2 * model.num_pipes:
        raise EpanetImportError(
            f"random:{n} asks for more valves than the {model.num_pipes} pipes hold"
        )
    layer = wntr.network.generate_valve_layer(model, placement, n, seed)
    return [(int(index), row.link, row.node) for index, row in layer.iterrows()]


def _utility(value: str) -> Utility:
    try:
        return utility_by_name_or_code(value)
    except ValueError as exc:
        raise EpanetImportError(str(exc)) from exc


def _check_network_code(code: str) -> None:
    if not NETWORK_CODE.match(code):
        raise EpanetImportError(
            f"network code {code!r} must be 1-63 lower-case letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )


def _crs(epsg: int) -> CRS:
    try:
        return CRS.from_epsg(epsg)
    except Exception as exc:  # pyproj raises CRSError, or TypeError/ValueError for a non-code
        raise EpanetImportError(f"EPSG:{epsg} is not a known CRS") from exc


def _measuring_srid(conn: Connection, source: CRS) -> int:
    """Lengths and valve positions are measured in the import CRS if projected, else the city's."""
    if source.is_projected:
        return source.to_epsg()
    city = projected_srid(conn)
    if city is None:
        raise EpanetImportError(
            f"EPSG:{source.to_epsg()} is not projected and no city is loaded to measure in"
        )
    return city


def _layout(
    model: wntr.network.WaterNetworkModel,
    valves: list[tuple[int, str, str]],
    source: CRS,
    srid: int,
    offset: tuple[float, float],
    scale: float,
) -> _Layout:
    to_measuring = Transformer.from_crs(source, srid, always_xy=True)

    def place(xy: np.ndarray) -> np.ndarray:
        scaled = _scaled(xy, offset, scale)
        return np.column_stack(to_measuring.transform(scaled[:, 0], scaled[:, 1]))

    names = model.node_name_list
    placed = place(_node_xy(model))
    positions = dict(zip(names, placed, strict=True))
    vertices = {
        name: place(np.array(model.get_link(name).vertices, dtype=float).reshape(-1, 2))
        for name in model.link_name_list
    }
    separated = _separate_coincident_nodes(model, positions, vertices)
    lines = {
        name: LineString(
            [positions[link.start_node_name], *vertices[name], positions[link.end_node_name]]
        )
        for name, link in model.links()
    }
    placed_valves = [
        (f"V{index}", link, *_valve_position(model, lines[link], link, node))
        for index, link, node in valves
    ]
    _check_valve_codes(model, placed_valves)
    nodes = {name: Point(xy) for name, xy in positions.items()}
    gaps = [
        _smallest_node_gap(nodes),
        _smallest_node_to_other_link_gap(model, nodes, lines),
        *(offset for *_, offset in placed_valves),
    ]
    gap = min(gaps)
    if gap < MIN_GAP_M:
        raise EpanetImportError(
            "the model draws two nodes, a node and a link it is not on, or a valve and its node "
            "less than 1 mm apart"
        )
    return _Layout(
        nodes=nodes,
        links=lines,
        valves=[(code, link, point) for code, link, point, _ in placed_valves],
        separated_nodes=separated,
        snap_tolerance_m=min(DEFAULT_SNAP_TOLERANCE_M, gap / 4),
    )


def _separate_coincident_nodes(
    model: wntr.network.WaterNetworkModel,
    positions: dict[str, np.ndarray],
    vertices: dict[str, np.ndarray],
) -> int:
    """Move all but the first node of each shared spot along one of its links; returns how many."""
    spots: dict[tuple[float, float], list[str]] = {}
    for name, (x, y) in positions.items():
        spots.setdefault((round(x, 3), round(y, 3)), []).append(name)
    moved = 0
    for names in spots.values():
        for name in names[1:]:
            direction, room = _way_out(model, name, positions, vertices, set(names))
            positions[name] = positions[name] + direction * min(SEPARATION_M, room)
            moved += 1
    return moved


def _way_out(
    model: wntr.network.WaterNetworkModel,
    name: str,
    positions: dict[str, np.ndarray],
    vertices: dict[str, np.ndarray],
    spot: set[str],
) -> tuple[np.ndarray, float]:
    """Unit vector along the node's first link that leaves its spot, and the room on it."""
    here = positions[name]
    for link_name in model.get_links_for_node(name):
        link = model.get_link(link_name)
        if link.start_node_name == name:
            ahead = [*vertices[link_name], positions[link.end_node_name]]
            other = link.end_node_name
        else:
            ahead = [*vertices[link_name][::-1], positions[link.start_node_name]]
            other = link.start_node_name
        if other in spot and len(vertices[link_name]) == 0:
            continue
        step = np.asarray(ahead[0]) - here
        length = float(np.hypot(*step))
        if length > MIN_GAP_M:
            return step / length, SEPARATION_SHARE * LineString([here, *ahead]).length
    # A node joined only to nodes of its own spot: any direction keeps the graph as it is.
    return np.array([1.0, 0.0]), SEPARATION_M


def _valve_position(
    model: wntr.network.WaterNetworkModel, line: LineString, link: str, node: str
) -> tuple[Point, float]:
    """The valve's point on ``line`` next to ``node``, and its distance from the node."""
    distance = min(VALVE_OFFSET_M, VALVE_OFFSET_SHARE * line.length)
    if model.get_link(link).start_node_name == node:
        return line.interpolate(distance), distance
    return line.interpolate(line.length - distance), distance


def _check_valve_codes(
    model: wntr.network.WaterNetworkModel, valves: list[tuple[str, str, Point, float]]
) -> None:
    # Valves and nodes share the points table, whose codes are unique per network.
    taken = set(model.node_name_list) & {code for code, *_ in valves}
    if taken:
        raise EpanetImportError(f"valve codes {sorted(taken)} are node ids of the model")


def _smallest_node_gap(nodes: dict[str, Point]) -> float:
    if len(nodes) < 2:
        return math.inf
    points = list(nodes.values())
    _, distances = shapely.STRtree(points).query_nearest(
        points, exclusive=True, return_distance=True
    )
    return float(distances.min())


def _smallest_node_to_other_link_gap(
    model: wntr.network.WaterNetworkModel,
    nodes: dict[str, Point],
    lines: dict[str, LineString],
) -> float:
    """How close a node comes to a link it is not an end of (it would be taken for a tee)."""
    names, links = list(nodes), list(lines)
    near_node, near_link = shapely.STRtree(list(lines.values())).query(
        list(nodes.values()), predicate="dwithin", distance=4 * DEFAULT_SNAP_TOLERANCE_M
    )
    gaps = [math.inf]
    for node, link in zip(_names_of(names, near_node), _names_of(links, near_link), strict=True):
        ends = model.get_link(link)
        if node not in (ends.start_node_name, ends.end_node_name):
            gaps.append(nodes[node].distance(lines[link]))
    return min(gaps)


def _names_of(names: list[str], indices: np.ndarray) -> list[str]:
    return [names[i] for i in indices.tolist()]


def _make_room(
    conn: Connection,
    network: str,
    replace: bool,
    new_counts: dict[str, int],
    *,
    max_loss: float,
    force: bool,
) -> str | None:
    """Delete an existing network of that code if asked to; returns its utility when deleted.

    A replace that would remove most of the network's pipes or points needs ``force``."""
    existing = conn.execute(text(_LOCK_NETWORK), {"code": network}).scalar()
    if existing is None:
        return None
    if not replace:
        raise EpanetImportError(f"network {network!r} exists; import with replace to reload it")
    old_counts = dict(conn.execute(text(_NETWORK_COUNTS), {"code": network}).one()._mapping)
    try:
        check_replacement(old_counts, new_counts, max_loss=max_loss, force=force)
    except ReplacementRefused as exc:
        raise EpanetImportError(f"replacing network {network!r}: {exc}") from exc
    # Pipes, points and maintenance records of the network go with it (ON DELETE CASCADE).
    conn.execute(text(_DELETE_NETWORK), {"code": network})
    return existing


def _new_counts(model: wntr.network.WaterNetworkModel, layout: _Layout) -> dict[str, int]:
    return {"pipes": model.num_links, "points": model.num_nodes + len(layout.valves)}


def _source_note(
    path: Path,
    crs: int,
    offset: tuple[float, float],
    scale: float,
    valve_layer: str | None,
    seed: int,
) -> str:
    note = (
        f"EPANET {path.name} via wntr {wntr.__version__}; EPSG:{crs} offset {offset} scale {scale}"
    )
    if valve_layer:
        note += f"; valve layer {valve_layer} seed {seed}"
    return note


def _to_wkb(geometry: shapely.Geometry, to_storage: Transformer) -> bytes:
    stored = shapely.transform(geometry, lambda x, y: to_storage.transform(x, y), interleaved=False)
    return shapely.to_wkb(stored)


def _ground(model: wntr.network.WaterNetworkModel, name: str) -> float | None:
    # A reservoir's number is a head, not a ground level.
    node = model.get_node(name)
    return None if node.node_type == "Reservoir" else float(node.elevation)


def _diameter_mm(link: wntr.network.Link) -> int | None:
    # Pumps have no diameter; a model's zero or negative one is no size a pipe can have.
    diameter = getattr(link, "diameter", None)
    return round(diameter * 1000) if diameter and diameter > 0 else None


def _pipe_rows(
    model: wntr.network.WaterNetworkModel,
    layout: _Layout,
    network: str,
    owner: Utility,
    to_storage: Transformer,
) -> list[dict]:
    return [
        {
            "network": network,
            "code": name,
            "utility": owner.code,
            "role": LINK_ROLES[link.link_type],
            "diameter_mm": _diameter_mm(link),
            "start_node": link.start_node_name,
            "end_node": link.end_node_name,
            "start_ground_m": _ground(model, link.start_node_name),
            "end_ground_m": _ground(model, link.end_node_name),
            "length_m": layout.links[name].length,
            "wkb": _to_wkb(layout.links[name], to_storage),
        }
        for name, link in model.links()
    ]


def _point_rows(
    model: wntr.network.WaterNetworkModel,
    layout: _Layout,
    network: str,
    owner: Utility,
    to_storage: Transformer,
) -> list[dict]:
    common = {"network": network, "utility": owner.code}
    nodes = [
        {
            **common,
            "code": name,
            "kind": "junction" if node.node_type == "Junction" else "source",
            "source_kind": SOURCE_KINDS.get(node.node_type),
            "ground_m": _ground(model, name),
            "pipe_code": None,
            "normal_state": None,
            "operable": None,
            "wkb": _to_wkb(layout.nodes[name], to_storage),
        }
        for name, node in model.nodes()
    ]
    valves = [
        {
            **common,
            "code": code,
            "kind": "valve",
            "source_kind": None,
            "ground_m": None,
            "pipe_code": link,
            "normal_state": "open",
            "operable": True,
            "wkb": _to_wkb(point, to_storage),
        }
        for code, link, point in layout.valves
    ]
    return nodes + valves


def _insert_pipes(conn: Connection, rows: list[dict]) -> None:
    statement = insert(models.pipes).values(
        geom=func.ST_GeomFromWKB(bindparam("wkb"), STORAGE_SRID)
    )
    conn.execute(statement, rows)


def _insert_points(conn: Connection, rows: list[dict]) -> None:
    statement = insert(models.points).values(
        geom=func.ST_GeomFromWKB(bindparam("wkb"), STORAGE_SRID)
    )
    conn.execute(statement, rows)


def _offset_option(value: str) -> tuple[float, float]:
    try:
        x, y = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not X,Y") from exc
    if not (math.isfinite(x) and math.isfinite(y)):
        raise click.BadParameter(f"{value!r} is not two finite numbers X,Y")
    return x, y


def summary_table(summary: EpanetImport) -> Table:
    table = Table("kind", "count", title=f"network {summary.network} ({summary.utility})")
    for kind, count in (
        ("junctions", summary.junctions),
        ("reservoirs", summary.reservoirs),
        ("tanks", summary.tanks),
        ("pipes", summary.pipes),
        ("pumps", summary.pumps),
        ("control valves", summary.control_valves),
        ("isolation valves", summary.valves),
        ("nodes moved off a shared spot", summary.separated_nodes),
    ):
        table.add_row(kind, f"{count:,}")
    return table


@click.command("import-epanet")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--network", required=True, help="Network code, e.g. ky10.")
@click.option("--utility", default="water", show_default=True, help="Utility name or code.")
@click.option("--crs", type=int, required=True, help="EPSG code of the model's coordinates.")
@click.option("--offset", default="0,0", show_default=True, help="X,Y added after scaling.")
@click.option(
    "--scale", type=float, default=1.0, show_default=True, help="Model unit in CRS units."
)
@click.option("--valves", default=None, help="wntr valve layer: strategic:N or random:N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the valve layer.")
@click.option("--replace", is_flag=True, help="Replace a network of the same code.")
@click.option(
    "--force", is_flag=True, help="Replace even if that removes most of the network's rows."
)
@click.pass_context
def import_epanet_command(
    ctx: click.Context,
    file: Path,
    network: str,
    utility: str,
    crs: int,
    offset: str,
    scale: float,
    valves: str | None,
    seed: int,
    replace: bool,
    force: bool,
) -> None:
    """Import an EPANET model (.inp) as a pipeline network, all or nothing."""
    root = ctx.find_root().obj
    settings = root if isinstance(root, Settings) else load_settings()
    engine = make_engine(settings)
    try:
        summary = import_epanet(
            engine,
            file,
            network=network,
            utility=utility,
            crs=crs,
            offset=_offset_option(offset),
            scale=scale,
            valve_layer=valves,
            seed=seed,
            replace=replace,
            force=force,
            max_loss=settings.import_max_loss,
        )
    except EpanetImportError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    finally:
        engine.dispose()
    console.print(summary_table(summary))
    console.print(
        f"{'replaced' if summary.replaced else 'imported'} {summary.network} from {file.name} "
        f"in {summary.seconds:.1f} s; lengths in EPSG:{summary.projected_srid}, "
        f"snap tolerance {summary.snap_tolerance_m:.3g} m"
    )
