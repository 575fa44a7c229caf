"""The read pool behind tiles and feature reads, against a real PostgreSQL."""

from __future__ import annotations

from geoplatform.reads import LastInFirstOutPool, ReadPool, libpq_url

BACKEND = "SELECT pg_backend_pid()"


def test_pool_hands_out_the_connection_returned_last(demo_engine):
    pool = LastInFirstOutPool(libpq_url(demo_engine), min_size=3, max_size=3, open=True)
    try:
        pool.wait(10)
        held = [pool.getconn() for _ in range(3)]
        pids = [conn.execute(BACKEND).fetchone()[0] for conn in held]
        for conn in held:
            pool.putconn(conn)
        # Requests one after another stay on the backend used last; a first-in-first-out pool
        # (psycopg_pool's own) would go round all three, starting with the first returned.
        used = []
        for _ in range(5):
            with pool.connection() as conn:
                used.append(conn.execute(BACKEND).fetchone()[0])
        assert used == [pids[-1]] * 5
    finally:
        pool.close()


def test_read_pool_returns_bytea_in_binary_and_in_text(demo_engine):
    reads = ReadPool.for_engine(demo_engine)
    try:
        sql = "SELECT decode($1, 'hex')"
        assert reads.value(sql, ["00ff10"], binary=True) == b"\x00\xff\x10"
        assert reads.value(sql, ["00ff10"]) == b"\x00\xff\x10"
        assert reads.value("SELECT 1 WHERE false") is None
    finally:
        reads.close()
