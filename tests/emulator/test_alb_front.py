"""The local ALB front (emulator/alb_front.py), in process: moto's state made with boto3
under mock_aws, targets put straight into a TargetTable, tiny HTTP servers as the tasks."""
import hashlib
import http.client
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator import alb_rules  # noqa: E402
from emulator.alb_front import AlbFront  # noqa: E402
from emulator.targets import TargetTable  # noqa: E402

REGION = "us-east-1"  # the mocked_aws fixture's region


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the tasks --------------------------------------------------------------------------

class Task:
    """A task's HTTP server on 127.0.0.1: echoes what it got, as JSON."""

    def __init__(self, name, delay=0.0):
        self.name = name
        self.delay = delay
        self.requests = []
        task = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.reply(b"")

            def do_POST(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if not size:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(body)

            def reply(self, body):
                task.requests.append(self.path)
                if self.path.startswith("/slow"):
                    time.sleep(float(self.path.split("/")[2]))
                elif task.delay:
                    time.sleep(task.delay)
                if self.path.startswith("/big"):
                    data = b"x" * 300_000
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if self.path.startswith("/stream"):  # no length: close-delimited (HTTP/1.0)
                    self.protocol_version = "HTTP/1.0"
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(3):
                        self.wfile.write(b"y" * 40_000)
                    self.close_connection = True
                    return
                data = json.dumps({
                    "task": task.name, "path": self.path, "headers": dict(self.headers.items()),
                    "body_sha256": hashlib.sha256(body).hexdigest(), "body_length": len(body),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class RawTask:
    """A 'task' that answers every connection badly: resets it, or sends garbage."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    if self.mode == "garbage":
                        conn.sendall(b"this is not HTTP\r\n\r\n")
                    else:  # RST on close
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


# -- moto's side ----------------------------------------------------------------------------

NOT_FOUND = {"Type": "fixed-response", "FixedResponseConfig": {
    "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no such service"}}


def fixed(text):
    return [{"Type": "fixed-response", "FixedResponseConfig": {
        "StatusCode": "200", "ContentType": "text/plain", "MessageBody": text}}]


class Alb:
    def __init__(self, name="front-test"):
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.elb = boto3.client("elbv2", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
        subnets = [self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.90.{i}.0/24",
                                          AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
                   for i, z in ((1, "a"), (2, "b"))]
        self.name = name
        self.arn = self.elb.create_load_balancer(Name=name, Subnets=subnets)[
            "LoadBalancers"][0]["LoadBalancerArn"]

    def listener(self, port=80, default=None, protocol="HTTP"):
        return self.elb.create_listener(LoadBalancerArn=self.arn, Protocol=protocol, Port=port,
                                        DefaultActions=[default or NOT_FOUND])["Listeners"][0]["ListenerArn"]

    def rule(self, listener, priority, conditions, actions):
        self.elb.create_rule(ListenerArn=listener, Priority=priority, Conditions=conditions,
                             Actions=actions)

    def group(self, name="front-tg"):
        return self.elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=self.vpc,
                                            TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]

    def idle_timeout(self, seconds):
        self.elb.modify_load_balancer_attributes(LoadBalancerArn=self.arn, Attributes=[
            {"Key": "idle_timeout.timeout_seconds", "Value": str(seconds)}])


def host(values):
    return {"Field": "host-header", "HostHeaderConfig": {"Values": values}}


def path(values):
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": values}}


# -- fixtures -----------------------------------------------------------------------------

@pytest.fixture
def table():
    return TargetTable()


@pytest.fixture
def front(mocked_aws, table):
    started = AlbFront(table=table, port_base=free_port(), scan_interval=0.05)
    started.start(None)
    yield started
    started.stop()
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("alb-front")]
    assert not leftover, leftover


@pytest.fixture
def tasks():
    made = []

    def make(name, **kwargs):
        task = Task(name, **kwargs)
        made.append(task)
        return task

    yield make
    for task in made:
        task.close()


def local_port(front, alb, listener_port, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = front.ports().get(alb.name, {}).get(listener_port)
        if port:
            return port
        time.sleep(0.02)
    raise AssertionError(f"listener {listener_port} not served: {front.ports()}")


def get(port, target="/", host_header="app.example.com", method="GET", body=None, headers=None,
        timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, target, body=body,
                           headers={"Host": host_header, **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def healthy(table, group, task, ip):
    table.register(group, ip, 8080, local_port=task.port, task_arn=f"task-{task.name}")
    table.set_health(group, ip, 8080, "healthy")


# -- routing ----------------------------------------------------------------------------------

def test_rules_in_priority_order_with_host_wildcards_paths_and_the_default(front):
    alb = Alb()
    listener = alb.listener(80)
    # created out of order: the priority decides, not the creation
    alb.rule(listener, 30, [host(["*.example.com"])], fixed("wildcard"))
    alb.rule(listener, 40, [{"Field": "path-pattern", "Values": ["/static/*"]}], fixed("static"))
    alb.rule(listener, 10, [host(["api.example.com"]), path(["/v1/*"])], fixed("api-v1"))
    alb.rule(listener, 20, [host(["a?c.example.com", "legacy.org"])], fixed("a?c"))
    port = local_port(front, alb, 80)

    assert get(port, "/v1/users", "api.example.com")[2] == b"api-v1"    # both conditions
    assert get(port, "/v2/users", "api.example.com")[2] == b"wildcard"  # AND: path fails
    assert get(port, "/", "ABC.Example.COM:8080")[2] == b"a?c"  # case, port, `?`, priority 20 < 30
    assert get(port, "/", "legacy.org")[2] == b"a?c"  # values of one condition OR
    assert get(port, "/", "abbc.example.com")[2] == b"wildcard"  # `?` is one character
    assert get(port, "/static/site.css?v=1", "other.org")[2] == b"static"  # query not in path
    status, headers, body = get(port, "/STATIC/site.css", "other.org")  # paths: case-sensitive
    assert (status, body) == (404, b"no such service")
    assert headers["Content-Type"] == "text/plain" and headers["Server"] == "awselb/2.0"
    assert get(port, "/", "unknown.net", method="POST", body=b"x" * 10)[0] == 404


def test_redirects_with_placeholders(front):
    alb = Alb()
    listener = alb.listener(80, default={"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}})
    alb.rule(listener, 1, [path(["/old/*"])], [{"Type": "redirect", "RedirectConfig": {
        "Host": "new.#{host}", "Path": "/new/#{path}", "Query": "from=#{port}&#{query}",
        "StatusCode": "HTTP_302"}}])
    port = local_port(front, alb, 80)

    status, headers, _ = get(port, "/a/b?x=1", "shop.example.com:4781")
    assert status == 301 and headers["Location"] == "https://shop.example.com:443/a/b?x=1"
    status, headers, _ = get(port, "/old/page?y=2", "shop.example.com")
    assert status == 302
    assert headers["Location"] == "http://new.shop.example.com:80/new/old/page?from=80&y=2"


# -- forwarding -------------------------------------------------------------------------

def test_round_robin_over_healthy_targets_with_forwarded_headers(front, table, tasks):
    alb = Alb()
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "TargetGroupArn": group})
    one, two = tasks("one"), tasks("two")
    healthy(table, group, one, "10.90.1.10")
    healthy(table, group, two, "10.90.2.10")
    port = local_port(front, alb, 80)

    answers = [json.loads(get(port, f"/r{i}")[2]) for i in range(6)]
    assert [a["task"] for a in answers] in (["one", "two"] * 3, ["two", "one"] * 3)
    headers = answers[0]["headers"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http" and headers["X-Forwarded-Port"] == "80"
    assert headers["Host"] == "app.example.com" and headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    appended = json.loads(get(port, "/", headers={"X-Forwarded-For": "203.0.113.7"})[2])
    assert appended["headers"]["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"

    # an HTTPS listener: plain HTTP locally (no certificate here), "https" to the targets
    certificate = boto3.client("acm", region_name=REGION).request_certificate(
        DomainName="example.com")["CertificateArn"]
    alb.elb.create_listener(LoadBalancerArn=alb.arn, Protocol="HTTPS", Port=443,
                            Certificates=[{"CertificateArn": certificate}],
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    tls = json.loads(get(local_port(front, alb, 443), "/")[2])["headers"]
    assert tls["X-Forwarded-Proto"] == "https" and tls["X-Forwarded-Port"] == "443"


def test_bodies_stream_both_ways_on_kept_alive_connections(front, table, tasks):
    alb = Alb()
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": group, "Weight": 1}]}})
    task = tasks("one")
    healthy(table, group, task, "10.90.1.10")
    port = local_port(front, alb, 80)

    upload = bytes(range(256)) * 1000  # 256 kB: streamed, not in one piece
    answer = json.loads(get(port, "/up", method="POST", body=upload)[2])
    assert answer["body_length"] == len(upload)
    assert answer["body_sha256"] == hashlib.sha256(upload).hexdigest()
    chunked = json.loads(get(port, "/up", method="POST", body=iter([b"ab", b"cd" * 5000]))[2])
    assert chunked["body_length"] == 10002
    assert len(get(port, "/big")[2]) == 300_000
    status, headers, body = get(port, "/stream")  # no length from the task: chunked to the client
    assert status == 200 and len(body) == 120_000 and headers.get("Transfer-Encoding") == "chunked"

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # one client connection
    try:
        for i in range(5):
            connection.request("GET", f"/k{i}", headers={"Host": "a"})
            assert connection.getresponse().read()
    finally:
        connection.close()


def test_503_without_a_healthy_target_and_fail_open_when_all_are_unhealthy(front, table, tasks):
    alb = Alb()
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "TargetGroupArn": group})
    port = local_port(front, alb, 80)
    status, headers, body = get(port)
    assert status == 503 and b"503 Service Temporarily Unavailable" in body  # no target at all
    one, two = tasks("one"), tasks("two")
    table.register(group, "10.90.1.10", 8080, local_port=one.port, task_arn="t1")
    assert get(port)[0] == 503  # initial
    table.set_health(group, "10.90.1.10", 8080, "unhealthy", "Target.Timeout", "Request timed out")
    assert get(port)[0] == 200 and one.requests == ["/"]  # every target unhealthy: fail open
    table.register(group, "10.90.1.11", 8080, local_port=two.port, task_arn="t2")
    table.set_health(group, "10.90.1.11", 8080, "healthy")
    assert [get(port)[0] for _ in range(4)] == [200] * 4
    assert one.requests == ["/"] and len(two.requests) == 4  # a healthy one: only it
    table.deregister(group, "10.90.1.11", 8080)
    table.deregister(group, "10.90.1.10", 8080)
    assert get(port)[0] == 503  # draining targets take no new request


@pytest.mark.parametrize("mode", ["reset", "garbage"])
def test_502_when_the_target_resets_or_answers_garbage(front, table, mode):
    alb = Alb()
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "TargetGroupArn": group})
    bad = RawTask(mode)
    try:
        table.register(group, "10.90.1.10", 8080, local_port=bad.port, task_arn="t1")
        table.set_health(group, "10.90.1.10", 8080, "healthy")
        status, _, body = get(local_port(front, alb, 80))
        assert status == 502 and b"502 Bad Gateway" in body
    finally:
        bad.close()


def test_504_past_the_idle_timeout(front, table, tasks):
    alb = Alb()
    alb.idle_timeout(1)
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "TargetGroupArn": group})
    healthy(table, group, tasks("slow"), "10.90.1.10")
    port = local_port(front, alb, 80)
    started = time.monotonic()
    status, _, body = get(port, "/slow/2.5")
    assert status == 504 and b"504 Gateway Time-out" in body
    assert 0.9 < time.monotonic() - started < 2.4
    assert get(port, "/slow/0.2")[0] == 200  # under the timeout


def test_a_draining_target_gets_no_new_request_and_finishes_the_one_in_flight(front, table, tasks):
    alb = Alb()
    group = alb.group()
    alb.listener(80, default={"Type": "forward", "TargetGroupArn": group})
    leaving, staying = tasks("leaving"), tasks("staying")
    healthy(table, group, leaving, "10.90.1.10")
    port = local_port(front, alb, 80)
    in_flight = {}
    thread = threading.Thread(target=lambda: in_flight.update(answer=get(port, "/slow/1")))
    thread.start()
    deadline = time.monotonic() + 2
    while not leaving.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    healthy(table, group, staying, "10.90.2.10")
    table.deregister(group, "10.90.1.10", 8080)
    assert {json.loads(get(port, f"/n{i}")[2])["task"] for i in range(4)} == {"staying"}
    thread.join(5)
    status, _, body = in_flight["answer"]
    assert status == 200 and json.loads(body)["task"] == "leaving"
    assert leaving.requests == ["/slow/1"]


# -- listeners come and go ------------------------------------------------------------------

def test_listeners_are_served_in_creation_order_picked_up_and_dropped(front):
    alb = Alb()
    base = front.port_base
    first = alb.listener(443, default=fixed("tls")[0])  # HTTPS served as plain HTTP locally
    second = alb.listener(80, default=fixed("plain")[0])
    assert local_port(front, alb, 443) == base and local_port(front, alb, 80) == base + 1
    assert get(base)[2] == b"tls" and get(base + 1)[2] == b"plain"

    other = Alb("front-test-2")  # created after the start: served within a scan
    started = time.monotonic()
    later = other.listener(8080, default=fixed("later")[0])
    assert local_port(front, other, 8080) == base + 2 and time.monotonic() - started < 1
    assert front.ports() == {alb.name: {443: base, 80: base + 1}, other.name: {8080: base + 2}}

    alb.elb.delete_listener(ListenerArn=first)
    deadline = time.monotonic() + 1
    while 443 in front.ports().get(alb.name, {}) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert front.ports()[alb.name] == {80: base + 1}
    with pytest.raises(ConnectionRefusedError):
        get(base)
    alb.elb.delete_load_balancer(LoadBalancerArn=other.arn)
    deadline = time.monotonic() + 1
    while other.name in front.ports() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert other.name not in front.ports()
    assert second and later


def test_stop_closes_every_socket_even_with_clients_connected(mocked_aws, table):
    alb = Alb()
    alb.listener(80, default=fixed("x")[0])
    front = AlbFront(table=table, port_base=free_port(), scan_interval=0.05)
    front.start(None)
    port = local_port(front, alb, 80)
    idle_client = socket.create_connection(("127.0.0.1", port))  # kept alive, sends nothing
    try:
        started = time.monotonic()
        front.stop()
        assert time.monotonic() - started < 3
        assert not [t for t in threading.enumerate() if t.name.startswith("alb-front")]
        with pytest.raises(ConnectionRefusedError):
            get(port)
    finally:
        idle_client.close()


def test_wildcards_are_albs_not_regular_expressions():
    assert alb_rules._matches("*.example.com", "A.EXAMPLE.com", True)
    assert not alb_rules._matches("*.example.com", "A.EXAMPLE.com")
    assert not alb_rules._matches("/a.b", "/axb") and alb_rules._matches("/a?b", "/axb")
    assert not alb_rules._matches("/[ab]", "/a") and alb_rules._matches("/[ab]", "/[ab]")
