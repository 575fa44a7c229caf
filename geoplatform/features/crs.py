"""The coordinate reference systems the feature API speaks (OGC API Features Part 2).

Geometry is stored in CGCS2000 (EPSG:4490) with longitude first, as PostGIS keeps every
geographic CRS. A response in another CRS is made by PostGIS (``ST_Transform``); the axis order
is that of the CRS's authority definition (Part 2, "Coordinate reference system information
independent of the feature encoding"): CRS84 is longitude, latitude; EPSG:4490 is latitude,
longitude, so its coordinates are flipped on the way out and on the way in. Which axis comes
first is read from the EPSG definition with pyproj, never assumed.

CRS84 is served from the stored CGCS2000 coordinates as they are: the two datums differ by a few
centimetres and PROJ transforms between them as a null transformation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from geoplatform.crs import CGCS2000, CRS84_URI, WEB_MERCATOR
from geoplatform.errors import InvalidParameter

EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
STORAGE_CRS_URI = EPSG_URI.format(CGCS2000)
# GeoJSON coordinate digits: 1e-7 degree and 1 mm are both about a centimetre or finer, below the
# accuracy of any city base map, and every further digit costs bytes on every vertex.
DEGREE_DIGITS = 7
METRE_DIGITS = 3


@dataclass(frozen=True)
class Crs:
    """One CRS a client may ask for, and how PostGIS gets there from the stored geometry."""

    uri: str
    srid: int
    lat_first: bool  # the authority's axis order starts with latitude (or northing)
    digits: int

    @property
    def is_storage(self) -> bool:
        return self.srid == CGCS2000


CRS84 = Crs(CRS84_URI, CGCS2000, lat_first=False, digits=DEGREE_DIGITS)


@lru_cache(maxsize=32)
def epsg_crs(srid: int) -> Crs:
    """The EPSG CRS with its authority axis order and the digits its unit deserves."""
    definition = CRS.from_epsg(srid)
    first_axis = definition.axis_info[0]
    return Crs(
        EPSG_URI.format(srid),
        srid,
        lat_first=first_axis.direction in ("north", "south"),
        digits=DEGREE_DIGITS if definition.is_geographic else METRE_DIGITS,
    )


def supported_crs(projected_srid: int | None) -> list[Crs]:
    """CRS84 first (the default of every parameter), storage CRS, Web Mercator, the city's."""
    srids = [CGCS2000, WEB_MERCATOR]
    if projected_srid and projected_srid not in srids:
        srids.append(projected_srid)
    return [CRS84, *(epsg_crs(srid) for srid in srids)]


def supported_uris(projected_srid: int | None) -> list[str]:
    return [crs.uri for crs in supported_crs(projected_srid)]


class CrsResolver:
    """Turns a CRS URI from a query parameter into a ``Crs``, or a 400 naming the choices.

    The city's projected CRS is recorded when the city is loaded; it is looked up only when a
    request names a CRS outside the fixed ones, so the common requests cost no query.
    """

    def __init__(self, projected_srid: Callable[[], int | None]) -> None:
        self._projected_srid = projected_srid

    def resolve(self, parameter: str, uri: str | None) -> Crs:
        if uri is None or uri == CRS84_URI:
            return CRS84
        for crs in supported_crs(None):
            if crs.uri == uri:
                return crs
        projected = self._projected_srid()
        for crs in supported_crs(projected):
            if crs.uri == uri:
                return crs
        supported = ", ".join(supported_uris(projected))
        raise InvalidParameter(f"{parameter}: unsupported CRS {uri!r}; supported: {supported}")

    def uris(self) -> list[str]:
        return supported_uris(self._projected_srid())


def check_coordinates(crs: Crs, points: Sequence[tuple[float, float]], parameter: str) -> None:
    """Refuse coordinates that would fail the statement they are bound into: an infinite one (GEOS
    refuses it) or, in a CRS other than the storage CRS, one outside the domain of the CRS's
    projection (``ST_Transform`` fails with PROJ error 2050, e.g. 1e8 m east in a UTM zone).

    Checked with PROJ as PostGIS transforms, point by point, so the caller gets a 400 naming the
    parameter. Points are (x, y) as PostGIS takes them: longitude or easting first.
    """
    coordinates = [value for point in points for value in point]
    usable = all(math.isfinite(value) for value in coordinates)
    if usable and points and crs.srid != CGCS2000:
        try:
            lons, lats = _to_storage(crs.srid).transform(*zip(*points, strict=True), errcheck=True)
        except ProjError:
            usable = False
        else:
            usable = all(math.isfinite(value) for value in (*lons, *lats))
    if not usable:
        raise InvalidParameter(
            f"{parameter}: coordinates that cannot be used in {crs.uri}: infinite, or outside "
            "the domain of its projection"
        )


@lru_cache(maxsize=8)
def _to_storage(srid: int) -> Transformer:
    # Building a transformer costs tens of milliseconds; pyproj's are safe to share across threads.
    return Transformer.from_crs(srid, CGCS2000, always_xy=True)


def swap_pairs(values: Iterable[float]) -> list[float]:
    """(a, b, c, d) -> (b, a, d, c): a lat/lon bbox into lon/lat and back."""
    items = list(values)
    swapped: list[float] = []
    for i in range(0, len(items), 2):
        swapped += [items[i + 1], items[i]]
    return swapped
