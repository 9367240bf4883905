"""bench.load against a real HTTP server on loopback (no lab): a refused node is skipped,
a request fails only when no node answers, the loop stops by itself."""

from __future__ import annotations

import http.server
import threading

import pytest

from bench.load import Load, check_targets, run


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"my-web v1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_a_refused_node_is_skipped_and_no_request_fails(server):
    # 127.0.0.2 is loopback too, but nothing listens there on this port
    r = run(["127.0.0.2", "127.0.0.1"], port=server, expect=b"my-web", count=20,
            duration=30, interval=0)
    assert (r.sent, r.ok, r.failed) == (20, 20, 0)
    assert r.errors["refused"] == 1  # once: the next requests start at the node that answered
    assert r.answered_by == {"127.0.0.1": 20}
    assert r.longest_gap < r.duration


def test_a_request_fails_when_no_node_answers(server):
    r = run(["127.0.0.2", "127.0.0.3"], port=server, count=3, duration=30, interval=0)
    assert (r.sent, r.ok, r.failed) == (3, 0, 3)
    assert r.attempts == 6 and r.longest_gap == pytest.approx(r.duration)


def test_a_wrong_page_counts_as_no_answer(server):
    r = run(["127.0.0.1"], port=server, expect=b"other", count=2, duration=30, interval=0)
    assert r.failed == 2 and r.errors["unexpected body"] == 2


def test_the_loop_stops_by_itself_and_when_stopped(server):
    with Load(["127.0.0.1"], port=server, count=1_000_000, duration=0.5, interval=0.01) as load:
        pass  # stopped at once by the context manager
    assert load.result.sent < 1_000_000
    r = run(["127.0.0.1"], port=server, count=1_000_000, duration=0.3, interval=0.01)
    assert 0 < r.sent < 1_000_000 and r.duration >= 0.3


def test_only_loopback_and_private_targets_are_accepted():
    assert check_targets(["127.0.0.1", "10.213.5.11"]) == ["127.0.0.1", "10.213.5.11"]
    with pytest.raises(ValueError, match="not a loopback or private address"):
        check_targets(["8.8.8.8"])
    with pytest.raises(ValueError):
        check_targets([])
