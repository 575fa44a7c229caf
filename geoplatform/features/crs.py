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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS

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


def swap_pairs(values: Iterable[float]) -> list[float]:
    """(a, b, c, d) -> (b, a, d, c): a lat/lon bbox into lon/lat and back."""
    items = list(values)
    swapped: list[float] = []
    for i in range(0, len(items), 2):
        swapped += [items[i + 1], items[i]]
    return swapped
