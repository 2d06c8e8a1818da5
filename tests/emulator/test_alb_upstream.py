"""alb_upstream.py: the ALB front's connection to a target reads HTTP/1.x responses as they
come on the wire: sized, chunked, to the close, HTTP/1.0; anything else is refused."""
import socket
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # `emulator` is a top-level package of the repository

from emulator.alb_upstream import BadResponse, Upstream  # noqa: E402


@pytest.fixture
def target():
    """A target on 127.0.0.1 that answers each connection's request with the given bytes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    answers, received = [], []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                received.append(connection.recv(65536))
                connection.sendall(answers.pop(0))
    threading.Thread(target=serve, daemon=True).start()

    def connect(answer):
        answers.append(answer)
        upstream = Upstream(server.getsockname()[1], connect_timeout=5)
        upstream.connect(5)
        upstream.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        return upstream, received
    yield connect
    server.close()


def read(upstream):
    response = upstream.read_head()
    return response, b"".join(upstream.body(response, 4))  # small pieces: framing across reads


def test_a_sized_response_and_its_headers_as_they_came(target):
    upstream, received = target(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Case: Kept\r\n\r\nhello")
    response, body = read(upstream)
    assert (response.status, response.reason, body) == (200, "OK", b"hello")
    assert response.headers == [("Content-Length", "5"), ("X-Case", "Kept")]
    assert response.complete and not response.will_close
    assert received == [b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"]


def test_a_chunked_response_is_de_chunked(target):
    upstream, _ = target(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3;ext=1\r\nabc\r\n6\r\ndefghi\r\n0\r\nTrailer: x\r\n\r\n")
    response, body = read(upstream)
    assert body == b"abcdefghi" and response.chunked and response.length is None and response.complete


def test_without_a_length_the_body_ends_with_the_connection(target):
    upstream, _ = target(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
    response, body = read(upstream)
    assert body == b"until the end" and response.will_close


def test_http_1_0_keep_alive_and_connection_close(target):
    upstream, _ = target(b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n")
    assert not upstream.read_head().will_close
    upstream, _ = target(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert upstream.read_head().will_close


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_what_is_not_http_is_refused(target, answer):
    upstream, _ = target(answer)
    with pytest.raises(BadResponse):
        read(upstream)


def test_a_body_cut_short_is_a_reset(target):
    upstream, _ = target(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ConnectionResetError):
        read(upstream)
