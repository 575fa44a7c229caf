"""One body limit for every endpoint, refused with 413 before the body is read."""

from __future__ import annotations

import io
import json
import select
import socket

import pytest

from tests.served import serve

LIMIT = 1024 * 1024  # the default of GEOPLATFORM_MAX_BODY_BYTES
PREVIEW = "/maps/preview/style.json"


def preview_body(title_length: int) -> bytes:
    spec = {
        "layers": [{"layer": "base.roads", "color": "#336699"}],
        "view": {"center": [9.52, 47.14], "zoom": 12},
    }
    return json.dumps({"title": "x" * title_length, "spec": spec}).encode()


def test_a_declared_body_over_the_limit_is_refused_anonymously(client):
    body = preview_body(2 * LIMIT)
    response = client.post(PREVIEW, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json == {
        "code": "PayloadTooLarge",
        "description": f"request body of {len(body)} bytes is over the limit of {LIMIT} bytes",
    }


def test_a_chunked_body_over_the_limit_is_refused(client):
    response = client.post(
        PREVIEW,
        input_stream=io.BytesIO(preview_body(2 * LIMIT)),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.json["description"] == f"request body is over the limit of {LIMIT} bytes"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_under_the_limit_reaches_the_endpoint(client, chunked):
    body = preview_body(300)
    headers = {"Content-Type": "application/json"}
    extra = {}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        extra = {"environ_overrides": {"wsgi.input_terminated": True}}
    response = client.post(PREVIEW, input_stream=io.BytesIO(body), headers=headers, **extra)
    # The endpoint itself read and judged the whole document.
    assert response.status_code == 400
    assert response.json["description"] == "title: String should have at most 200 characters"


def post_huge(port: int, path: str, size: int) -> tuple[bytes, int]:
    """Declare ``size`` bytes of body and send them as fast as the server takes them, until it
    answers; returns the status line and the bytes that had been sent by then."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        block, sent = b"\0" * (1 << 20), 0
        while sent < size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sent += sock.send(block)
            except (BrokenPipeError, ConnectionResetError):
                break
        return sock.recv(65536).split(b"\r\n", 1)[0], sent


def test_400_mb_over_http_is_refused_without_growing_the_workers(demo_settings, demo_load):
    with serve({"DATABASE_URL": demo_settings.database_url}) as server:
        before = server.worker_rss()
        size = 400 * 1024 * 1024
        status, sent = post_huge(server.port, PREVIEW, size)
        after = server.worker_rss()
        assert server.get("/healthz").status_code == 200
    assert status == b"HTTP/1.1 413 Payload Too Large"
    assert sent < size / 4
    growth = max(a - b for a, b in zip(after, before, strict=True))
    assert growth < 50 * 1024 * 1024, (before, after)
