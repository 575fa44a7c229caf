"""HTTP of the pipeline module: networks, topology check, burst isolation with its repair order
and map page, clearance check, longitudinal profiles, maintenance and replacement warnings.

Every route resolves the network first and answers 404 when the caller may not read its
utility's pipes (as if it did not exist): pipeline data is confidential, and an analysis leaks
as much as the layer it reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify, make_response, render_template, request

from geoplatform.analyses import Run
from geoplatform.auth import current_principal
from geoplatform.authn import private
from geoplatform.city import city_bounds
from geoplatform.db import transaction
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.features.openapi import described_parameter, operation, query_parameters
from geoplatform.features.params import finite_numbers
from geoplatform.workload import heavy
from layers.pipeline import analyses
from layers.pipeline.graphs import NetworkVersion
from layers.pipeline.layers import pipes_layer
from layers.pipeline.maintenance import (
    MaintenanceInput,
    add_record,
    check_recorder,
    records_for,
    replacement_warnings,
)
from layers.pipeline.requests import IsolationRequest, MaintenanceRequest, parse
from layers.pipeline.utilities import Utility, utility_by_name_or_code

if TYPE_CHECKING:
    from geoplatform.platform import Platform

_NETWORK_PARAM = described_parameter("network", "path", "the network's code")


def make_pipeline_blueprint(platform: Platform) -> Blueprint:
    engine = platform.engine
    blueprint = Blueprint(
        "pipeline",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    def may_read(utility: Utility) -> bool:
        return _run().may_read(pipes_layer(utility))

    def readable_version(code: str) -> NetworkVersion:
        return analyses.readable_version(_run(), code)

    def _run() -> Run:
        return Run(platform, current_principal())

    @blueprint.get("/map")
    @operation(
        summary="The burst isolation map (a page; a department key logs in)", tags=["pipeline"]
    )
    def isolation_map():
        with engine.connect() as conn:
            bounds = city_bounds(conn)
        return render_template("pipeline/map.html", bounds=bounds)

    @blueprint.get("/networks")
    @operation(summary="Utility networks the caller may read", tags=["pipeline"])
    def list_networks():
        return _confidential(jsonify({"networks": analyses.readable_summaries(_run())}))

    @blueprint.get("/isolation/order")
    @heavy()
    @operation(
        summary="Printable repair order (抢修工单) of a burst isolation",
        parameters=query_parameters(
            "network", "pipe", "lon", "lat", "inoperable", required=("network",)
        ),
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
        report = analyses.isolate(_run(), body).document
        html = render_template(
            "pipeline/repair_order.html",
            report=report,
            issued=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
        )
        return _confidential(html)

    @blueprint.get("/networks/<network>/maintenance")
    @operation(
        summary="Maintenance records (养护记录) of one pipe or point",
        parameters=[
            _NETWORK_PARAM,
            *query_parameters("asset_type", "asset_code", required=("asset_type", "asset_code")),
        ],
        tags=["pipeline"],
    )
    def maintenance_records(network: str):
        readable_version(network)
        args = request.args
        with engine.connect() as conn:
            records = records_for(
                conn, network, args.get("asset_type", ""), args.get("asset_code", "")
            )
        return _confidential(jsonify({"records": records}))

    @blueprint.post("/networks/<network>/maintenance")
    @operation(
        summary="Record maintenance of a pipe or point (the owner utility's editors)",
        parameters=[_NETWORK_PARAM],
        tags=["pipeline"],
    )
    def add_maintenance(network: str):
        utility = readable_version(network).utility
        caller = current_principal()
        check_recorder(caller, utility)
        body = parse(MaintenanceRequest, request.get_json(silent=True))
        record = MaintenanceInput(
            network=network, department=caller.department, **body.model_dump()
        )
        with transaction(engine) as conn:
            saved = add_record(conn, record)
        return _confidential(jsonify(saved)), 201

    @blueprint.get("/replacement")
    @heavy()
    @operation(
        summary="Pipes past or near their material's service life (更新预警), as GeoJSON",
        parameters=query_parameters("utility", "network", required=("utility",)),
        tags=["pipeline"],
    )
    def replacement():
        try:
            utility = utility_by_name_or_code(request.args.get("utility", ""))
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        if not may_read(utility):
            raise NotFound(f"no utility {utility.name!r}")
        network = request.args.get("network") or None
        if network is not None:
            readable_version(network)
        with engine.connect() as conn:
            collection = replacement_warnings(conn, utility.name, network)
        return _confidential(jsonify(collection))

    return blueprint


def _number(args, name: str) -> float:
    numbers = finite_numbers(args.get(name, ""))
    if numbers is None or len(numbers) != 1:
        raise InvalidParameter(f"{name} must be a number")
    return numbers[0]


def _confidential(response) -> Response:
    # Pipeline answers depend on the key and must not outlive the request anywhere.
    return private(make_response(response))
