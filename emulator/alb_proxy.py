"""The local ALB's HTTP side: one request handler per listener connection, forwarding to a
target's keep-alive connection (TargetPool) with the X-Forwarded-* headers, streaming both
ways, and the ALB's own 502/503/504 answers; the routing is alb_rules.py's."""
import collections
import http.client
import random
import select
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

from emulator.alb_rules import Request, redirect_location, rule_actions, terminal_action
from emulator.alb_upstream import BadResponse, Upstream


CONNECT_TIMEOUT = 10.0  # the ALB's connection timeout to a target
CHUNK = 65536
IDLE_CONNECTIONS_PER_TARGET = 32
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "proxy-authenticate", "proxy-authorization", "expect",
})
FORWARDED = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port"})
ERROR_TITLES = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
                504: "504 Gateway Time-out"}


# -- connections to targets -----------------------------------------------------------------

class TargetPool:
    """Idle keep-alive connections per target port."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle = collections.defaultdict(collections.deque)

    def get(self, port):
        """(connection, reused)."""
        while True:
            with self._lock:  # only the pop: the check below is a system call
                idle = self._idle.get(port)
                connection = idle.pop() if idle else None
            if connection is None:
                return Upstream(port, CONNECT_TIMEOUT), False
            if self._usable(connection):
                return connection, True
            connection.close()

    @staticmethod
    def _usable(connection):
        """Idle and still open: readable while idle means closed by the target (or garbage)."""
        sock = connection.sock
        if sock is None:
            return False
        try:
            return not select.select([sock], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    def put(self, port, connection):
        with self._lock:
            idle = self._idle[port]
            if len(idle) < IDLE_CONNECTIONS_PER_TARGET:
                idle.append(connection)
                return
        connection.close()

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, collections.defaultdict(collections.deque)
        for connections in idle.values():
            for connection in connections:
                connection.close()


class _Failed(Exception):
    """The ALB answers `status` itself."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


class _RetryFresh(Exception):
    pass


# -- the HTTP side ------------------------------------------------------------------------

class ListenerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "awselb/2.0"
    sys_version = ""

    def setup(self):
        self.timeout = self.server.site.idle_timeout()
        super().setup()
        self.server.site.track(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.site.untrack(self.connection)

    def log_message(self, format, *args):  # noqa: A002 - quiet, like the rest of the layer
        pass

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.serve()
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a bad request or a bug: this connection ends
            self.close_connection = True
            print(f"alb front: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    # -- answers of the ALB itself --

    def answer(self, status, body=b"", content_type=None, extra=()):
        reason = http.client.responses.get(status, "")
        head = [f"HTTP/1.1 {status} {reason}", "Server: awselb/2.0",
                f"Date: {self.date_time_string()}", f"Content-Length: {len(body)}"]
        if content_type:
            head.append(f"Content-Type: {content_type}")
        head.extend(f"{k}: {v}" for k, v in extra)
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data if self.command == "HEAD" else data + body)

    def error(self, status):
        title = ERROR_TITLES.get(status, str(status))
        body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
                f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode()
        self.answer(status, body, "text/html")

    # -- one request --

    def serve(self):
        site = self.server.site
        listener = site.listener
        request = Request(self.command, self.path, self.headers, self.client_address[0])
        action = terminal_action(rule_actions(listener, request))
        if action is None:
            self.drain_request_body()
            return self.error(503)
        if action.type == "fixed-response":
            self.drain_request_body()
            config = action.data.get("FixedResponseConfig") or {}
            body = str(config.get("MessageBody") or "").encode("utf-8")
            return self.answer(int(config.get("StatusCode") or 200), body,
                               config.get("ContentType") or ("text/plain" if body else None))
        if action.type == "redirect":
            self.drain_request_body()
            config = action.data.get("RedirectConfig") or {}
            location = redirect_location(config, request, listener.protocol or "HTTP",
                                         listener.port)
            status = 301 if str(config.get("StatusCode", "HTTP_301")).endswith("301") else 302
            return self.answer(status, extra=[("Location", location)])
        target = site.front.pick_target(action)
        if target is None:
            self.drain_request_body()
            return self.error(503)
        self.forward(target, listener, site.idle_timeout())

    def drain_request_body(self):
        """Read (and drop) the request's body, so the connection can serve the next one."""
        for _ in self.request_body():
            pass

    def request_body(self):
        """The request's body in pieces (de-chunked); [] when there is none."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunks()
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return []
        if length <= CHUNK:
            return [self.rfile.read(length)]
        return self._sized(length)

    def _sized(self, length):
        while length > 0:
            data = self.rfile.read(min(CHUNK, length))
            if not data:
                raise ConnectionResetError("the client closed its request body")
            length -= len(data)
            yield data

    def _chunks(self):
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped
                return
            while size > 0:
                data = self.rfile.read(min(CHUNK, size))
                if not data:
                    raise ConnectionResetError("the client closed its request body")
                size -= len(data)
                yield data
            self.rfile.readline(3)

    def forwarded_headers(self, listener):
        connection_tokens = {t.strip().lower() for t in
                             (self.headers.get("Connection") or "").split(",")}
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in FORWARDED
                   and k.lower() not in connection_tokens and k.lower() != "content-length"]
        earlier = ", ".join(self.headers.get_all("X-Forwarded-For") or [])
        client = self.client_address[0]
        headers.append(("X-Forwarded-For", f"{earlier}, {client}" if earlier else client))
        headers.append(("X-Forwarded-Proto",
                        "https" if (listener.protocol or "").upper() == "HTTPS" else "http"))
        headers.append(("X-Forwarded-Port", str(listener.port)))
        if "X-Amzn-Trace-Id" not in self.headers:
            # An id, not a secret: no system call for its random part.
            headers.append(("X-Amzn-Trace-Id",
                            f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x}"))
        return headers

    def forward(self, target, listener, idle_timeout):
        site = self.server.site
        pool = site.front.pool
        head = self.request_head(listener)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        body = self.request_body()
        small = isinstance(body, list)  # read already: can be sent again on a fresh connection
        payload = b"".join(body) if small else None
        response = connection = None
        for attempt in (1, 2):
            connection, reused = pool.get(target.local_port)
            site.upstream_started(connection)
            try:
                response = self._exchange(connection, head, chunked, payload, body, idle_timeout)
                break
            except _RetryFresh:
                site.upstream_ended(connection)
                connection.close()
                if reused and small and attempt == 1:
                    continue
                return self.error(502)
            except _Failed as failed:
                site.upstream_ended(connection)
                connection.close()
                return self.error(failed.status)
        try:
            self._relay(connection, response)
        finally:
            site.upstream_ended(connection)
            if response.complete and not response.will_close and connection.sock is not None:
                pool.put(target.local_port, connection)
            else:
                connection.close()

    def request_head(self, listener):
        """The request line and headers sent to the target (bytes)."""
        lines = [f"{self.command} {self.path} HTTP/1.1"]
        lines += [f"{key}: {value}" for key, value in self.forwarded_headers(listener)]
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            lines.append("Transfer-Encoding: chunked")
        elif int(self.headers.get("Content-Length") or 0):
            lines.append(f"Content-Length: {int(self.headers['Content-Length'])}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _exchange(self, connection, head, chunked, payload, body, idle_timeout):
        """Sends the request, returns the target's response head (alb_upstream.Response)."""
        try:
            if connection.sock is None:
                connection.connect(min(CONNECT_TIMEOUT, idle_timeout))
            if connection.sock.gettimeout() != idle_timeout:
                connection.sock.settimeout(idle_timeout)
            if payload is not None:
                if chunked:
                    payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload) if payload else b"0\r\n\r\n"
                connection.send(head + payload)
            else:
                connection.send(head)
                for piece in body:
                    connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                if chunked:
                    connection.send(b"0\r\n\r\n")
            return connection.read_head()
        except TimeoutError:
            raise _Failed(504) from None
        except ConnectionRefusedError:
            raise _Failed(502) from None
        except (ConnectionError, BadResponse, OSError, ValueError):
            raise _RetryFresh() from None

    def _relay(self, connection, response):
        """Streams the target's response to the client."""
        headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
        has_body = response.has_body(self.command)
        to_client_chunked = False
        if has_body and response.length is None:
            if self.request_version == "HTTP/1.1":
                to_client_chunked = True
                headers.append(("Transfer-Encoding", "chunked"))
            else:
                self.close_connection = True
        if self.close_connection:
            headers.append(("Connection", "close"))
        head = (f"HTTP/1.1 {response.status} {response.reason}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")
        if not has_body:
            response.complete = True
            self.wfile.write(head)
            return
        sent_head = False
        try:
            if response.length is not None and response.length <= CHUNK:
                self.wfile.write(head + b"".join(connection.body(response, CHUNK)))  # one write
                return
            self.wfile.write(head)
            sent_head = True
            for data in connection.body(response, CHUNK):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if to_client_chunked else data)
            if to_client_chunked:
                self.wfile.write(b"0\r\n\r\n")
        except TimeoutError:
            if sent_head:
                self.close_connection = True
                raise
            self.error(504)
        except (BadResponse, ConnectionError) as exc:
            if sent_head or isinstance(exc, BrokenPipeError):
                self.close_connection = True
                raise ConnectionResetError(str(exc)) from None
            self.error(502)
