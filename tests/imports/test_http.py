"""``POST /collections/{id}/imports`` as a department's client sends it: multipart/form-data with
the file, answered 201 with the counts, 422 with the refused rows, 400 for a file that is not one,
and the gate's 404 and 403 exactly as the rest of the API has them; every refusal leaves the
layer as it was."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.imports import files
from tests.imports.conftest import IMPORT_MAX_BYTES, snapshot

HYDRANTS = "editable.hydrants"
IMPORTS = f"/collections/{HYDRANTS}/imports"
WATER_EDITOR = "water_utility:editor:11"
WATER_VIEWER = "water_utility:viewer:12"
EMERGENCY_EDITOR = "emergency_management:editor:21"


def post_file(client, path: Path, who: str | None = WATER_EDITOR, url=IMPORTS, **fields):
    upload = FileStorage(io.BytesIO(path.read_bytes()), filename=path.name)
    # Encoded here, in memory: the test client spools a large body to a file it never closes.
    boundary, body = encode_multipart({"file": upload, **fields})
    headers = {"X-Test-Principal": who} if who else {}
    content_type = f"multipart/form-data; boundary={boundary}"
    return client.post(url, data=body, content_type=content_type, headers=headers)


def refused(client, engine, path: Path, status: int, **kwargs):
    before = snapshot(engine, HYDRANTS)
    response = post_file(client, path, **kwargs)
    assert response.status_code == status, response.json
    assert snapshot(engine, HYDRANTS) == before
    return response.json


@pytest.fixture
def gpkg(tmp_path) -> Path:
    return files.write(files.hydrants(6), tmp_path / "survey.gpkg")


@pytest.mark.parametrize("name", ["survey.gpkg", "survey.zip"])
def test_an_editor_imports_and_the_features_are_served(
    client, engine, empty_layers, tmp_path, name
):
    path = files.write(files.hydrants(6), tmp_path / name)

    response = post_file(client, path)

    assert response.status_code == 201, response.json
    body = response.json
    assert (body["read"], body["written"], body["refused"]) == (6, 6, 0)
    assert (body["before"], body["after"], body["file"]) == (0, 6, name)
    assert body["version"] == snapshot(engine, HYDRANTS).version
    items = client.get(
        f"/collections/{HYDRANTS}/items", headers={"X-Test-Principal": WATER_VIEWER}
    ).json
    names = sorted(feature["properties"]["name"] for feature in items["features"])
    assert names == [f"H-{i}" for i in range(6)]
    lon, lat = items["features"][0]["geometry"]["coordinates"]
    assert (round(lon, 2), round(lat, 2)) == (120.62, 31.3)


def test_the_audit_row_names_the_importing_key(client, engine, empty_layers, gpkg):
    post_file(client, gpkg, mode="replace")

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT department, role, key_id, action, after FROM platform.audit_log "
                "WHERE layer_id = :layer ORDER BY id DESC LIMIT 1"
            ),
            {"layer": HYDRANTS},
        ).one()
    assert (row.department, row.role, row.key_id, row.action) == (
        "water_utility",
        "editor",
        11,
        "replace",
    )
    assert row.after["import"]["written"] == 6


def test_an_anonymous_caller_gets_the_404_of_an_unknown_collection(client, engine, gpkg):
    unknown = client.get(f"/collections/{HYDRANTS}")
    assert unknown.status_code == 404

    body = refused(client, engine, gpkg, 404, who=None)

    assert body == unknown.json


def test_an_unknown_collection_is_404(client, gpkg):
    response = post_file(client, gpkg, url="/collections/editable.nothing/imports")

    assert response.status_code == 404
    assert response.json == {"code": "NotFound", "description": "no collection 'editable.nothing'"}


@pytest.mark.parametrize("who", [WATER_VIEWER, EMERGENCY_EDITOR])
def test_a_reader_who_may_not_edit_gets_403(client, engine, gpkg, who):
    body = refused(client, engine, gpkg, 403, who=who)

    assert body["code"] == "Forbidden"
    assert "may not import into editable.hydrants" in body["description"]
    assert "water_utility" in body["description"]


def test_refused_rows_come_back_as_422_with_the_report(client, engine, tmp_path):
    path = tmp_path / "hydrants.csv"
    path.write_text(
        "name,outlets,lon,lat\nH-1,2,120.61,31.31\nH-2,many,120.62,31.32\n,3,120.63,31.33\n"
    )

    body = refused(client, engine, path, 422, crs="EPSG:4490")

    assert body["code"] == "ImportRefused"
    assert (body["read"], body["refused"], body["written"]) == (3, 2, 0)
    assert body["refusedRows"] == [
        {"row": 2, "column": "outlets", "reason": "expected an integer, got 'many'"},
        {"row": 3, "column": "name", "reason": "empty, but name is required"},
    ]


def test_a_file_without_crs_is_422_naming_the_problem(client, engine, tmp_path):
    path = files.write_csv(files.hydrants(2), tmp_path / "hydrants.csv")

    body = refused(client, engine, path, 422)

    assert body["problems"] == [
        "the file declares no CRS; name the CRS of its coordinates with --crs (the field crs "
        "over HTTP), EPSG:4490 or EPSG:4326 for longitude and latitude, say"
    ]


def test_a_replace_removing_most_of_the_layer_needs_force(client, engine, empty_layers, tmp_path):
    assert post_file(client, files.write(files.hydrants(10), tmp_path / "ten.gpkg")).status_code
    two = files.write(files.hydrants(2), tmp_path / "two.gpkg")

    body = refused(client, engine, two, 422, mode="replace")
    assert body["code"] == "ReplacementRefused"
    assert body["changes"] == [{"layer": HYDRANTS, "before": 10, "after": 2}]

    forced = post_file(client, two, mode="replace", force="true")
    assert forced.status_code == 201, forced.json
    assert (forced.json["before"], forced.json["after"]) == (10, 2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_file_that_is_not_one_is_400(client, engine, tmp_path):
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    notes = tmp_path / "notes.txt"
    notes.write_text("three hydrants by the station\n")

    assert "cannot be read as GPKG" in refused(client, engine, broken, 400)["description"]
    assert "not a supported format" in refused(client, engine, notes, 400)["description"]


def test_a_form_without_the_file_or_with_a_bad_mode_is_400(client, engine, gpkg):
    headers = {"X-Test-Principal": WATER_EDITOR}
    no_file = client.post(
        IMPORTS, data={"mode": "append"}, content_type="multipart/form-data", headers=headers
    )
    assert no_file.status_code == 400
    assert "field 'file'" in no_file.json["description"]

    body = refused(client, engine, gpkg, 400, mode="merge")
    assert body["description"] == "mode: expected append or replace, got 'merge'"


def test_a_body_that_is_not_multipart_is_415(client):
    response = client.post(
        IMPORTS,
        data=b"{}",
        content_type="application/json",
        headers={"X-Test-Principal": WATER_EDITOR},
    )

    assert response.status_code == 415


def test_imports_take_more_than_the_global_body_limit_up_to_their_own(
    client, engine, empty_layers, tmp_path
):
    source = files.hydrants(1500)
    source["remarks"] = "x" * 1000  # ignored: not a property of the layer
    path = files.write(source, tmp_path / "big.geojson")
    assert 1024 * 1024 < path.stat().st_size < IMPORT_MAX_BYTES

    response = post_file(client, path)

    assert response.status_code == 201, response.json
    assert response.json["written"] == 1500
    assert response.json["ignoredColumns"] == ["remarks"]


def test_a_file_over_the_import_limit_is_413(client, engine):
    before = snapshot(engine, HYDRANTS)
    # Sent as bytes: refused on its Content-Length, the body is never parsed.
    response = client.post(
        IMPORTS,
        data=b" " * (IMPORT_MAX_BYTES + 1),
        content_type="multipart/form-data; boundary=b",
        headers={"X-Test-Principal": WATER_EDITOR},
    )

    assert response.status_code == 413
    assert response.json["code"] == "PayloadTooLarge"
    assert snapshot(engine, HYDRANTS) == before


def test_the_api_document_describes_the_upload(client):
    document = client.get("/api").get_json(force=True)

    operation = document["paths"]["/collections/{layer_id}/imports"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["mode"]["enum"] == ["append", "replace"]
    assert {"201", "400", "403", "404", "413", "422"} <= set(operation["responses"])
