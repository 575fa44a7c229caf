"""Importing EPANET models: ids kept, kinds mapped, geometry placed, all or nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import shapely
import wntr
from click.testing import CliRunner
from pyproj import Transformer
from sqlalchemy import text

from geoplatform.db import make_engine
from geoplatform.layer_state import layer_states
from layers.pipeline.epanet import EpanetImportError, import_epanet, import_epanet_command

NETWORKS = Path(wntr.__file__).parent / "library" / "networks"
UTM_32N = 32632
# Vaduz; both models are centred there.
ANCHOR_LON_LAT = (9.52, 47.14)
# Net3's coordinates are unitless; 225 m per unit is the median ratio of its pipe lengths to
# their drawn lengths. ky10's are US feet.
SCALES = {"Net3": 225.0, "ky10": 0.3048}


def model_path(name: str) -> Path:
    return NETWORKS / f"{name}.inp"


def read(name: str) -> wntr.network.WaterNetworkModel:
    return wntr.network.WaterNetworkModel(str(model_path(name)))


def placement(name: str) -> tuple[tuple[float, float], float]:
    """Offset and scale that put the model's bounding-box centre on the anchor in UTM 32N."""
    model, scale = read(name), SCALES[name]
    xs, ys = zip(*(model.get_node(n).coordinates for n in model.node_name_list), strict=True)
    anchor = Transformer.from_crs(4326, UTM_32N, always_xy=True).transform(*ANCHOR_LON_LAT)
    centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return (anchor[0] - scale * centre[0], anchor[1] - scale * centre[1]), scale


def load(engine, name: str, network: str, **options):
    offset, scale = placement(name)
    return import_epanet(
        engine,
        model_path(name),
        network=network,
        crs=UTM_32N,
        offset=offset,
        scale=scale,
        **options,
    )


@pytest.fixture(scope="module")
def settings(make_database):
    return make_database("epanet")


@pytest.fixture(scope="module")
def engine(settings):
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def net3(engine):
    return load(engine, "Net3", "net3")


@pytest.fixture(scope="module")
def ky10(engine):
    return load(engine, "ky10", "ky10", valve_layer="strategic:2", seed=7)


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def table_counts(engine) -> tuple[int, int, int]:
    (counts,) = rows(
        engine,
        "SELECT (SELECT count(*) FROM pipeline.networks), (SELECT count(*) FROM pipeline.pipes),"
        " (SELECT count(*) FROM pipeline.points)",
    )
    return tuple(counts)


def projected(engine, table: str, network: str) -> dict[str, shapely.Geometry]:
    found = rows(
        engine,
        f"SELECT code, ST_AsBinary(ST_Transform(geom, {UTM_32N})) AS wkb"
        f" FROM pipeline.{table} WHERE network = :network",
        network=network,
    )
    return {row.code: shapely.from_wkb(row.wkb) for row in found}


@pytest.mark.parametrize("name", ["Net3", "ky10"])
def test_every_node_and_link_keeps_its_id_and_kind(engine, net3, ky10, name):
    model, network = read(name), name.lower()
    points = rows(
        engine,
        "SELECT code, kind, source_kind FROM pipeline.points"
        " WHERE network = :network AND kind <> 'valve'",
        network=network,
    )
    pipes = rows(
        engine, "SELECT code, role FROM pipeline.pipes WHERE network = :network", network=network
    )
    assert {p.code for p in points} == set(model.node_name_list)
    assert {p.code for p in pipes} == set(model.link_name_list)
    kinds = Counter((p.kind, p.source_kind) for p in points)
    # Unary + drops the kinds a model has none of.
    assert kinds == +Counter(
        {
            ("junction", None): model.num_junctions,
            ("source", "reservoir"): model.num_reservoirs,
            ("source", "tank"): model.num_tanks,
        }
    )
    roles = Counter(p.role for p in pipes)
    assert roles == +Counter(
        {"main": model.num_pipes, "pump": model.num_pumps, "control_valve": model.num_valves}
    )
    summary = {"net3": net3, "ky10": ky10}[network]
    assert (summary.junctions, summary.reservoirs, summary.tanks) == (
        model.num_junctions,
        model.num_reservoirs,
        model.num_tanks,
    )
    assert (summary.pipes, summary.pumps, summary.control_valves) == (
        model.num_pipes,
        model.num_pumps,
        model.num_valves,
    )


def test_links_keep_their_nodes_diameter_and_ground(engine, net3):
    model = read("Net3")
    pipe = model.get_link("101")
    (row,) = rows(
        engine,
        "SELECT start_node, end_node, diameter_mm, start_ground_m, role FROM pipeline.pipes"
        " WHERE network = 'net3' AND code = '101'",
    )
    assert (row.start_node, row.end_node) == (pipe.start_node_name, pipe.end_node_name)
    assert row.diameter_mm == round(pipe.diameter * 1000)
    assert row.start_ground_m == pytest.approx(model.get_node(pipe.start_node_name).elevation)
    (pump,) = rows(
        engine,
        "SELECT role, diameter_mm, start_ground_m FROM pipeline.pipes"
        " WHERE network = 'net3' AND code = '10'",
    )
    # Pump 10 draws from the reservoir "Lake": a pump has no diameter, a reservoir no ground.
    assert pump == ("pump", None, None)


def test_a_link_is_drawn_through_its_vertices_within_a_centimetre(engine, ky10):
    model = read("ky10")
    (offset_x, offset_y), scale = placement("ky10")
    name, link = next((n, link) for n, link in model.links() if len(link.vertices) >= 5)
    coords = [link.start_node.coordinates, *link.vertices, link.end_node.coordinates]
    expected = [(offset_x + scale * x, offset_y + scale * y) for x, y in coords]
    drawn = projected(engine, "pipes", "ky10")[name]
    assert len(drawn.coords) == len(expected)
    for got, want in zip(drawn.coords, expected, strict=True):
        assert shapely.Point(got).distance(shapely.Point(want)) < 0.01
    (length,) = rows(
        engine, "SELECT length_m FROM pipeline.pipes WHERE network = 'ky10' AND code = :c", c=name
    )
    assert length.length_m == pytest.approx(shapely.LineString(expected).length, abs=0.01)


def test_pumps_drawn_on_one_spot_get_their_nodes_moved_apart(engine, ky10):
    model = read("ky10")
    drawn = projected(engine, "pipes", "ky10")
    stacked = [
        name
        for name, link in model.links()
        if link.start_node.coordinates == link.end_node.coordinates
    ]
    assert len(stacked) == ky10.separated_nodes == 18
    assert all(0.05 < drawn[name].length < 1.001 for name in stacked)
    nodes = list(projected(engine, "points", "ky10").values())
    _, gaps = shapely.STRtree(nodes).query_nearest(nodes, exclusive=True, return_distance=True)
    assert gaps.min() > 4 * ky10.snap_tolerance_m


def test_each_valve_sits_on_its_link_next_to_the_node_it_shuts_off(engine, ky10):
    layer = wntr.network.generate_valve_layer(read("ky10"), "strategic", 2, seed=7)
    model = read("ky10")
    valves = {
        row.code: row
        for row in rows(
            engine,
            "SELECT code, pipe_code, normal_state, operable FROM pipeline.points"
            " WHERE network = 'ky10' AND kind = 'valve'",
        )
    }
    assert ky10.valves == len(layer) == len(valves)
    lines = projected(engine, "pipes", "ky10")
    positions = projected(engine, "points", "ky10")
    for index, link, node in layer[["link", "node"]].itertuples():
        valve = valves[f"V{index}"]
        assert (valve.pipe_code, valve.normal_state, valve.operable) == (link, "open", True)
        line, position = lines[link], positions[f"V{index}"]
        assert line.distance(position) < 0.001
        along = line.project(position)
        from_node = along if model.get_link(link).start_node_name == node else line.length - along
        assert from_node == pytest.approx(min(1.0, 0.1 * line.length), abs=0.001)


def test_an_import_records_a_change_of_the_utility_layers(engine, net3):
    with engine.connect() as conn:
        before = layer_states(conn)
    load(engine, "Net3", "versions")
    with engine.connect() as conn:
        after = layer_states(conn)
    for layer in ("water_pipes", "water_points", "water_replacement"):
        assert after[f"pipeline.{layer}"].version > before[f"pipeline.{layer}"].version
    assert after["pipeline.water_pipes"].feature_count == (
        before["pipeline.water_pipes"].feature_count + read("Net3").num_links
    )
    assert "pipeline.gas_pipes" not in after or (
        after["pipeline.gas_pipes"] == before.get("pipeline.gas_pipes")
    )


def test_a_second_import_of_a_code_is_refused_unless_replacing(engine):
    load(engine, "Net3", "twice")
    counts = table_counts(engine)
    with pytest.raises(EpanetImportError, match="network 'twice' exists"):
        load(engine, "Net3", "twice", valve_layer="strategic:1")
    assert table_counts(engine) == counts

    replaced = load(engine, "Net3", "twice", valve_layer="strategic:1", replace=True)
    assert replaced.replaced and replaced.valves > 0
    (row,) = rows(
        engine,
        "SELECT (SELECT count(*) FROM pipeline.networks WHERE code = 'twice') AS networks,"
        " (SELECT count(*) FROM pipeline.points WHERE network = 'twice' AND kind = 'valve')"
        " AS valves, (SELECT count(*) FROM pipeline.pipes WHERE network = 'twice') AS pipes",
    )
    assert row == (1, replaced.valves, read("Net3").num_links)


@pytest.mark.parametrize(
    "content",
    [
        "this is not an EPANET file\n",
        "[JUNCTIONS]\n J1 ten\n[END]\n",
        "[JUNCTIONS]\n J1 10\n[PIPES]\n P1 J1 J9 100 12 100\n[END]\n",
    ],
    ids=["not-inp", "bad-number", "unknown-node"],
)
def test_a_broken_file_is_a_clear_error_and_writes_nothing(engine, tmp_path, content):
    broken = tmp_path / "broken.inp"
    broken.write_text(content)
    counts = table_counts(engine)
    with pytest.raises(EpanetImportError, match="broken.inp is not a readable EPANET model"):
        import_epanet(engine, broken, network="broken", crs=UTM_32N)
    assert table_counts(engine) == counts


def test_replacing_with_a_broken_file_keeps_the_old_network(engine, tmp_path):
    load(engine, "Net3", "kept")
    counts = table_counts(engine)
    broken = tmp_path / "broken.inp"
    broken.write_text("[PIPES]\n P1 J1\n[END]\n")
    with pytest.raises(EpanetImportError):
        import_epanet(engine, broken, network="kept", crs=UTM_32N, replace=True)
    assert table_counts(engine) == counts


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"network": "Net 3"}, "network code 'Net 3' must be"),
        ({"network": "ok", "utility": "sewage"}, "unknown utility 'sewage'"),
        ({"network": "ok", "valve_layer": "every:2"}, "valve layer 'every:2'"),
        ({"network": "ok", "valve_layer": "random:100000"}, "more valves than the 117 pipes"),
        ({"network": "ok", "crs": 4326}, "no city is loaded"),
        ({"network": "ok", "crs": 999999}, "EPSG:999999 is not a known CRS"),
    ],
)
def test_bad_options_are_clear_errors(engine, options, message):
    counts = table_counts(engine)
    options = {"crs": UTM_32N, **options}
    with pytest.raises(EpanetImportError, match=message):
        import_epanet(engine, model_path("Net3"), **options)
    assert table_counts(engine) == counts


def test_a_node_without_finite_coordinates_is_named(engine, tmp_path):
    lines = model_path("Net3").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["15"] and i > 380)
    lines[at] = "15 nan 23.760"
    broken = tmp_path / "nan.inp"
    broken.write_text("\n".join(lines) + "\n")
    counts = table_counts(engine)
    with pytest.raises(EpanetImportError, match=r"1 node\(s\) have no finite coordinates.*: 15$"):
        import_epanet(engine, broken, network="nan", crs=UTM_32N)
    assert table_counts(engine) == counts


@pytest.mark.parametrize(
    ("offset", "scale", "message"),
    [
        ((1e300, 5217359.0), 225.0, "97 node\\(s\\) placed .* fall outside EPSG:32632's area"),
        ((5e7, 5217359.0), 225.0, "fall outside EPSG:32632's area of use"),
        ((float("nan"), 0.0), 225.0, "offset must be two finite numbers"),
        ((0.0, 0.0), float("inf"), "scale must be a positive number"),
        ((0.0, 0.0), 1e300, "fall outside"),
    ],
)
def test_a_placement_off_the_crs_is_a_clear_error(engine, offset, scale, message):
    counts = table_counts(engine)
    with pytest.raises(EpanetImportError, match=message):
        import_epanet(
            engine, model_path("Net3"), network="off", crs=UTM_32N, offset=offset, scale=scale
        )
    assert table_counts(engine) == counts


def test_the_command_refuses_a_nan_offset_without_a_traceback(settings):
    args = [str(model_path("Net3")), "--network", "nan", "--crs", str(UTM_32N)]
    result = CliRunner().invoke(import_epanet_command, [*args, "--offset", "nan,1"], obj=settings)
    assert result.exit_code == 2
    assert "'nan,1' is not two finite numbers X,Y" in result.output
    assert "Traceback" not in result.output


def test_a_replace_that_removes_most_of_a_network_needs_force(engine, tmp_path):
    load(engine, "Net3", "shrink")
    counts = table_counts(engine)
    model = wntr.network.WaterNetworkModel()
    model.add_reservoir("R1", base_head=100, coordinates=(533483, 5217359))
    model.add_junction("J1", elevation=10, coordinates=(533583, 5217359))
    model.add_pipe("P1", "R1", "J1", length=100, diameter=0.3, roughness=100)
    tiny = tmp_path / "tiny.inp"
    wntr.network.write_inpfile(model, str(tiny))
    with pytest.raises(EpanetImportError, match="replacing network 'shrink': .*pipes 119 -> 1"):
        import_epanet(engine, tiny, network="shrink", crs=UTM_32N, replace=True)
    assert table_counts(engine) == counts
    done = import_epanet(engine, tiny, network="shrink", crs=UTM_32N, replace=True, force=True)
    assert done.replaced and done.pipes == 1
    (pipes,) = rows(engine, "SELECT count(*) FROM pipeline.pipes WHERE network = 'shrink'")
    assert pipes == (1,)


def test_the_command_imports_and_prints_a_summary(settings, engine):
    (x, y), scale = placement("Net3")
    args = [str(model_path("Net3")), "--network", "cli-net3", "--crs", str(UTM_32N)]
    args += ["--offset", f"{x},{y}", "--scale", str(scale), "--valves", "strategic:2"]
    result = CliRunner().invoke(import_epanet_command, [*args, "--utility", "JS"], obj=settings)
    assert result.exit_code == 0, result.output
    assert "isolation valves" in result.output
    assert "imported cli-net3 from Net3.inp" in result.output
    (utility,) = rows(engine, "SELECT utility FROM pipeline.networks WHERE code = 'cli-net3'")
    assert utility == ("JS",)

    again = CliRunner().invoke(import_epanet_command, args, obj=settings)
    assert again.exit_code == 1
    assert "network 'cli-net3' exists" in again.output
    assert "nothing was changed" in again.output


def test_the_command_reads_the_database_from_the_environment(settings, engine):
    args = [str(model_path("Net3")), "--network", "env-net3", "--crs", str(UTM_32N)]
    args += ["--utility", "gas"]
    result = CliRunner().invoke(
        import_epanet_command, args, env={"DATABASE_URL": settings.database_url}
    )
    assert result.exit_code == 0, result.output
    (utility,) = rows(engine, "SELECT utility FROM pipeline.networks WHERE code = 'env-net3'")
    assert utility == ("RQ",)
