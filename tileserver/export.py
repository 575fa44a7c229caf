"""PMTiles v3 archives of public layers, for a CDN or object store to serve without the platform.

Tiles are the bytes the endpoint serves (``TileService.render``), gzipped; the metadata is our
TileJSON document, so a map reading the archive sees the same ``vector_layers`` as one reading
``/tiles/{layers}.json``.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import morecantile
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from sqlalchemy import Engine

from geoplatform.layer_state import layer_states
from geoplatform.registry import Layer
from tileserver.seed import BBox
from tileserver.tilejson import tilejson_document
from tileserver.tiles import TileService


class ExportError(RuntimeError):
    """The archive cannot be written as asked; nothing was written."""


class InternalLayerRefused(ExportError):
    """A layer not readable anonymously was asked for without explicit permission."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    tiles: int
    empty: int
    bytes: int  # tile data, gzipped, before deduplication
    seconds: float


def check_public(layers: tuple[Layer, ...], allow_internal: bool) -> None:
    """Refuse layers an anonymous reader may not see: the archive is meant for a public CDN."""
    restricted = [layer.id for layer in layers if not layer.is_public]
    if restricted and not allow_internal:
        raise InternalLayerRefused(
            f"{', '.join(restricted)} {'is' if len(restricted) == 1 else 'are'} not public; "
            "a PMTiles archive is readable by anyone who gets the file. "
            "Pass --allow-internal to export anyway."
        )


def pmtiles_metadata(engine: Engine, layers: tuple[Layer, ...], bbox: BBox) -> dict:
    """Our TileJSON document for these layers over the exported box.

    Zooms and centre are set when the archive is written, from the zooms that hold tiles.
    """
    with engine.connect() as conn:
        document = tilejson_document(layers, layer_states(conn), "")
    # The archive is its own tile source; a URL template of this platform would mislead.
    del document["tiles"]
    document.update(bounds=list(bbox), format="pbf", type="baselayer")
    return document


def export_pmtiles(
    service: TileService,
    layers: tuple[Layer, ...],
    tiles: Sequence[morecantile.Tile],
    metadata: dict,
    out: Path,
    on_tile: Callable[[], None] | None = None,
) -> ExportSummary:
    """Write the non-empty tiles to ``out`` through a temporary file renamed at the end."""
    started = time.monotonic()
    out = Path(out)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as file:
            written, empty, size = _write_archive(file, service, layers, tiles, metadata, on_tile)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return ExportSummary(out, written, empty, size, time.monotonic() - started)


def _write_archive(file, service, layers, tiles, metadata, on_tile) -> tuple[int, int, int]:
    writer = Writer(file)
    try:
        return _write_tiles(writer, service, layers, tiles, metadata, on_tile)
    finally:
        # The writer spools tile data to a temporary file it closes only in finalize().
        writer.tile_f.close()


def _write_tiles(writer, service, layers, tiles, metadata, on_tile) -> tuple[int, int, int]:
    written = empty = size = 0
    zooms: set[int] = set()
    # Directories must list tile ids in ascending order; writing in that order also lets the
    # writer run-length encode repeated tiles (open water, forest) and mark the archive clustered.
    for tile in sorted(tiles, key=lambda t: zxy_to_tileid(t.z, t.x, t.y)):
        data = service.render(layers, tile.z, tile.x, tile.y)
        if data:
            gzipped = gzip.compress(data, compresslevel=9, mtime=0)
            writer.write_tile(zxy_to_tileid(tile.z, tile.x, tile.y), gzipped)
            written += 1
            zooms.add(tile.z)
            size += len(gzipped)
        else:
            empty += 1
        if on_tile:
            on_tile()
    if not written:
        raise ExportError("every tile in the range is empty; no archive was written")
    metadata = _narrowed(metadata, min(zooms), max(zooms))
    writer.finalize(_header(metadata), metadata)
    return written, empty, size


def _narrowed(metadata: dict, minzoom: int, maxzoom: int) -> dict:
    """The metadata with the zooms that hold tiles, which the writer puts in the header too."""
    west, south, east, north = metadata["bounds"]
    center = [(west + east) / 2, (south + north) / 2, _center_zoom(minzoom, maxzoom)]
    return {**metadata, "minzoom": minzoom, "maxzoom": maxzoom, "center": center}


def _header(metadata: dict) -> dict:
    west, south, east, north = metadata["bounds"]
    center_lon, center_lat, center_zoom = metadata["center"]
    return {
        "tile_compression": Compression.GZIP,
        "tile_type": TileType.MVT,
        "min_zoom": metadata["minzoom"],
        "max_zoom": metadata["maxzoom"],
        "min_lon_e7": _e7(west),
        "min_lat_e7": _e7(south),
        "max_lon_e7": _e7(east),
        "max_lat_e7": _e7(north),
        "center_zoom": center_zoom,
        "center_lon_e7": _e7(center_lon),
        "center_lat_e7": _e7(center_lat),
    }


def _center_zoom(minzoom: int, maxzoom: int) -> int:
    # A city fills the screen at about z12, like the TileJSON centre.
    return min(max(minzoom, 12), maxzoom)


def _e7(degrees: float) -> int:
    return round(degrees * 10_000_000)
