"""The local ALB data plane: each listener of an application load balancer in moto's state
answers HTTP on 127.0.0.1, routing every request by the listener's real rules, as the ALB
does, to the healthy targets of emulator.targets.TABLE.

Ports. Each listener gets the first free port of 127.0.0.1 from a base (environment
variable FARGATE_PLATFORM_ALB_PORT_BASE, default 4780) upwards, skipping ports already
taken (by this front or anything else), in listener-creation order; the port stays the
listener's while it exists, and is free again once the listener (or its load balancer) is
deleted. New listeners are picked up within SCAN_INTERVAL (0.25 s), deleted ones dropped.

    FRONT.ports()  -> {load balancer name: {listener port: local port}}
                      e.g. {"acme-dev-public": {443: 4780, 80: 4781}}

HTTPS listeners are served as plain HTTP locally (the local environment has no
certificate): X-Forwarded-Proto still says "https", as the ALB would tell the targets.

Routing, as the ALB: the listener's rules in priority order, then its default action.
Conditions: host-header (case-insensitive; `*`/`?` wildcards; the Host header without its
port), path-pattern (case-sensitive, `*`/`?`, the path without its query), http-header,
http-request-method, query-string and source-ip; several conditions AND, the values of one
OR; both HostHeaderConfig/PathPatternConfig.Values and the legacy Values. Actions
(authenticate-* are skipped: nothing to authenticate with locally): fixed-response,
redirect (`#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}`; the port is the
listener's, as the client sees it on AWS), forward (TargetGroupArn or ForwardConfig's
weighted target groups): round robin over the group's healthy targets; initial, unhealthy
and draining targets get no new request, except that a group whose registered targets are
all unhealthy uses all of them, as ELB fails open (TABLE.routable); requests in flight
finish.

The ALB's own answers: 503 no healthy target, 502 the target refused or reset the
connection or answered something that is not HTTP, 504 no answer within the load
balancer's idle timeout (attribute idle_timeout.timeout_seconds, default 60; also the
limit of an idle client connection). The targets get X-Forwarded-For (appended to),
X-Forwarded-Proto, X-Forwarded-Port (the listener's) and X-Amzn-Trace-Id. Bodies are
streamed both ways (chunked where the length is unknown). One pool of keep-alive
connections per target port. Not reproduced: WebSocket upgrades, HTTP/2, stickiness,
slow start.

    FRONT.start(emulator_context)   # the watcher thread (context may be None)
    FRONT.stop()                    # every listener socket closed, no thread left
"""
import collections
import os
import random
import socket
import socketserver
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from emulator import targets as target_table
from emulator.alb_proxy import ListenerHandler, TargetPool


PORT_BASE_VARIABLE = "FARGATE_PLATFORM_ALB_PORT_BASE"
DEFAULT_PORT_BASE = 4780
PORT_RANGE = 1000  # ports tried from the base
LISTEN_HOST = "127.0.0.1"
SCAN_INTERVAL = 0.25
DEFAULT_IDLE_TIMEOUT = 60.0


# -- moto's state -------------------------------------------------------------------------

def _load_balancers():
    """(backend, load balancer) of every account and region moto holds."""
    from moto.elbv2.models import elbv2_backends

    for _, regions in list(dict.items(elbv2_backends)):
        for _, backend in list(dict.items(regions)):
            for balancer in list(backend.load_balancers.values()):
                yield backend, balancer


def _idle_timeout(balancer):
    try:
        return float(balancer.attrs.get("idle_timeout.timeout_seconds") or DEFAULT_IDLE_TIMEOUT)
    except (TypeError, ValueError):
        return DEFAULT_IDLE_TIMEOUT


class ListenerServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the request threads
    request_queue_size = 128

    def __init__(self, port, site):
        self.site = site
        super().__init__((LISTEN_HOST, port), ListenerHandler)

    def server_bind(self):  # without HTTPServer's getfqdn(), which may ask a DNS server
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class ListenerSite:
    """One listener served on one local port."""

    def __init__(self, front, backend, balancer, listener, port):
        self.front = front
        self.backend = backend
        self.balancer = balancer
        self.listener = listener
        self.local_port = port
        self._lock = threading.Lock()
        self._clients = set()
        self._upstreams = set()
        self.server = ListenerServer(port, self)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"alb-front-{port}", daemon=True)
        self.thread.start()

    def idle_timeout(self):
        return _idle_timeout(self.balancer)

    def track(self, sock):
        with self._lock:
            self._clients.add(sock)

    def untrack(self, sock):
        with self._lock:
            self._clients.discard(sock)

    def upstream_started(self, connection):
        with self._lock:
            self._upstreams.add(connection)

    def upstream_ended(self, connection):
        with self._lock:
            self._upstreams.discard(connection)

    def close(self):
        """Stops accepting, ends every connection (client and target), joins the threads."""
        self.server.shutdown()
        self.thread.join(5)
        with self._lock:
            sockets = list(self._clients) + [c.sock for c in self._upstreams if c.sock is not None]
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server.server_close()


class AlbFront:
    def __init__(self, table=None, port_base=None, scan_interval=SCAN_INTERVAL):
        self.table = table if table is not None else target_table.TABLE
        self._port_base = port_base
        self.scan_interval = scan_interval
        self.pool = TargetPool()
        self.context = None
        self._lock = threading.Lock()
        self._sites = {}  # listener ARN -> ListenerSite
        self._round_robin = collections.defaultdict(int)
        self._stop = threading.Event()
        self._thread = None

    @property
    def port_base(self):
        if self._port_base is not None:
            return int(self._port_base)
        return int(os.environ.get(PORT_BASE_VARIABLE) or DEFAULT_PORT_BASE)

    def start(self, context=None):
        if self._thread is not None:
            return
        self.context = context
        self._stop.clear()
        self.sync()
        self._thread = threading.Thread(target=self._watch, name="alb-front-watcher", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            sites, self._sites = list(self._sites.values()), {}
        for site in sites:
            site.close()
        self.pool.close()

    def ports(self):
        """{load balancer name: {listener port: local port}}."""
        with self._lock:
            sites = list(self._sites.values())
        ports = {}
        for site in sites:
            ports.setdefault(site.balancer.name, {})[int(site.listener.port)] = site.local_port
        return ports

    def listeners(self):
        """[{"listener_arn", "load_balancer", "port", "local_port"}] of every listener served."""
        with self._lock:
            sites = list(self._sites.values())
        return sorted(({"listener_arn": site.listener.arn, "load_balancer": site.balancer.name,
                        "port": int(site.listener.port), "local_port": site.local_port} for site in sites),
                      key=lambda listener: listener["local_port"])

    def _watch(self):
        while not self._stop.wait(self.scan_interval):
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - moto's state changed under us: next scan
                print(f"alb front: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def sync(self):
        """Serves new listeners, drops deleted ones (one pass over moto's state)."""
        found = {}
        for attempt in range(3):
            try:
                found = {}
                for backend, balancer in _load_balancers():
                    if (balancer.type or "application") != "application":
                        continue
                    for arn, listener in list(balancer.listeners.items()):
                        found[arn] = (backend, balancer, listener)
                break
            except RuntimeError:  # a dict changed while read: read again
                time.sleep(0.01)
        with self._lock:
            gone = [(arn, site) for arn, site in self._sites.items() if arn not in found]
        for arn, site in gone:  # closed first: ports() lists only what still answers
            site.close()
            with self._lock:
                self._sites.pop(arn, None)
        for arn, (backend, balancer, listener) in found.items():
            if arn in self._sites or self._stop.is_set():
                continue
            site = self._serve(backend, balancer, listener)
            if site is not None:
                with self._lock:
                    self._sites[arn] = site

    def _serve(self, backend, balancer, listener):
        with self._lock:
            taken = {site.local_port for site in self._sites.values()}
        base = self.port_base
        for port in range(base, base + PORT_RANGE):
            if port in taken:
                continue
            try:
                return ListenerSite(self, backend, balancer, listener, port)
            except OSError:
                continue
        print(f"alb front: no free port in {base}-{base + PORT_RANGE - 1} for listener "
              f"{listener.arn}", file=sys.stderr, flush=True)
        return None

    # -- targets --

    def pick_target(self, action):
        """The next target of the forward action's (weighted) target group, or None."""
        config = action.data.get("ForwardConfig") or {}
        groups = [(g.get("TargetGroupArn"), int(g.get("Weight", 1) or 0))
                  for g in config.get("TargetGroups") or []]
        if not groups and action.data.get("TargetGroupArn"):
            groups = [(action.data["TargetGroupArn"], 1)]
        groups = [(arn, weight) for arn, weight in groups if arn and weight > 0]
        if not groups:
            return None
        if len(groups) == 1:
            arn = groups[0][0]
        else:
            arn = random.choices([a for a, _ in groups], weights=[w for _, w in groups])[0]
        routable = self.table.routable(arn)
        if not routable:
            return None
        with self._lock:
            index = self._round_robin[arn]
            self._round_robin[arn] = index + 1
        return routable[index % len(routable)]


FRONT = AlbFront()
