"""A feature for every pipeline layer near the demo centre, for the access tests.

The demo generator builds water and gas only; one old pipe (it is due for replacement) and one
valve of each other utility give the drainage, heat, power and telecom layers something to show.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from layers.pipeline.changes import networks_changed
from layers.pipeline.utilities import BY_NAME

OTHER_UTILITIES = ("drainage", "heat", "power", "telecom")

_INSERT_NETWORK = text(
    """INSERT INTO pipeline.networks (code, utility, name_zh, name_en, source)
       VALUES (:network, :utility, :name_zh, :name_en, 'samples')"""
)
_INSERT_PIPE = text(
    """INSERT INTO pipeline.pipes (network, code, utility, material, install_year, length_m, geom)
       VALUES (:network, 'P1', :utility, 'ZT', 1950, 100,
               ST_GeomFromText('LINESTRING(9.5200 47.1400, 9.5212 47.1405)', 4490))"""
)
_INSERT_VALVE = text(
    """INSERT INTO pipeline.points (network, code, utility, kind, pipe_code, geom)
       VALUES (:network, 'V1', :utility, 'valve', 'P1',
               ST_GeomFromText('POINT(9.5206 47.14025)', 4490))"""
)


def insert_samples(conn: Connection) -> None:
    utilities = [BY_NAME[name] for name in OTHER_UTILITIES]
    for utility in utilities:
        params = {
            "network": f"samples_{utility.name}",
            "utility": utility.code,
            "name_zh": f"{utility.title_zh}样例",
            "name_en": f"{utility.title_en} samples",
        }
        for statement in (_INSERT_NETWORK, _INSERT_PIPE, _INSERT_VALVE):
            conn.execute(statement, params)
    networks_changed(conn, utilities)
