"""The local ALB's side towards a target: one keep-alive HTTP/1.1 connection to a task's
local port, the request written as bytes, the response head read line by line.

http.client would do the same, but its header parsing (the email package's) cost more than
everything else the front does for a request; what a proxy needs is small: the status, the
headers as they came, and the body's framing (Content-Length, chunked, or to the close).
"""
import re
import socket

LISTEN_HOST = "127.0.0.1"
MAX_LINE = 65536
MAX_HEADERS = 200
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) (\d{3})(?: ([^\r\n]*))?\r?\n")


class BadResponse(ValueError):
    """The target answered something that is not HTTP/1.x."""


class Response:
    """A target's response head and its body's framing."""

    def __init__(self, version, status, reason, headers):
        self.status, self.reason, self.headers = status, reason, headers
        fields = {}
        for key, value in headers:
            fields.setdefault(key.lower(), value)
        tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
        self.chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        length = fields.get("content-length")
        self.length = int(length) if length is not None and not self.chunked else None
        if self.length is not None and self.length < 0:
            raise BadResponse(f"Content-Length {length}")
        self.will_close = "close" in tokens or (version == "0" and "keep-alive" not in tokens)
        self.complete = False  # the body was read to its end: the connection can serve again

    def has_body(self, method):
        return not (method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200)


class Upstream:
    """One connection to a target's local port (kept in alb_proxy.TargetPool between requests)."""

    def __init__(self, port, connect_timeout):
        self.port = port
        self.connect_timeout = connect_timeout
        self.sock = None
        self._rfile = None

    def connect(self, timeout):
        self.sock = socket.create_connection((LISTEN_HOST, self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rfile = self.sock.makefile("rb")

    def close(self):
        for closable in (self._rfile, self.sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self.sock = self._rfile = None

    def send(self, data):
        self.sock.sendall(data)

    def read_head(self):
        line = self._rfile.readline(MAX_LINE + 1)
        if not line:
            raise ConnectionResetError("the target closed the connection")
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise BadResponse(f"not an HTTP status line: {line[:40]!r}")
        headers = []
        for _ in range(MAX_HEADERS):
            line = self._rfile.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ConnectionResetError("the target closed the connection in its response head")
            key, colon, value = line.decode("latin-1").partition(":")
            if not colon or not key.strip() or key != key.strip():
                raise BadResponse(f"a malformed header line: {line[:40]!r}")
            headers.append((key, value.strip()))
        else:
            raise BadResponse("too many header lines")
        return Response(match.group(1).decode(), int(match.group(2)),
                        (match.group(3) or b"").decode("latin-1"), headers)

    def body(self, response, size):
        """The body in pieces of at most `size` bytes (de-chunked), as the target sends it."""
        if response.chunked:
            yield from self._chunks(size)
        elif response.length is not None:
            left = response.length
            while left > 0:
                data = self._rfile.read1(min(size, left))
                if not data:
                    raise ConnectionResetError("the target closed the connection within its body")
                left -= len(data)
                yield data
        else:  # no length: the body ends when the target closes the connection
            response.will_close = True
            while data := self._rfile.read1(size):
                yield data
        response.complete = True

    def _chunks(self, size):
        while True:
            line = self._rfile.readline(MAX_LINE + 1)
            if not line:
                raise ConnectionResetError("the target closed the connection within its body")
            try:
                left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadResponse(f"a malformed chunk size: {line[:40]!r}") from None
            if left == 0:
                while self._rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped
                return
            while left > 0:
                data = self._rfile.read1(min(size, left))
                if not data:
                    raise ConnectionResetError("the target closed the connection within its body")
                left -= len(data)
                yield data
            self._rfile.readline(3)
