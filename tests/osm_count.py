"""Independent selection of base-layer objects from an OSM file with GDAL's OSM driver.

GDAL reads the file its own way (its own multipolygon assembly, closed-way rules from its
osmconf.ini), and the tag rules below are written again from the loader's documented rules, so
agreeing with it checks the loader rather than restating it.

Known, documented differences, applied here:
- Old-style multipolygons (an untagged relation whose outer way carries the tags): GDAL reports
  the relation, libosmium (our loader) the tagged outer way. Mapped relation -> outer way.
- A closed way with area tags GDAL's osmconf.ini does not list (``waterway=riverbank``,
  ``addr:*`` alone): GDAL keeps it in ``lines``; our loader treats every closed way as an area.
"""

from __future__ import annotations

import re
from pathlib import Path

import osmium
import pandas as pd
import pyogrio

from geoplatform.refdata import read_table
from layers.base import osm as rules

_HSTORE_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
OsmKey = tuple[str, int]


def read_tags(path: Path, layer: str) -> pd.DataFrame:
    """A GDAL OSM layer with every tag as a column and a ``key`` of (osm type, osm id)."""
    frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=layer == "lines")
    others = frame.pop("other_tags").fillna("")
    expanded = pd.DataFrame([dict(_HSTORE_PAIR.findall(t)) for t in others], index=frame.index)
    frame = pd.concat([frame, expanded.loc[:, ~expanded.columns.isin(frame.columns)]], axis=1)
    if layer == "multipolygons":
        frame["key"] = [
            ("w", int(way)) if pd.notna(way) else ("r", int(rel))
            for rel, way in zip(frame["osm_id"], frame["osm_way_id"], strict=True)
        ]
    else:
        frame["key"] = [("n" if layer == "points" else "w", int(i)) for i in frame["osm_id"]]
    if layer == "lines":
        frame["closed"] = frame.geometry.is_ring
    return frame


def old_style_outer_ways(path: Path) -> dict[int, int]:
    """Untagged multipolygon relations -> their single tagged outer way."""
    relations = {}
    for relation in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        tags = dict(relation.tags)
        if tags == {"type": "multipolygon"}:
            outers = [m.ref for m in relation.members if m.type == "w" and m.role == "outer"]
            relations[relation.id] = outers
    tagged: dict[int, int] = {}
    wanted = {way for outers in relations.values() for way in outers}
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        if way.id in wanted and len(way.tags):
            tagged[way.id] = way.id
    return {
        rel: next(w for w in outers if w in tagged)
        for rel, outers in relations.items()
        if any(w in tagged for w in outers)
    }


def col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series(None, index=frame.index, dtype=object)


class GdalSelection:
    """The (osm type, osm id) of the objects each base layer should hold, read by GDAL."""

    def __init__(self, path: Path) -> None:
        self.points = read_tags(path, "points")
        self.lines = read_tags(path, "lines")
        self.polygons = read_tags(path, "multipolygons")
        mapping = old_style_outer_ways(path)
        self.polygons["key"] = [
            ("w", mapping[i]) if t == "r" and i in mapping else (t, i)
            for t, i in self.polygons["key"]
        ]
        self.closed_lines = self.lines[self.lines["closed"] & (col(self.lines, "area") != "no")]

    @staticmethod
    def _keys(frame: pd.DataFrame, mask: pd.Series) -> set[OsmKey]:
        return set(frame.loc[mask.fillna(False).astype(bool), "key"])

    def roads(self) -> set[OsmKey]:
        lines = self.lines
        classes = {row["highway"] for row in read_table("road_classes")}
        return self._keys(
            lines, col(lines, "highway").isin(classes) & (col(lines, "area") != "yes")
        )

    def buildings(self) -> set[OsmKey]:
        building = col(self.polygons, "building")
        return self._keys(self.polygons, building.notna() & (building != "no"))

    def water(self) -> set[OsmKey]:
        lines = self._keys(self.lines, col(self.lines, "waterway").isin(rules.WATERWAY_LINES))
        areas = set()
        for frame in (self.polygons, self.closed_lines):
            mask = pd.Series(False, index=frame.index)
            for key, value in rules.WATER_AREAS:
                mask |= col(frame, key) == value
            areas |= self._keys(frame, mask)
        return lines | areas

    def landuse(self) -> set[OsmKey]:
        p = self.polygons
        mask = (
            col(p, "landuse").notna()
            | col(p, "natural").isin(rules.LANDCOVER_NATURAL)
            | col(p, "leisure").isin(rules.GREEN_LEISURE)
        )
        return self._keys(p, mask)

    def admin_areas(self) -> set[OsmKey]:
        p = self.polygons
        numeric = pd.to_numeric(col(p, "admin_level"), errors="coerce").notna()
        named_or_relation = col(p, "name").notna() | pd.Series(
            [t == "r" for t, _ in p["key"]], index=p.index
        )
        return self._keys(p, (col(p, "boundary") == "administrative") & numeric & named_or_relation)

    def _poi_mask(self, frame: pd.DataFrame) -> pd.Series:
        mask = pd.Series(False, index=frame.index)
        for key in rules.POI_KEYS:
            value = col(frame, key)
            mask |= value.notna() & ~value.isin(rules.NON_POI_VALUES)
        return mask

    def pois(self) -> set[OsmKey]:
        return self._keys(self.points, self._poi_mask(self.points)) | self._keys(
            self.polygons, self._poi_mask(self.polygons)
        )

    def _place_mask(self, frame: pd.DataFrame) -> pd.Series:
        named = col(frame, "name").notna()
        return (
            col(frame, "place").notna()
            | (col(frame, "natural").isin(rules.NAMED_NATURAL) & named)
            | ((col(frame, "mountain_pass") == "yes") & named)
        )

    def places(self) -> set[OsmKey]:
        return self._keys(self.points, self._place_mask(self.points)) | self._keys(
            self.polygons, self._place_mask(self.polygons)
        )

    def addresses(self) -> set[OsmKey]:
        keys = set()
        for frame in (self.points, self.polygons, self.closed_lines):
            keys |= self._keys(frame, col(frame, "addr:housenumber").notna())
        return keys


def outer_ways_of_tagged_multipolygons(path: Path) -> set[OsmKey]:
    """Closed ways that are outer rings of a tagged multipolygon relation.

    GDAL does not report such a way as a polygon of its own even when it carries tags of its own
    (a ``building=roof`` outlining a tagged bus station); libosmium, and so our loader, does.
    """
    keys = set()
    for relation in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        tags = dict(relation.tags)
        if tags.get("type") == "multipolygon" and len(tags) > 1:
            keys |= {("w", m.ref) for m in relation.members if m.type == "w" and m.role == "outer"}
    return keys
