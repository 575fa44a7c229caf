"""Raster layers: Cloud-Optimized GeoTIFFs in the data directory, imported and rendered as tiles.

A raster layer is two files under ``<data_dir>/rasters/``: ``NAME.tif``, a Cloud-Optimized
GeoTIFF, and ``NAME.json``, its sidecar (title, access, attribution, how to render it, where it
came from, the COG's sha256, its bounds, zooms and band statistics). Both live on disk, so every
worker on every machine that mounts the directory sees the same catalogue.

Imports are not web-optimized: the COG keeps the source's grid and CRS, so its pixels are the
source's pixels (a density surface keeps its totals); tiles are reprojected on the fly by
rio-tiler. Each file is written to a hidden temporary name beside its target and renamed into
place, the COG first and the sidecar last; the sidecar is the commit point, and a raster without
one does not exist for the catalogue.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles
from rio_tiler.colormap import cmap
from rio_tiler.constants import WGS84_CRS
from rio_tiler.errors import InvalidColorMapName, TileOutsideBounds
from rio_tiler.io import Reader

from geoplatform.auth import Principal, may_access
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.registry import INTERNAL, PUBLIC

RASTER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
TILE_SIZE = 256
ImageFormat = Literal["png", "webp"]
IMAGE_TYPES: dict[str, str] = {"png": "image/png", "webp": "image/webp"}
Access = str | frozenset[str]
Progress = Callable[[str], None]


class RasterImportError(Exception):
    """The source cannot be read or converted; nothing was changed."""


@dataclass(frozen=True)
class RasterInfo:
    """A raster layer as its sidecar describes it."""

    name: str
    title: str
    access: Access
    attribution: str
    source: str
    sha256: str
    crs: str
    bounds: tuple[float, float, float, float]  # west, south, east, north in WGS84 degrees
    minzoom: int
    maxzoom: int
    width: int
    height: int
    dtype: str
    nodata: float | None
    # rio-tiler colormap name (single-band rasters) and the value range mapped onto 0..255.
    colormap: str | None
    rescale: tuple[tuple[float, float], ...] | None
    statistics: dict[str, dict] = field(compare=False)
    # What a builder needs to recognise an identical rebuild (source layer versions, settings).
    provenance: dict = field(default_factory=dict, compare=False)
    imported_at: str = ""

    @property
    def is_public(self) -> bool:
        return self.access == PUBLIC

    @property
    def render_fingerprint(self) -> str:
        """Changes with the pixels or with how they are drawn, so ETags follow both."""
        return f"{self.sha256}:{self.colormap}:{self.rescale}"

    def to_json(self) -> dict:
        access = self.access if isinstance(self.access, str) else sorted(self.access)
        return {
            "name": self.name,
            "title": self.title,
            "access": access,
            "attribution": self.attribution,
            "source": self.source,
            "render": {
                "colormap": self.colormap,
                "rescale": [list(r) for r in self.rescale] if self.rescale else None,
            },
            "sha256": self.sha256,
            "crs": self.crs,
            "bounds": list(self.bounds),
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "width": self.width,
            "height": self.height,
            "dtype": self.dtype,
            "nodata": self.nodata,
            "statistics": self.statistics,
            "provenance": self.provenance,
            "imported_at": self.imported_at,
        }

    @classmethod
    def from_json(cls, data: dict) -> RasterInfo:
        render = data.get("render") or {}
        rescale = render.get("rescale")
        return cls(
            name=data["name"],
            title=data.get("title") or data["name"],
            access=parse_access(data.get("access", PUBLIC)),
            attribution=data.get("attribution", ""),
            source=data.get("source", ""),
            sha256=data["sha256"],
            crs=data["crs"],
            bounds=tuple(data["bounds"]),
            minzoom=int(data["minzoom"]),
            maxzoom=int(data["maxzoom"]),
            width=int(data["width"]),
            height=int(data["height"]),
            dtype=data["dtype"],
            nodata=data.get("nodata"),
            colormap=render.get("colormap"),
            rescale=tuple((float(lo), float(hi)) for lo, hi in rescale) if rescale else None,
            statistics=data.get("statistics") or {},
            provenance=data.get("provenance") or {},
            imported_at=data.get("imported_at", ""),
        )


def parse_access(value: str | list[str] | frozenset[str]) -> Access:
    """``public``, ``internal`` or departments (a JSON list, or comma-separated on a CLI)."""
    if isinstance(value, str) and value in (PUBLIC, INTERNAL):
        return value
    departments = value.split(",") if isinstance(value, str) else list(value)
    departments = [d.strip() for d in departments if d.strip()]
    if not departments:
        raise InvalidParameter(f"access must be 'public', 'internal' or departments, got {value!r}")
    return frozenset(departments)


def can_read_raster(principal: Principal, raster: RasterInfo) -> bool:
    """The rule ``geoplatform.auth.can_read`` applies to layers, applied to a sidecar's access."""
    return may_access(principal, raster.access)


def check_name(name: str) -> str:
    if not RASTER_NAME.match(name):
        raise InvalidParameter(
            f"raster name {name!r} must match ^[a-z][a-z0-9_-]{{0,62}}$: a lower-case letter, "
            "then up to 62 lower-case letters, digits, '_' or '-'"
        )
    return name


class RasterCatalogue:
    """The raster layers in ``<data_dir>/rasters``, read from disk on every call."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "rasters"

    def cog_path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.tif"

    def sidecar_path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.json"

    def find(self, name: str) -> RasterInfo | None:
        """The raster's sidecar, or None when the name is malformed, missing or corrupt."""
        if not RASTER_NAME.match(name):
            return None
        try:
            data = json.loads(self.sidecar_path(name).read_text(encoding="utf-8"))
            info = RasterInfo.from_json(data)
        except (OSError, ValueError, KeyError, TypeError, InvalidParameter):
            return None
        if info.name != name or not self.cog_path(name).is_file():
            return None
        return info

    def __iter__(self) -> Iterator[RasterInfo]:
        if not self.directory.is_dir():
            return
        for sidecar in sorted(self.directory.glob("*.json")):
            info = self.find(sidecar.stem)
            if info is not None:
                yield info

    def readable(self, principal: Principal, name: str) -> RasterInfo:
        """The raster if the caller may read it, else NotFound: existence is not revealed."""
        info = self.find(name)
        if info is None or not can_read_raster(principal, info):
            raise NotFound(f"no raster {name!r}")
        return info


def import_raster(
    source: Path,
    name: str,
    data_dir: Path,
    *,
    title: str | None = None,
    access: Access = PUBLIC,
    attribution: str = "",
    source_label: str | None = None,
    colormap: str | None = None,
    rescale: tuple[tuple[float, float], ...] | None = None,
    overview_resampling: str = "nearest",
    provenance: dict | None = None,
    progress: Progress | None = None,
    quiet: bool = True,
) -> RasterInfo:
    """Convert any GeoTIFF into a COG layer NAME, all or nothing; returns its sidecar.

    ``rescale`` defaults to each band's min..max for data that is not already 8-bit, so tiles of
    any data type render without configuration; ``quiet=False`` shows rio-cogeo's progress bar.
    """
    check_name(name)
    access = parse_access(access)
    if colormap is not None:
        try:
            cmap.get(colormap)
        except InvalidColorMapName:
            raise InvalidParameter(f"unknown colormap {colormap!r}") from None
    step = progress or (lambda _message: None)
    catalogue = RasterCatalogue(data_dir)
    catalogue.directory.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    cog_part = catalogue.directory / f".{name}-{token}.tif"
    sidecar_part = catalogue.directory / f".{name}-{token}.json"
    try:
        step(f"converting {Path(source).name} to a Cloud-Optimized GeoTIFF")
        _translate(source, cog_part, overview_resampling, quiet)
        step("validating the COG")
        valid, errors, _ = cog_validate(cog_part, quiet=True)
        if not valid:
            raise RasterImportError(f"rio-cogeo wrote an invalid COG: {'; '.join(errors)}")
        step("computing band statistics and checksum")
        info = _describe(
            cog_part,
            name=name,
            title=title or name,
            access=access,
            attribution=attribution,
            source=source_label or Path(source).name,
            colormap=colormap,
            rescale=rescale,
            provenance=provenance or {},
        )
        sidecar_part.write_text(
            json.dumps(info.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        os.replace(cog_part, catalogue.cog_path(name))
        os.replace(sidecar_part, catalogue.sidecar_path(name))
    finally:
        cog_part.unlink(missing_ok=True)
        sidecar_part.unlink(missing_ok=True)
    return info


def _translate(source: Path, destination: Path, overview_resampling: str, quiet: bool) -> None:
    try:
        with rasterio.open(source) as src:
            if src.crs is None:
                raise RasterImportError(f"{source} has no CRS; tiles need georeferenced data")
            profile = cog_profiles.get("deflate")
            # Blocks and overviews the size of a tile: a city-sized raster still gets overviews,
            # so it shows from a lower zoom and each tile reads about one block.
            profile.update(blockxsize=TILE_SIZE, blockysize=TILE_SIZE)
            # Floating-point predictor for float data, horizontal differencing for integers.
            profile["predictor"] = 3 if np.dtype(src.dtypes[0]).kind == "f" else 2
            cog_translate(
                src,
                destination,
                profile,
                overview_resampling=overview_resampling,
                web_optimized=False,
                in_memory=False,
                quiet=quiet,
            )
    except RasterioError as exc:
        raise RasterImportError(f"cannot read {source} as a raster: {exc}") from None


def _describe(path: Path, **fields) -> RasterInfo:
    with Reader(str(path)) as src:
        with warnings.catch_warnings():
            # Statistics of a masked, single-valued band make numpy warn; the numbers are right.
            warnings.simplefilter("ignore", RuntimeWarning)
            statistics = {
                band: stats.model_dump(exclude={"histogram"})
                for band, stats in src.statistics().items()
            }
        rescale = fields.pop("rescale")
        if rescale is None and src.dataset.dtypes[0] != "uint8":
            rescale = tuple((s["min"], s["max"]) for s in statistics.values())
        return RasterInfo(
            **fields,
            rescale=rescale,
            sha256=_sha256(path),
            crs=src.crs.to_string(),
            bounds=tuple(src.get_geographic_bounds(WGS84_CRS)),
            minzoom=src.minzoom,
            maxzoom=src.maxzoom,
            width=src.dataset.width,
            height=src.dataset.height,
            dtype=src.dataset.dtypes[0],
            nodata=src.dataset.nodata,
            statistics=statistics,
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tile_etag(raster: RasterInfo, z: int, x: int, y: int, image_format: ImageFormat) -> str:
    key = f"{raster.name}:{raster.render_fingerprint}:{z}/{x}/{y}.{image_format}"
    return '"' + hashlib.sha1(key.encode()).hexdigest()[:24] + '"'


def render_tile(
    path: Path, raster: RasterInfo, z: int, x: int, y: int, image_format: ImageFormat
) -> bytes | None:
    """A 256-px Web Mercator tile as PNG/WEBP, transparent where there is no data.

    None when the tile lies wholly outside the raster.
    """
    with Reader(str(path)) as src:
        try:
            image = src.tile(x, y, z, tilesize=TILE_SIZE)
        except TileOutsideBounds:
            return None
    if raster.rescale:
        image.rescale(in_range=raster.rescale)
    colormap = cmap.get(raster.colormap) if raster.colormap and image.count == 1 else None
    return image.render(img_format=image_format.upper(), colormap=colormap)
