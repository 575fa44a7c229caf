"""Longitudinal profile (纵断面) along a run of pipes, and the chart of it as SVG.

The run is given as pipe codes in order along it; each pipe may be stored in either direction.
Consecutive pipes must share an end (within the network's ``snap_tolerance_m``, measured in the
city's projected CRS). Distances along the run add up the pipes' ``length_m``, so the profile
agrees with every other length the platform reports.

Depth is that of the pipe's axis, as in the clearance check; where the ground level is known
the axis, top and invert (bottom) elevations follow from it and the diameter, in the height
datum of the survey (1985 国家高程基准 for CJJ 61 data).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geoplatform.errors import InvalidParameter, NotFound
from layers.pipeline.measure import DEGREE_DIGITS, measuring_srid, metres

NETWORK_SQL = text("SELECT snap_tolerance_m FROM pipeline.networks WHERE code = :network")

PIPES_SQL = text(
    f"""
    SELECT p.code, p.diameter_mm, p.material, p.length_m,
           p.start_depth_m, p.end_depth_m, p.start_ground_m, p.end_ground_m,
           ST_X(ends.head) AS head_x, ST_Y(ends.head) AS head_y,
           ST_X(ends.tail) AS tail_x, ST_Y(ends.tail) AS tail_y,
           ST_AsGeoJSON(p.geom, {DEGREE_DIGITS}, 0) AS geometry
      FROM pipeline.pipes AS p
     CROSS JOIN LATERAL (
            SELECT ST_Transform(ST_StartPoint(p.geom), :srid) AS head,
                   ST_Transform(ST_EndPoint(p.geom), :srid) AS tail
           ) AS ends
     WHERE p.network = :network
       AND p.code = ANY(:codes)
    """
)


class UnknownPipe(NotFound):
    """Pipe codes that are not in the network."""


class BrokenChain(InvalidParameter):
    """Two consecutive pipes of a run do not meet."""


@dataclass(frozen=True)
class Station:
    """One end of one pipe, as met walking along the run."""

    pipe_code: str
    end: str  # "start" or "end" of the pipe as stored
    distance_m: float
    ground_m: float | None
    depth_m: float | None
    axis_m: float | None  # elevations, when the ground level is known
    top_m: float | None
    invert_m: float | None
    diameter_mm: int | None


@dataclass(frozen=True)
class ProfilePipe:
    code: str
    from_m: float
    to_m: float
    length_m: float
    reversed: bool  # walked from its stored end to its stored start
    diameter_mm: int | None
    material: str | None
    geometry: dict  # GeoJSON LineString in CRS84, in the direction of the run


@dataclass(frozen=True)
class Profile:
    network: str
    pipes: list[ProfilePipe]
    stations: list[Station]  # two per pipe, in order along the run
    length_m: float

    def to_dict(self) -> dict:
        return asdict(self)

    def feature_collection(self) -> dict:
        """The run's pipes as GeoJSON LineStrings (CRS84), with their place in the profile."""
        features = []
        for pipe in self.pipes:
            properties = {key: value for key, value in asdict(pipe).items() if key != "geometry"}
            features.append(
                {"type": "Feature", "geometry": pipe.geometry, "properties": properties}
            )
        return {"type": "FeatureCollection", "features": features}

    @property
    def has_elevations(self) -> bool:
        return all(station.axis_m is not None for station in self.stations)


@dataclass(frozen=True)
class _Pipe:
    code: str
    row: dict

    def end_point(self, end: str) -> tuple[float, float]:
        prefix = "head" if end == "start" else "tail"
        return self.row[f"{prefix}_x"], self.row[f"{prefix}_y"]


def pipe_profile(conn: Connection, network: str, pipe_codes: list[str]) -> Profile:
    """The profile along the pipes ``pipe_codes`` of ``network``, given in order along the run."""
    tolerance = conn.execute(NETWORK_SQL, {"network": network}).scalar()
    if tolerance is None:
        raise NotFound(f"unknown network {network!r}")
    _check_codes(pipe_codes)
    params = {"network": network, "codes": list(pipe_codes), "srid": measuring_srid(conn)}
    rows = {row["code"]: dict(row) for row in conn.execute(PIPES_SQL, params).mappings()}
    missing = [code for code in pipe_codes if code not in rows]
    if missing:
        raise UnknownPipe(f"no pipe(s) {', '.join(missing)} in network {network!r}")
    run = [_Pipe(code, rows[code]) for code in pipe_codes]
    return _walk(network, run, _orientations(run, tolerance))


def _check_codes(pipe_codes: list[str]) -> None:
    if not pipe_codes:
        raise InvalidParameter("a profile needs at least one pipe code")
    repeated = sorted({code for code in pipe_codes if pipe_codes.count(code) > 1})
    if repeated:
        raise InvalidParameter(f"pipe(s) {', '.join(repeated)} given more than once")


def _orientations(run: list[_Pipe], tolerance: float) -> list[bool]:
    """For each pipe, whether the run walks it against its stored direction."""
    if len(run) == 1:
        return [False]
    first, second = run[0], run[1]
    gap, exit_end, _ = _nearest_ends(first, ("start", "end"), second)
    _require_meeting(first, second, gap, tolerance)
    reversed_ = [exit_end == "start"]
    for previous, current in zip(run, run[1:], strict=False):
        exit_end = "start" if reversed_[-1] else "end"
        gap, _, entry_end = _nearest_ends(previous, (exit_end,), current)
        _require_meeting(previous, current, gap, tolerance)
        reversed_.append(entry_end == "end")
    return reversed_


def _nearest_ends(pipe: _Pipe, ends: tuple[str, ...], other: _Pipe) -> tuple[float, str, str]:
    """(distance, end of pipe, end of other) of the closest pair of ends."""
    return min(
        (math.dist(pipe.end_point(end), other.end_point(other_end)), end, other_end)
        for end in ends
        for other_end in ("start", "end")
    )


def _require_meeting(previous: _Pipe, current: _Pipe, gap: float, tolerance: float) -> None:
    if gap > tolerance:
        raise BrokenChain(
            f"pipes {previous.code} and {current.code} do not meet: their nearest ends are "
            f"{gap:.2f} m apart (snap tolerance {tolerance:g} m)"
        )


def _walk(network: str, run: list[_Pipe], reversed_: list[bool]) -> Profile:
    pipes, stations, distance = [], [], 0.0
    for pipe, backwards in zip(run, reversed_, strict=True):
        row = pipe.row
        length = row["length_m"]
        ends = ("end", "start") if backwards else ("start", "end")
        for end, at in zip(ends, (distance, distance + length), strict=True):
            stations.append(_station(row, end, at))
        geometry = json.loads(row["geometry"])
        if backwards:
            geometry["coordinates"].reverse()
        pipes.append(
            ProfilePipe(
                code=pipe.code,
                from_m=metres(distance),
                to_m=metres(distance + length),
                length_m=length,
                reversed=backwards,
                diameter_mm=row["diameter_mm"],
                material=row["material"],
                geometry=geometry,
            )
        )
        distance += length
    return Profile(network, pipes, stations, metres(distance))


def _station(row: dict, end: str, distance: float) -> Station:
    ground, depth = row[f"{end}_ground_m"], row[f"{end}_depth_m"]
    radius = (row["diameter_mm"] or 0) / 2000.0
    axis = None if ground is None or depth is None else ground - depth
    return Station(
        pipe_code=row["code"],
        end=end,
        distance_m=metres(distance),
        ground_m=ground,
        depth_m=depth,
        axis_m=None if axis is None else metres(axis),
        top_m=None if axis is None else metres(axis + radius),
        invert_m=None if axis is None else metres(axis - radius),
        diameter_mm=row["diameter_mm"],
    )


# --- the chart ------------------------------------------------------------------------------

WIDTH, HEIGHT = 900, 420
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 50, 55
COLOURS = {"ground": "#6b4f2a", "pipe": "#1f77b4", "axis": "#333333", "grid": "#dddddd"}


@dataclass(frozen=True)
class _Frame:
    """Maps metres along the run (x) and metres up (y) to SVG pixels."""

    x_max: float
    y_min: float
    y_max: float

    def x(self, metres: float) -> float:
        span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        return round(MARGIN_LEFT + metres / self.x_max * span, 2)

    def y(self, metres: float) -> float:
        span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        return round(MARGIN_TOP + (self.y_max - metres) / (self.y_max - self.y_min) * span, 2)


def profile_svg(profile: Profile) -> str:
    """The profile as an SVG chart: ground line, pipe band (its diameter to scale vertically),
    pipe codes, axes in metres. Elevations when every station's ground is known, else depths
    below ground (ground drawn at 0)."""
    heights = _heights(profile)
    frame = _frame(profile, heights)
    svg = ET.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        width=str(WIDTH),
        height=str(HEIGHT),
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        attrib={"font-family": "sans-serif", "font-size": "12"},
    )
    _title(svg, profile)
    _axes(svg, frame, profile.has_elevations)
    _ground(svg, frame, profile, heights)
    _pipes(svg, frame, profile, heights)
    return ET.tostring(svg, encoding="unicode")


def _heights(profile: Profile) -> list[tuple[float, float | None, float | None]]:
    """Per station (ground, top, invert) in the chart's vertical metres."""
    if profile.has_elevations:
        return [(s.ground_m, s.top_m, s.invert_m) for s in profile.stations]
    heights = []
    for station in profile.stations:
        if station.depth_m is None:
            heights.append((0.0, None, None))
            continue
        radius = (station.diameter_mm or 0) / 2000.0
        heights.append((0.0, -station.depth_m + radius, -station.depth_m - radius))
    return heights


def _frame(profile: Profile, heights: list) -> _Frame:
    values = [value for row in heights for value in row if value is not None]
    low, high = min(values), max(values)
    padding = max((high - low) * 0.1, 0.5)
    return _Frame(x_max=max(profile.length_m, 1.0), y_min=low - padding, y_max=high + padding)


def _title(svg: ET.Element, profile: Profile) -> None:
    run = f"{profile.pipes[0].code} → {profile.pipes[-1].code}"
    text_ = ET.SubElement(svg, "text", x=str(WIDTH / 2), y="24", attrib={"text-anchor": "middle"})
    text_.set("font-size", "16")
    text_.text = f"纵断面 Longitudinal profile: {profile.network}, {run} ({profile.length_m:g} m)"


def _axes(svg: ET.Element, frame: _Frame, elevations: bool) -> None:
    group = ET.SubElement(svg, "g", attrib={"class": "axes", "stroke": COLOURS["axis"]})
    bottom, left = HEIGHT - MARGIN_BOTTOM, MARGIN_LEFT
    _line(group, left, bottom, WIDTH - MARGIN_RIGHT, bottom)
    _line(group, left, MARGIN_TOP, left, bottom)
    for tick in nice_ticks(0.0, frame.x_max):
        x = frame.x(tick)
        _line(group, x, bottom, x, bottom + 5)
        _label(svg, x, bottom + 18, f"{tick:g}", "middle")
    for tick in nice_ticks(frame.y_min, frame.y_max):
        y = frame.y(tick)
        _line(group, left - 5, y, left, y)
        grid = _line(svg, left, y, WIDTH - MARGIN_RIGHT, y)
        grid.set("stroke", COLOURS["grid"])
        _label(svg, left - 8, y + 4, f"{tick:g}", "end")
    _label(svg, (left + WIDTH - MARGIN_RIGHT) / 2, HEIGHT - 12, "距离 Distance (m)", "middle")
    name = "高程 Elevation (m)" if elevations else "埋深 Depth below ground (m)"
    vertical = _label(svg, 16, (MARGIN_TOP + bottom) / 2, name, "middle")
    vertical.set("transform", f"rotate(-90 16 {(MARGIN_TOP + bottom) / 2})")


def _ground(svg: ET.Element, frame: _Frame, profile: Profile, heights: list) -> None:
    points = " ".join(
        f"{frame.x(station.distance_m)},{frame.y(ground)}"
        for station, (ground, _, _) in zip(profile.stations, heights, strict=True)
    )
    ET.SubElement(
        svg,
        "polyline",
        points=points,
        fill="none",
        stroke=COLOURS["ground"],
        attrib={"class": "ground", "stroke-width": "2"},
    )
    last = frame.y(heights[-1][0])
    legend = _label(svg, WIDTH - MARGIN_RIGHT, last - 6, "地面 Ground", "end")
    legend.set("fill", COLOURS["ground"])


def _pipes(svg: ET.Element, frame: _Frame, profile: Profile, heights: list) -> None:
    for index, pipe in enumerate(profile.pipes):
        (_, top_a, invert_a), (_, top_b, invert_b) = heights[2 * index : 2 * index + 2]
        label_y = MARGIN_TOP - 6
        if None not in (top_a, invert_a, top_b, invert_b):
            x_a, x_b = frame.x(pipe.from_m), frame.x(pipe.to_m)
            band = (
                f"{x_a},{frame.y(top_a)} {x_b},{frame.y(top_b)} "
                f"{x_b},{frame.y(invert_b)} {x_a},{frame.y(invert_a)}"
            )
            polygon = ET.SubElement(svg, "polygon", points=band, attrib={"class": "pipe"})
            polygon.set("fill", COLOURS["pipe"])
            polygon.set("fill-opacity", "0.6")
            polygon.set("stroke", COLOURS["pipe"])
            label_y = min(frame.y(top_a), frame.y(top_b)) - 6
        diameter = f" DN{pipe.diameter_mm}" if pipe.diameter_mm else ""
        middle = frame.x((pipe.from_m + pipe.to_m) / 2)
        label = _label(svg, middle, label_y, f"{pipe.code}{diameter}", "middle")
        label.set("class", "pipe-label")


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float) -> ET.Element:
    return ET.SubElement(parent, "line", x1=str(x1), y1=str(y1), x2=str(x2), y2=str(y2))


def _label(parent: ET.Element, x: float, y: float, content: str, anchor: str) -> ET.Element:
    element = ET.SubElement(parent, "text", x=str(x), y=str(y), attrib={"text-anchor": anchor})
    element.text = content
    return element


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks
