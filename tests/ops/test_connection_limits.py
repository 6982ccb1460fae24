"""Idle and slow clients cannot starve the scans: waitress's connection limits are settings with safe
defaults, measured against a real server process (`tests/ops/slow_clients.py`)."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from tests.ops.slow_clients import PROBE_TIMEOUT, Flood, probe, serve_with_code, sockets_held, summary

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path):
    """`served(**settings)`: a server with one code, stopped at the end; returns (server, slug)."""
    servers = []

    def start(**settings):
        server, slug = serve_with_code(tmp_path, **settings)
        servers.append(server)
        return server, slug

    yield start
    for server in servers:
        server.stop()


def test_300_idle_and_300_trickling_clients_leave_redirects_answering_within_2_s(served):
    server, slug = served()  # the defaults
    with Flood(server.port, idle=300, trickling=300) as flood:
        time.sleep(1.5)  # every trickling client has sent a header line since it connected
        held = sockets_held(server.process.pid)
        timings = probe(server.port, slug, 15)
        assert flood.cut == 0  # they were all still there: nothing had given up on them
    print(f"600 slow clients held by the server ({held} sockets): {summary(timings)}")
    assert held >= 600  # accepted by waitress, not waiting in the listen queue
    assert None not in timings and max(timings) < PROBE_TIMEOUT


def test_the_connection_limit_is_the_setting(served):
    """Beyond OPENQR_CONNECTION_LIMIT a new connection waits for a free one: the reason for the
    generous default, and for a proxy in front (README, "Running in production")."""
    server, slug = served(OPENQR_CONNECTION_LIMIT="20")
    with Flood(server.port, idle=25, trickling=0):
        time.sleep(0.5)
        assert probe(server.port, slug, 1) == [None]
        assert sockets_held(server.process.pid) < 25
    assert probe(server.port, slug, 1)[0] is not None  # answered once the idle clients are gone


def test_silent_connections_are_closed_after_the_channel_timeout(served):
    server, _slug = served(OPENQR_CHANNEL_TIMEOUT="2")
    with Flood(server.port, idle=20, trickling=0) as flood:
        opened = time.monotonic()
        closed_after = []
        for sock in flood.idle:
            sock.settimeout(max(0.1, opened + 6 - time.monotonic()))
            try:
                assert sock.recv(1) == b""  # the server closed it
                closed_after.append(time.monotonic() - opened)
            except TimeoutError:
                pass
    assert len(closed_after) == 20, f"{len(closed_after)} of 20 closed within 6 s"
    assert 1.5 <= min(closed_after) and max(closed_after) <= 4.5  # timeout 2 s, a look each second


def test_start_up_raises_the_open_files_limit_to_fit_the_connections(served):
    """A server started under a soft limit of 512 (systemd's and most shells' is 1024) raises it to
    fit OPENQR_CONNECTION_LIMIT's 1000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2256:
        pytest.skip(f"the hard limit here ({hard}) is below what the test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))  # the server process inherits it
    try:
        server, _slug = served()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()
    (line,) = [line for line in limits if line.startswith("Max open files")]
    assert int(line.split()[3]) >= 2256, line
