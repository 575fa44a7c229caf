"""Bad input to /search and /reverse: 400 with a message that says what is wrong."""

from __future__ import annotations

import pytest

LONG = "x" * 101


@pytest.mark.parametrize(
    ("path", "description"),
    [
        ("/search", "q is required: the name or address to search for"),
        ("/search?limit=5", "q is required: the name or address to search for"),
        ("/search?q=", "q is empty: give a name or address to search for"),
        ("/search?q=%20%20%09", "q is empty: give a name or address to search for"),
        (f"/search?q={LONG}", "q is longer than 100 characters"),
        ("/search?q=Vaduz&q=Schaan", "q is given 2 times; give it once"),
        ("/search?q=Vaduz&limit=0", "limit must be an integer from 1 to 50, got '0'"),
        ("/search?q=Vaduz&limit=51", "limit must be an integer from 1 to 50, got '51'"),
        ("/search?q=Vaduz&limit=ten", "limit must be an integer from 1 to 50, got 'ten'"),
        ("/search?q=Vaduz&limit=2.5", "limit must be an integer from 1 to 50, got '2.5'"),
        ("/search?q=Vaduz&near=9.52", "near must be lon,lat in degrees (CRS84), got '9.52'"),
        (
            "/search?q=Vaduz&near=9.52,north",
            "near must be lon,lat in degrees (CRS84), got '9.52,north'",
        ),
        ("/search?q=Vaduz&near=nan,47", "near must be lon,lat in degrees (CRS84), got 'nan,47'"),
        ("/search?q=Vaduz&near=200,47", "near: longitude 200 is outside -180..180"),
        ("/search?q=Vaduz&near=9.52,-91", "near: latitude -91 is outside -90..90"),
        (
            "/search?q=Vaduz&bbox=9.5,47.1,9.6",
            "bbox must be west,south,east,north in degrees (CRS84), got '9.5,47.1,9.6'",
        ),
        (
            "/search?q=Vaduz&bbox=9.5,47.1,9.6,inf",
            "bbox must be west,south,east,north in degrees (CRS84), got '9.5,47.1,9.6,inf'",
        ),
        ("/search?q=Vaduz&bbox=-181,47.1,9.6,47.2", "bbox: longitude -181 is outside -180..180"),
        ("/search?q=Vaduz&bbox=9.5,47.1,9.6,95", "bbox: latitude 95 is outside -90..90"),
        ("/search?q=Vaduz&bbox=9.6,47.1,9.5,47.2", "bbox: west 9.6 is greater than east 9.5"),
        ("/search?q=Vaduz&bbox=9.5,47.2,9.6,47.1", "bbox: south 47.2 is greater than north 47.1"),
        ("/search?q=Vaduz&lng=9.5", "unknown parameter 'lng'; expected q, limit, bbox, near"),
        ("/reverse?lat=47.14", "lon is required: the point's longitude (CRS84) in degrees"),
        ("/reverse?lon=9.52", "lat is required: the point's latitude (CRS84) in degrees"),
        ("/reverse?lon=east&lat=47.14", "lon must be a number, got 'east'"),
        ("/reverse?lon=9.52&lat=", "lat must be a number, got ''"),
        ("/reverse?lon=181&lat=47.14", "lon must be between -180 and 180, got '181'"),
        ("/reverse?lon=9.52&lat=-90.5", "lat must be between -90 and 90, got '-90.5'"),
        ("/reverse?lon=inf&lat=47.14", "lon must be between -180 and 180, got 'inf'"),
        ("/reverse?lon=9.52&lat=nan", "lat must be between -90 and 90, got 'nan'"),
        ("/reverse?lon=9.52&lon=9.53&lat=47.14", "lon is given 2 times; give it once"),
        ("/reverse?lon=9.52&lat=47.14&zoom=18", "unknown parameter 'zoom'; expected lon, lat"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, path, description):
    response = client.get(path)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json == {"code": "InvalidParameterValue", "description": description}


@pytest.mark.parametrize("path", ["/search?q=Vaduz%00", "/reverse?lon=9.52%00&lat=47.14"])
def test_a_nul_character_is_refused_before_any_statement(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json["description"]


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=Vaduz&limit=50",
        "/search?q=%25_%5C",  # LIKE's wildcards and escape, taken as text
        "/search?q=!!!",  # nothing left once punctuation is folded away
        "/search?q=Vaduz&near=-180,-90",
        "/search?q=Vaduz&near=180,90&bbox=-180,-90,180,90",
        "/reverse?lon=-180&lat=90",
        "/reverse?lon=180&lat=-90",
    ],
)
def test_input_at_the_edges_is_answered(client, path):
    assert client.get(path).status_code == 200
