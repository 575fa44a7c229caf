"""The pipeline's analyses on the core's contract: burst isolation, the clearance check, the
topology check and longitudinal profiles.

Each keeps the path the isolation map and departments' scripts already call
(``POST /pipeline/isolation``, ``GET /pipeline/clearances``, ``GET
/pipeline/networks/{code}/topology`` and ``/profile``). A network the caller may not read
answers as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from geoplatform.analyses import Analysis, Run
from geoplatform.errors import NotFound
from geoplatform.features.params import finite_numbers
from layers.pipeline.clearance import check_clearances
from layers.pipeline.graphs import NetworkVersion, network_cache
from layers.pipeline.isolation import isolate_burst
from layers.pipeline.layers import pipes_layer
from layers.pipeline.network import Network
from layers.pipeline.networks import network_summaries
from layers.pipeline.profile import Profile, pipe_profile, profile_svg
from layers.pipeline.reports import from_lonlat, isolation_report
from layers.pipeline.requests import IsolationRequest
from layers.pipeline.topology import check_topology
from layers.pipeline.utilities import BY_CODE, UTILITIES

PIPES_LAYERS = tuple(pipes_layer(utility) for utility in UTILITIES)
# A comma list of codes, where an empty item (a trailing comma) names nothing.
Codes = Annotated[
    list[str], BeforeValidator(lambda v: [c for c in v if c] if isinstance(v, list) else v)
]


@dataclass(frozen=True)
class Report:
    """A finished report with its GeoJSON inside, as the isolation map reads it."""

    document: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.document


def readable_version(run: Run, code: str) -> NetworkVersion:
    """The network's version, or 404 as for an unknown network when the caller may not read
    its utility."""
    version = network_cache(run.platform).version(code)
    if not run.may_read(pipes_layer(version.utility)):
        raise NotFound(f"no network {code!r}")
    return version


def readable_network(run: Run, code: str) -> Network:
    return network_cache(run.platform).get(readable_version(run, code))


def readable_summaries(run: Run) -> list[dict]:
    """The networks whose utility the caller may read, as ``network_summaries`` lists them."""
    with run.platform.engine.connect() as conn:
        summaries = network_summaries(conn)
    return [n for n in summaries if run.may_read(pipes_layer(BY_CODE[n["utility"]]))]


def isolate(run: Run, body: IsolationRequest) -> Report:
    graph = readable_network(run, body.network)
    point = None
    if body.point is not None:
        point = from_lonlat(graph.srid).transform(*body.point)
    result = isolate_burst(
        graph, pipe_code=body.pipe, point=point, inoperable=body.inoperable_valves
    )
    return Report(isolation_report(graph, result))


ISOLATION = Analysis(
    id="isolation",
    title_zh="爆管关阀分析",
    title_en="Burst isolation: valves to close, isolated pipes, customers losing supply",
    input=IsolationRequest,
    layers=PIPES_LAYERS,
    run=isolate,
    path="/isolation",
    renderings={"geojson": lambda report: report.document["geojson"]},
)


class ClearanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    networks: Codes = Field(default_factory=list, description="network codes, comma-separated")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="west,south,east,north in degrees"
    )
    limit: int | None = Field(default=None, description="the most violations kept per list")

    @field_validator("bbox", mode="before")
    @classmethod
    def _four_numbers(cls, value: object) -> object:
        if isinstance(value, str):
            numbers = finite_numbers(value)
            if numbers is None or len(numbers) != 4:
                raise ValueError("bbox must be four numbers: west,south,east,north")
            return tuple(numbers)
        return value


def clearances(run: Run, body: ClearanceRequest) -> Report:
    for code in body.networks:
        readable_version(run, code)
    # Only networks the caller may read take part, on both sides of every pair.
    codes = body.networks or [n["code"] for n in readable_summaries(run)]
    if not codes:
        raise NotFound("no network to check")
    with run.platform.engine.connect() as conn:
        report = check_clearances(conn, networks=codes, bbox=body.bbox, limit=body.limit)
    return Report(report.to_dict() | {"geojson": report.feature_collection()})


CLEARANCES = Analysis(
    id="clearances",
    title_zh="碰撞检查",
    title_en="Clearance check between networks after GB 50289-2016",
    input=ClearanceRequest,
    layers=PIPES_LAYERS,
    run=clearances,
    path="/clearances",
    method="GET",
    renderings={"geojson": lambda report: report.document["geojson"]},
)


class NetworkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str = Field(min_length=1, max_length=63, description="the network's code")


def topology(run: Run, body: NetworkRequest) -> Report:
    graph = readable_network(run, body.network)
    with run.platform.engine.connect() as conn:
        return Report(check_topology(conn, graph))


TOPOLOGY = Analysis(
    id="topology",
    title_zh="拓扑检查",
    title_en="Topology and connectivity check of a network",
    input=NetworkRequest,
    layers=PIPES_LAYERS,
    run=topology,
    path="/networks/<network>/topology",
    method="GET",
)


class ProfileRequest(NetworkRequest):
    pipes: Codes = Field(min_length=1, max_length=500, description="pipe codes, in order")


@dataclass(frozen=True)
class ProfileReport:
    profile: Profile

    def to_dict(self) -> dict[str, Any]:
        return self.profile.to_dict() | {"geojson": self.profile.feature_collection()}


def profile(run: Run, body: ProfileRequest) -> ProfileReport:
    readable_version(run, body.network)
    with run.platform.engine.connect() as conn:
        return ProfileReport(pipe_profile(conn, body.network, body.pipes))


PROFILE = Analysis(
    id="profile",
    title_zh="纵断面",
    title_en="Longitudinal profile of a run of pipes, as JSON or an SVG chart",
    input=ProfileRequest,
    layers=PIPES_LAYERS,
    run=profile,
    path="/networks/<network>/profile",
    method="GET",
    renderings={"svg": lambda report: profile_svg(report.profile)},
)

ANALYSES = (ISOLATION, CLEARANCES, TOPOLOGY, PROFILE)
