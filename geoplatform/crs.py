"""Choosing the projected CRS in which areas and lengths are measured."""

from __future__ import annotations

from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_crs_info, query_utm_crs_info
from pyproj.enums import PJType

CGCS2000 = 4490
WEB_MERCATOR = 3857
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def projected_srid_for(bounds: tuple[float, float, float, float]) -> int:
    """EPSG code of the CRS to measure data with these lon/lat bounds in.

    Inside China: the CGCS2000 3-degree Gauss-Krüger zone (the "CM" variant without the zone
    prefix in the easting, EPSG:4534-4554) whose area of use contains the data's centre, as city
    base maps are kept. Elsewhere: the WGS 84 UTM zone of the centre.
    """
    west, south, east, north = bounds
    lon, lat = (west + east) / 2, (south + north) / 2
    centre = AreaOfInterest(lon, lat, lon, lat)
    gauss_kruger = [
        info
        for info in query_crs_info(
            auth_name="EPSG",
            pj_types=[PJType.PROJECTED_CRS],
            area_of_interest=centre,
            contains=True,
        )
        if info.name.startswith("CGCS2000 / 3-degree Gauss-Kruger CM")
    ]
    if gauss_kruger:
        return int(_nearest_central_meridian(gauss_kruger, lon).code)
    utm = query_utm_crs_info(datum_name="WGS 84", area_of_interest=centre)
    if not utm:
        raise ValueError(f"no projected CRS covers longitude {lon:.4f}, latitude {lat:.4f}")
    return int(utm[0].code)


def _nearest_central_meridian(candidates: list, lon: float):
    # Zones overlap at their edges in the EPSG areas of use; the nearest meridian distorts least.
    def distance(info) -> float:
        meridian = float(info.name.rsplit("CM ", 1)[1].rstrip("E"))
        return abs(meridian - lon)

    return min(candidates, key=distance)


def crs_name(srid: int) -> str:
    return CRS.from_epsg(srid).name
