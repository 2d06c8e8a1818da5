"""Target-group health checks (emulator/health_checks.py), in process: the group in moto
(mock_aws), its targets in a TargetTable, tiny HTTP servers as the tasks.

ELBv2's API takes intervals of 5 s and more: the tests shorten the group's settings in
moto's state itself, which is where the checker reads them."""
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator import health_checks  # noqa: E402
from emulator.health_checks import HealthChecker, parse_matcher  # noqa: E402
from emulator.targets import TargetTable  # noqa: E402

REGION = "us-east-1"  # the mocked_aws fixture's region
IP, PORT = "10.90.1.17", 8080


class Task:
    """Answers the health check path with `status`, after `delay` seconds."""

    def __init__(self, status=200, delay=0.0):
        self.status, self.delay, self.seen = status, delay, []
        task = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                task.seen.append((self.path, self.headers.get("Host"), self.headers.get("User-Agent")))
                time.sleep(task.delay)
                self.send_response(task.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def tasks():
    made = []

    def make(**kwargs):
        made.append(Task(**kwargs))
        return made[-1]

    yield make
    for task in made:
        task.close()


@pytest.fixture
def group(mocked_aws):
    """A target group, and a function setting its health check (in moto's state)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elb = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    arn = elb.create_target_group(Name="checked", Protocol="HTTP", Port=PORT, VpcId=vpc,
                                  TargetType="ip", HealthCheckPath="/health",
                                  Matcher={"HttpCode": "200-399"})["TargetGroups"][0]["TargetGroupArn"]
    model = health_checks.moto_target_group(arn)

    def configure(interval=0.05, timeout=0.5, healthy=3, unhealthy=2, matcher=None):
        model.health_check_interval_seconds = interval
        model.health_check_timeout_seconds = timeout
        model.healthy_threshold_count = str(healthy)
        model.unhealthy_threshold_count = str(unhealthy)
        if matcher:
            model.matcher = {"HttpCode": matcher}

    configure()
    return arn, configure


@pytest.fixture
def checked():
    table = TargetTable()
    checker = HealthChecker(table=table, tick=0.02)
    checker.start()
    yield table, checker
    checker.stop()
    assert not [t.name for t in threading.enumerate()
                if t.name.startswith(("health-check", "health-checker"))]


def state_of(table, arn):
    (target,) = table.targets(arn)
    return target


def wait_state(table, arn, state, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        target = state_of(table, arn)
        if target.state == state:
            return target
        time.sleep(0.01)
    raise AssertionError(f"still {state_of(table, arn)} after {timeout} s")


def test_a_new_target_becomes_healthy_after_one_passed_check(group, checked, tasks):
    arn, configure = group
    configure(interval=5, healthy=3)  # the threshold is for an unhealthy target's recovery
    table, _ = checked
    task = tasks()
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    assert state_of(table, arn).state == "initial"
    assert state_of(table, arn).reason == "Elb.RegistrationInProgress"
    target = wait_state(table, arn, "healthy", timeout=2)
    assert (target.reason, target.description) == (None, None)
    assert len(task.seen) == 1
    assert task.seen[0] == ("/health", f"{IP}:{PORT}", "ELB-HealthChecker/2.0")


def test_a_failing_target_becomes_unhealthy_with_the_code_and_recovers(group, checked, tasks):
    arn, configure = group
    configure(healthy=2, unhealthy=2)
    table, _ = checked
    task = tasks()
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    wait_state(table, arn, "healthy")
    task.status = 500
    target = wait_state(table, arn, "unhealthy")
    assert target.reason == "Target.ResponseCodeMismatch"
    assert target.description == "Health checks failed with these codes: [500]"
    seen = len(task.seen)
    task.status = 204
    wait_state(table, arn, "healthy")
    assert len(task.seen) - seen >= 2  # back to healthy after HealthyThresholdCount passes


def test_no_answer_within_the_timeout_is_target_timeout(group, checked, tasks):
    arn, configure = group
    configure(interval=0.3, timeout=0.2, unhealthy=2)
    table, _ = checked
    task = tasks(delay=0.6)
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    target = wait_state(table, arn, "unhealthy")
    assert (target.reason, target.description) == ("Target.Timeout", "Request timed out")


def test_a_refused_connection_is_failed_health_checks(group, checked):
    arn, _ = group
    table, _ = checked
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    table.register(arn, IP, PORT, local_port=port, task_arn="t1")
    target = wait_state(table, arn, "unhealthy")
    assert (target.reason, target.description) == ("Target.FailedHealthChecks", "Health checks failed")


def test_the_matcher_is_the_groups(group, checked, tasks):
    arn, configure = group
    configure(healthy=2, matcher="200,302")
    table, _ = checked
    task = tasks(status=404)
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    target = wait_state(table, arn, "unhealthy")
    assert target.description == "Health checks failed with these codes: [404]"
    task.status = 302
    wait_state(table, arn, "healthy")


def test_a_draining_target_is_not_checked(group, checked, tasks):
    arn, _ = group
    table, _ = checked
    task = tasks()
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    wait_state(table, arn, "healthy")
    table.deregister(arn, IP, PORT)
    time.sleep(0.1)
    seen = len(task.seen)
    time.sleep(0.3)
    assert len(task.seen) == seen and state_of(table, arn).state == "draining"


def test_matcher_ranges():
    ok = parse_matcher("200")
    assert ok(200) and not ok(201)
    ranged = parse_matcher("200-399")
    assert ranged(200) and ranged(302) and ranged(399) and not ranged(400) and not ranged(199)
    listed = parse_matcher("200,302")
    assert listed(302) and not listed(301)
    mixed = parse_matcher("200-204, 418")
    assert mixed(204) and mixed(418) and not mixed(205)


def test_stop_ends_a_check_in_flight_at_once(group, tasks):
    arn, configure = group
    configure(interval=5, timeout=5)
    table = TargetTable()
    checker = HealthChecker(table=table, tick=0.02)
    task = tasks(delay=1.5)
    table.register(arn, IP, PORT, local_port=task.port, task_arn="t1")
    checker.start()
    deadline = time.monotonic() + 2
    while not task.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    checker.stop()
    assert time.monotonic() - started < 1
    assert state_of(table, arn).state == "initial"
