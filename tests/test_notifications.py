"""One LISTEN connection per process: the layer versions and any other subscriber share it, each
gets the payloads of its own channel, and only what was committed."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from geoplatform.platform import create_platform
from tileserver.tiles import TileService


def listeners(engine, database: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = :db AND application_name = 'geoplatform-listen'"
            ),
            {"db": database},
        ).scalar_one()


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


def test_subscribers_share_one_connection_and_get_their_own_channels(make_database):
    # A database of its own: other apps of the session listen on the demo database too.
    platform = create_platform(make_database("notifications"))
    try:
        hub = platform.notifications
        service = TileService(platform.engine, None, platform.read_pool("tiles"), hub)
        assert service.versions.wait_live(10)
        heard: dict[str, list[str]] = {"cases": [], "vehicles": []}
        connected = {channel: threading.Event() for channel in heard}
        for channel, payloads in heard.items():
            hub.subscribe(
                channel, payloads.append, on_connected=lambda c, e=connected[channel]: e.set()
            )
        # Called once its channel is listened to on the shared connection.
        assert all(e.wait(5) for e in connected.values()), "a late subscriber never connected"
        with platform.engine.begin() as conn:
            conn.execute(text("SELECT pg_notify('cases', 'case 17 dispatched')"))
            conn.execute(text("SELECT pg_notify('vehicles', 'unit 3 at 9.52,47.14')"))
            conn.execute(text("SELECT pg_notify('nobody', 'ignored')"))
        wait_for(lambda: all(heard.values()))
        assert heard == {"cases": ["case 17 dispatched"], "vehicles": ["unit 3 at 9.52,47.14"]}
        assert listeners(platform.engine, platform.engine.url.database) == 1
    finally:
        platform.close()


def test_a_notification_of_a_rolled_back_transaction_never_arrives(make_database):
    platform = create_platform(make_database("notifications"))
    try:
        heard: list[str] = []
        hub = platform.notifications
        hub.subscribe("rolled_back", heard.append)
        assert hub.wait_live(5)
        with platform.engine.connect() as conn:
            conn.execute(text("SELECT pg_notify('rolled_back', 'never')"))
            conn.rollback()
            conn.execute(text("SELECT pg_notify('rolled_back', 'once')"))
            conn.commit()
        wait_for(lambda: heard)
        time.sleep(0.5)
        assert heard == ["once"]
    finally:
        platform.close()
