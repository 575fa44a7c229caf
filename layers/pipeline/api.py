"""HTTP of the pipeline module: networks, topology check, burst isolation and its repair order.

Every route resolves the network first and answers 404 when the caller may not read its
utility's pipes (as if it did not exist): pipeline data is confidential, and an analysis leaks
as much as the layer it reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import Blueprint, jsonify, make_response, render_template, request
from pyproj import Transformer
from sqlalchemy import text

from geoplatform.auth import can_read, current_principal
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.features.openapi import operation
from layers.pipeline.graphs import NetworkCache
from layers.pipeline.isolation import isolate_burst
from layers.pipeline.network import Network
from layers.pipeline.reports import isolation_report
from layers.pipeline.requests import IsolationRequest, parse
from layers.pipeline.topology import check_topology
from layers.pipeline.utilities import BY_CODE

if TYPE_CHECKING:
    from geoplatform.platform import Platform

_NETWORKS = """
SELECT n.code, n.utility, n.name_zh, n.name_en, n.source, n.snap_tolerance_m, n.loaded_at,
       (SELECT count(*) FROM pipeline.pipes AS p WHERE p.network = n.code) AS pipes,
       (SELECT coalesce(sum(p.length_m), 0) FROM pipeline.pipes AS p
         WHERE p.network = n.code) AS length_m,
       (SELECT count(*) FROM pipeline.points AS p WHERE p.network = n.code) AS points
  FROM pipeline.networks AS n
 ORDER BY n.code
"""
_NETWORK_PARAM = {
    "name": "network",
    "in": "path",
    "required": True,
    "description": "the network's code",
    "schema": {"type": "string"},
}


def make_pipeline_blueprint(platform: Platform) -> Blueprint:
    registry, engine = platform.registry, platform.engine
    graphs = NetworkCache(engine)
    blueprint = Blueprint("pipeline", __name__, template_folder="templates")
    blueprint.network_cache = graphs  # the bench and tests read its build count

    def may_read_utility(code: str) -> bool:
        layer_id = f"pipeline.{BY_CODE[code].name}_pipes"
        return layer_id in registry and can_read(current_principal(), registry.get(layer_id))

    def readable_network(code: str) -> Network:
        if not may_read_utility(graphs.utility_of(code)):
            raise NotFound(f"no network {code!r}")
        return graphs.get(code)

    @blueprint.get("/pipeline/networks")
    @operation(summary="Utility networks the caller may read", tags=["pipeline"])
    def list_networks():
        with engine.connect() as conn:
            rows = conn.execute(text(_NETWORKS)).all()
        networks = [
            {
                "code": row.code,
                "utility": row.utility,
                "utility_name": BY_CODE[row.utility].name,
                "title_zh": row.name_zh,
                "title_en": row.name_en,
                "source": row.source,
                "snap_tolerance_m": row.snap_tolerance_m,
                "loaded_at": row.loaded_at.isoformat(),
                "pipes": row.pipes,
                "length_km": round(row.length_m / 1000, 3),
                "points": row.points,
            }
            for row in rows
            if may_read_utility(row.utility)
        ]
        return _private(jsonify({"networks": networks}))

    @blueprint.get("/pipeline/networks/<network>/topology")
    @operation(
        summary="Topology and connectivity check of a network",
        parameters=[_NETWORK_PARAM],
        tags=["pipeline"],
    )
    def topology(network: str):
        graph = readable_network(network)
        with engine.connect() as conn:
            report = check_topology(conn, graph)
        return _private(jsonify(report))

    @blueprint.post("/pipeline/isolation")
    @operation(
        summary="Burst isolation: valves to close, isolated pipes, customers losing supply",
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": IsolationRequest.model_json_schema()}
            },
        },
        tags=["pipeline"],
    )
    def isolation():
        body = parse(IsolationRequest, request.get_json(silent=True))
        report = _isolate(body)
        if request.args.get("f") == "geojson":
            return _private(jsonify(report["geojson"]))
        return _private(jsonify(report))

    @blueprint.get("/pipeline/isolation/order")
    @operation(
        summary="Printable repair order (抢修工单) of a burst isolation",
        parameters=[
            {"name": n, "in": "query", "required": n == "network", "schema": {"type": "string"}}
            for n in ("network", "pipe", "lon", "lat", "inoperable")
        ],
        tags=["pipeline"],
    )
    def repair_order():
        args = request.args
        document: dict = {"network": args.get("network", "")}
        if args.get("pipe"):
            document["pipe"] = args["pipe"]
        if args.get("lon") or args.get("lat"):
            document["point"] = [_number(args, "lon"), _number(args, "lat")]
        if args.get("inoperable"):
            document["inoperable_valves"] = args["inoperable"].split(",")
        body = parse(IsolationRequest, document)
        report = _isolate(body)
        html = render_template(
            "pipeline/repair_order.html",
            report=report,
            issued=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
        )
        return _private(html)

    def _isolate(body: IsolationRequest) -> dict:
        graph = readable_network(body.network)
        point = None
        if body.point is not None:
            point = _projector(graph.srid).transform(*body.point)
        result = isolate_burst(
            graph, pipe_code=body.pipe, point=point, inoperable=body.inoperable_valves
        )
        return isolation_report(graph, result)

    return blueprint


def _number(args, name: str) -> float:
    try:
        return float(args.get(name, ""))
    except ValueError:
        raise InvalidParameter(f"{name} must be a number") from None


def _projector(srid: int) -> Transformer:
    return Transformer.from_crs(4326, srid, always_xy=True)


def _private(response):
    """Confidential answers: no shared cache may keep them, and they differ per key."""
    response = make_response(response)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Vary"] = "Authorization, X-API-Key"
    return response
