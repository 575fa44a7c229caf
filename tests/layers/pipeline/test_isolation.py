"""Burst isolation on a small network drawn for the purpose, where every answer can be
worked out by hand (see the sketch), through the service and over HTTP.

    N3 --F (tee at 150: Sv3 -> sc3)-- V6 (closed) -- N4      (y = 100)
    |                                                |
    V3 D                                             V5 E
    |                                                |
    S == A == N1 ==V1== B (tee at 150: Sv1 -> sc1) ==V2== N2 ==V4== C (tee 250: Sv2 -> sc2)
   x=0       x=100                                     x=200             x=300  (y = 0)

Coordinates are metres in EPSG:32632 from an origin near Vaduz. S is the only source. V6 is
closed in normal operation (a zone boundary).
"""

from __future__ import annotations

import pytest
from pyproj import Transformer

from geoplatform.app import create_app
from geoplatform.db import make_engine, transaction
from geoplatform.keys import create_key
from geoplatform.layer_state import record_change
from layers.pipeline.graphs import network_cache
from layers.pipeline.isolation import NoPipeNearby, UnknownPipe, isolate_burst
from layers.pipeline.network import load_network
from tests.layers.pipeline.drawing import VADUZ, add_network, add_pipe, add_point

X0, Y0 = VADUZ
NETWORK = "test_water"

PIPES = {
    "A": [(0, 0), (100, 0)],
    "B": [(100, 0), (200, 0)],
    "C": [(200, 0), (300, 0)],
    "D": [(100, 0), (100, 100)],
    "E": [(200, 0), (200, 100)],
    "F": [(100, 100), (200, 100)],
    "Sv1": [(150, 0), (150, -20)],
    "Sv2": [(250, 0), (250, -20)],
    "Sv3": [(150, 100), (150, 120)],
    # Fed by nothing even in normal operation: never the burst's doing.
    "Island": [(0, 200), (50, 200)],
}
VALVES = {
    "V1": ("B", (103, 0), "open"),
    "V2": ("B", (197, 0), "open"),
    "V3": ("D", (100, 3), "open"),
    "V4": ("C", (203, 0), "open"),
    "V5": ("E", (200, 3), "open"),
    "V6": ("F", (197, 100), "closed"),
}
CONNECTIONS = {
    "sc1": ((150, -20), 4),
    "sc2": ((250, -20), 2),
    "sc3": ((150, 120), 1),
    "sc9": ((50, 200), 9),
}


@pytest.fixture(scope="module")
def sketch(make_database):
    settings = make_database("isolation")
    engine = make_engine(settings)
    with transaction(engine) as conn:
        add_network(conn, NETWORK, "JS", "测试管网", "Test network")
        for code, coords in PIPES.items():
            role = "service" if code.startswith("Sv") else "main"
            add_pipe(conn, NETWORK, code, coords, role=role, diameter_mm=150)
        add_point(conn, NETWORK, "S", "source", (0, 0), source_kind="plant")
        for code, (pipe, xy, state) in VALVES.items():
            add_point(
                conn, NETWORK, code, "valve", xy, pipe_code=pipe, normal_state=state, operable=True
            )
        for code, (xy, n) in CONNECTIONS.items():
            add_point(
                conn,
                NETWORK,
                code,
                "service_connection",
                xy,
                customers=n,
                address=f"{code} street 1",
            )
    yield settings, engine
    engine.dispose()


@pytest.fixture(scope="module")
def network(sketch):
    _, engine = sketch
    with engine.connect() as conn:
        return load_network(conn, NETWORK)


def _pipes(network, edges) -> set[str]:
    return {network.edge_pipe[e] for e in edges}


def test_graph_from_geometry(network):
    # 10 pipes; tees split B, C, F; valves split B twice, C, D, E, F.
    assert len(network.pipes) == 10
    assert len(network.edge_u) == 10 + 3 + 6
    assert sorted(network.valve_at.values()) == sorted(VALVES)
    assert network.unattached == []


def test_burst_between_two_valves(network):
    result = isolate_burst(network, pipe_code="B")
    assert result.valves_to_close == ["V1", "V2"]
    assert _pipes(network, result.segment_edges) == {"B", "Sv1"}
    # N2's side is fed only through B (V6 is closed in normal operation): cut off.
    assert _pipes(network, result.cut_off_edges) == {"B", "C", "E", "F", "Sv2"}
    assert result.affected_connections == ["sc1", "sc2"]
    assert not result.extended


def test_inoperable_valve_extends_to_the_next_valves(network):
    result = isolate_burst(network, pipe_code="B", inoperable=["V2"])
    assert result.primary_valves == ["V1", "V2"]
    assert result.valves_to_close == ["V1", "V4", "V5"]
    assert result.inoperable_valves == ["V2"]
    assert result.extended
    assert result.affected_connections == ["sc1", "sc2"]


def test_burst_on_the_source_main_cuts_everything_off(network):
    result = isolate_burst(network, pipe_code="A")
    assert result.valves_to_close == ["V1", "V3"]
    assert result.segment_nodes == ["S"]
    # sc9 on the island had no supply before the burst either.
    assert result.affected_connections == ["sc1", "sc2", "sc3"]
    assert "Island" not in _pipes(network, result.cut_off_edges)


def test_closed_boundary_valve_is_not_on_the_list(network):
    result = isolate_burst(network, pipe_code="D")
    assert result.valves_to_close == ["V3"]
    assert _pipes(network, result.segment_edges) == {"D", "F", "Sv3"}
    assert result.affected_connections == ["sc3"]
    assert result.cut_off_edges == []


def test_burst_at_a_point(network):
    result = isolate_burst(network, point=(X0 + 260, Y0 + 3))
    assert result.burst.pipe_code == "C"
    assert result.burst.distance_m == pytest.approx(60.0)
    assert result.valves_to_close == ["V4"]
    assert result.affected_connections == ["sc2"]


def test_bad_bursts(network):
    with pytest.raises(UnknownPipe, match="no pipe 'Z' in network 'test_water'"):
        isolate_burst(network, pipe_code="Z")
    with pytest.raises(NoPipeNearby, match="within 50 m"):
        isolate_burst(network, point=(X0 + 150, Y0 + 300))


# --- over HTTP ------------------------------------------------------------------------------

_TO_LONLAT = Transformer.from_crs(32632, 4326, always_xy=True)


@pytest.fixture(scope="module")
def api(sketch):
    settings, engine = sketch
    app = create_app(settings.model_copy(update={"modules": ["base", "pipeline"]}))
    keys = {}
    with transaction(engine) as conn:
        for department in (
            "water_utility",
            "gas_utility",
            "emergency_management",
            "natural_resources",
        ):
            keys[department] = {
                "Authorization": f"Bearer {create_key(conn, department, 'viewer')[1]}"
            }
        keys["water_editor"] = {
            "Authorization": f"Bearer {create_key(conn, 'water_utility', 'editor')[1]}"
        }
    yield app.test_client(), keys
    # Every pool and listener it opened, before the database is dropped under them.
    app.extensions["geoplatform"].close()


def test_isolation_over_http(api):
    client, keys = api
    response = client.post(
        "/pipeline/isolation",
        json={"network": NETWORK, "pipe": "B", "inoperable_valves": ["V2"]},
        headers=keys["water_utility"],
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["valves_to_close"] == ["V1", "V4", "V5"]
    assert body["summary"]["customers"] == 6
    assert body["summary"]["service_connections"] == 2
    assert [c["address"] for c in body["affected_connections"]] == [
        "sc1 street 1",
        "sc2 street 1",
    ]
    assert response.headers["Cache-Control"] == "private, no-store"
    kinds = {
        (f["properties"]["kind"], f["properties"]["role"]) for f in body["geojson"]["features"]
    }
    assert ("valve", "close") in kinds and ("valve", "inoperable") in kinds
    burst = next(f for f in body["geojson"]["features"] if f["properties"]["kind"] == "burst")
    lon, lat = _TO_LONLAT.transform(X0 + 150, Y0)
    assert burst["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-7)


def test_isolation_at_a_lonlat_point(api):
    client, keys = api
    lon, lat = _TO_LONLAT.transform(X0 + 260, Y0 + 3)
    response = client.post(
        "/pipeline/isolation",
        json={"network": NETWORK, "point": [lon, lat]},
        headers=keys["emergency_management"],
    )
    assert response.status_code == 200
    assert response.json["burst"]["pipe_code"] == "C"
    assert response.json["valves_to_close"] == ["V4"]


def test_repair_order_is_printable_html(api):
    client, keys = api
    response = client.get(
        f"/pipeline/isolation/order?network={NETWORK}&pipe=B", headers=keys["water_utility"]
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "抢修工单" in page and "V1" in page and "V2" in page and "sc1 street 1" in page


@pytest.mark.parametrize("who", [None, "gas_utility", "natural_resources"])
def test_others_learn_nothing_of_the_network(api, who):
    client, keys = api
    headers = keys[who] if who else {}
    analyses = (
        ("post", "/pipeline/isolation", "/pipeline/isolatiox", {"network": NETWORK, "pipe": "B"}),
        ("get", f"/pipeline/networks/{NETWORK}/topology", "/pipeline/networks/x/topologx", None),
    )
    for method, url, unknown_url, body in analyses:
        response = getattr(client, method)(url, json=body, headers=headers)
        if who == "gas_utility":
            # It reads a pipeline layer (gas), so it knows the analysis, not this network.
            assert response.status_code == 404
            assert response.json == {"code": "NotFound", "description": f"no network '{NETWORK}'"}
        else:
            # Who reads no pipeline layer at all learns not even that the analysis exists.
            unknown = getattr(client, method)(unknown_url, json=body, headers=headers)
            assert (response.status_code, response.data) == (404, unknown.data)
    order = client.get(f"/pipeline/isolation/order?network={NETWORK}&pipe=B", headers=headers)
    assert order.status_code == 404
    assert order.json == {"code": "NotFound", "description": f"no network '{NETWORK}'"}
    listed = client.get("/pipeline/networks", headers=headers).json["networks"]
    assert listed == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"network": NETWORK}, "give the burst as 'pipe'"),
        ({"network": NETWORK, "pipe": "B", "colour": 1}, "colour: Extra inputs are not permitted"),
        ({"network": NETWORK, "point": [200, 47]}, "point must be [lon, lat] in degrees"),
        ({"network": NETWORK, "pipe": "B", "inoperable_valves": ["V9"]}, "not valves"),
        ({"network": NETWORK, "point": [9.0, 47.0]}, "no pipe of network"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
def test_bad_input_is_a_400_with_a_message(api, body, message):
    client, keys = api
    response = client.post("/pipeline/isolation", json=body, headers=keys["water_utility"])
    assert response.status_code == 400
    assert message in response.json["description"]


def test_unknown_pipe_is_a_404(api):
    client, keys = api
    response = client.post(
        "/pipeline/isolation",
        json={"network": NETWORK, "pipe": "ZZ"},
        headers=keys["water_utility"],
    )
    assert response.status_code == 404
    assert response.json["description"] == f"no pipe 'ZZ' in network '{NETWORK}'"


def test_graph_is_built_once_and_rebuilt_after_a_change(api, sketch):
    client, keys = api
    cache = network_cache(client.application.extensions["geoplatform"])
    client.post(
        "/pipeline/isolation", json={"network": NETWORK, "pipe": "B"}, headers=keys["water_utility"]
    )
    builds = cache.builds
    client.post(
        "/pipeline/isolation", json={"network": NETWORK, "pipe": "C"}, headers=keys["water_utility"]
    )
    assert cache.builds == builds
    _, engine = sketch
    registry = client.application.extensions["geoplatform"].registry
    with transaction(engine) as conn:
        record_change(conn, registry.get("pipeline.water_points"))
    client.post(
        "/pipeline/isolation", json={"network": NETWORK, "pipe": "C"}, headers=keys["water_utility"]
    )
    assert cache.builds == builds + 1


def test_profile_over_http(api):
    client, keys = api
    url = f"/pipeline/networks/{NETWORK}/profile?pipes=A,B,C"
    response = client.get(url, headers=keys["water_utility"])
    assert response.status_code == 200, response.json
    assert response.json["length_m"] == pytest.approx(300.0, abs=0.01)
    svg = client.get(url + "&f=svg", headers=keys["water_utility"])
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    broken = client.get(
        f"/pipeline/networks/{NETWORK}/profile?pipes=A,C", headers=keys["water_utility"]
    )
    assert broken.status_code == 400
    assert "pipes A and C do not meet" in broken.json["description"]
    assert client.get(url, headers=keys["gas_utility"]).status_code == 404


def test_maintenance_over_http(api):
    client, keys = api
    url = f"/pipeline/networks/{NETWORK}/maintenance"
    record = {
        "asset_type": "pipe",
        "asset_code": "B",
        "performed_on": "2026-11-01",
        "kind": "repair",
    }
    assert client.post(url, json=record, headers=keys["water_utility"]).status_code == 403
    assert client.post(url, json=record, headers=keys["emergency_management"]).status_code == 403
    assert client.post(url, json=record, headers=keys["gas_utility"]).status_code == 404
    created = client.post(url, json=record, headers=keys["water_editor"])
    assert created.status_code == 201, created.json
    bad = client.post(url, json=record | {"kind": "painting"}, headers=keys["water_editor"])
    assert bad.status_code == 400 and "kind must be one of" in bad.json["description"]
    listed = client.get(url + "?asset_type=pipe&asset_code=B", headers=keys["water_utility"])
    assert [r["kind"] for r in listed.json["records"]] == ["repair"]


def test_clearances_and_replacement_need_a_reader(api):
    client, keys = api
    assert client.get("/pipeline/clearances", headers=keys["water_utility"]).status_code == 200
    assert client.get("/pipeline/clearances").status_code == 404
    assert client.get(f"/pipeline/clearances?networks={NETWORK}").status_code == 404
    water = client.get("/pipeline/replacement?utility=water", headers=keys["water_utility"])
    assert water.status_code == 200 and water.json["type"] == "FeatureCollection"
    assert client.get("/pipeline/replacement?utility=water").status_code == 404
    unknown = client.get("/pipeline/replacement?utility=sewage", headers=keys["water_utility"])
    assert unknown.status_code == 400
