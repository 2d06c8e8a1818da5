"""Target-group health checks, as ELBv2 makes them, on the targets of emulator.targets.TABLE.

For each target group that has targets in the table, with the group's settings as they
are now in moto's state (HealthCheckPath, default "/"; HealthCheckIntervalSeconds;
HealthCheckTimeoutSeconds; HealthyThresholdCount; UnhealthyThresholdCount;
Matcher.HttpCode such as "200", "200-399", "200,302"): every interval (the first check
at once on registration), GET http://127.0.0.1:<local port><path> with
`Host: <target ip>:<port>` and `User-Agent: ELB-HealthChecker/2.0`, within the timeout.

    initial   -> healthy    after one pass ("After your target is registered, it must pass
                            one health check to be considered healthy": ELB's guide)
    initial   -> unhealthy  after UnhealthyThresholdCount consecutive failures
    healthy   -> unhealthy  after UnhealthyThresholdCount consecutive failures
    unhealthy -> healthy    after HealthyThresholdCount consecutive passes

Failures, with ELBv2's reason codes: no answer within the timeout -> Target.Timeout
("Request timed out"); a status outside the matcher -> Target.ResponseCodeMismatch
("Health checks failed with these codes: [500]"); refused / reset / not HTTP ->
Target.FailedHealthChecks ("Health checks failed"). Draining targets are not checked.
Locally: the check goes to the task's one local port whatever HealthCheckPort says, over
plain HTTP also for HealthCheckProtocol HTTPS; a group with HealthCheckEnabled false makes
its targets healthy at once (AWS says "unavailable" and routes to them).

    CHECKER.start()   # one scheduler thread, checks on a small pool of threads
    CHECKER.stop()    # no thread left
"""
import http.client
import re
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from emulator import targets as target_table

TICK = 0.05
WORKERS = 16
USER_AGENT = "ELB-HealthChecker/2.0"
TIMEOUT = ("Target.Timeout", "Request timed out")
FAILED = ("Target.FailedHealthChecks", "Health checks failed")
MISMATCH = "Target.ResponseCodeMismatch"


@dataclass(frozen=True)
class Settings:
    enabled: bool
    path: str
    interval: float
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str


def parse_matcher(text):
    """"200", "200-399", "200,302" -> a predicate on status codes."""
    ranges = []
    for part in str(text or "200").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return lambda status: any(low <= status <= high for low, high in ranges)


_ARN = re.compile(r"^arn:[^:]+:elasticloadbalancing:([^:]*):([^:]*):targetgroup/")


def moto_target_group(group_arn):
    """The FakeTargetGroup of this ARN in moto's state, or None."""
    from moto.elbv2.models import elbv2_backends

    found = _ARN.match(group_arn or "")
    if found:
        region, account = found.groups()
        if account in dict.keys(elbv2_backends) and region in dict.keys(elbv2_backends[account]):
            group = elbv2_backends[account][region].target_groups.get(group_arn)
            if group is not None:
                return group
    for _, regions in list(dict.items(elbv2_backends)):
        for _, backend in list(dict.items(regions)):
            group = backend.target_groups.get(group_arn)
            if group is not None:
                return group
    return None


def settings_of(group):
    matcher = (getattr(group, "matcher", None) or {}).get("HttpCode") or "200"
    return Settings(
        enabled=bool(getattr(group, "health_check_enabled", True)),
        path=group.health_check_path or "/",
        interval=float(group.health_check_interval_seconds or 30),
        timeout=float(group.health_check_timeout_seconds or 5),
        healthy_threshold=int(group.healthy_threshold_count or 5),
        unhealthy_threshold=int(group.unhealthy_threshold_count or 2),
        matcher=str(matcher),
    )


def check_once(target, settings, register=None):
    """(passed, reason, description) of one GET to the target's local port."""
    connection = http.client.HTTPConnection("127.0.0.1", target.local_port,
                                            timeout=settings.timeout)
    if register is not None:
        register(connection)
    deadline = time.monotonic() + settings.timeout
    try:
        path = settings.path if settings.path.startswith("/") else "/" + settings.path
        connection.request("GET", path, headers={
            "Host": f"{target.ip}:{target.port}", "User-Agent": USER_AGENT,
            "Connection": "close", "Accept-Encoding": "identity"})
        response = connection.getresponse()
        status = response.status
    except (TimeoutError, socket.timeout):
        return (False,) + TIMEOUT
    except (OSError, http.client.HTTPException, ValueError):
        return (False,) + FAILED
    finally:
        connection.close()
    if time.monotonic() > deadline:
        return (False,) + TIMEOUT
    if parse_matcher(settings.matcher)(status):
        return True, None, None
    return False, MISMATCH, f"Health checks failed with these codes: [{status}]"


class _Probe:
    __slots__ = ("identity", "passes", "failures", "next_due", "running")

    def __init__(self, identity):
        self.identity = identity
        self.passes = 0
        self.failures = 0
        self.next_due = 0.0
        self.running = False


class HealthChecker:
    def __init__(self, table=None, tick=TICK, workers=WORKERS):
        self.table = table if table is not None else target_table.TABLE
        self.tick = tick
        self.workers = workers
        self._lock = threading.Lock()
        self._probes = {}  # (group ARN, ip, port) -> _Probe
        self._connections = set()
        self._stop = threading.Event()
        self._thread = None
        self._pool = None

    def start(self):
        if self._thread is not None:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="health-check")
        self._thread = threading.Thread(target=self._run, name="health-checker", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # checks in flight end now, not at their timeout
            sock = connection.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._lock:
            self._probes.clear()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.schedule()
            except Exception as exc:  # noqa: BLE001 - moto's state changed under us: next tick
                print(f"health checks: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._stop.wait(self.tick)

    def schedule(self):
        """Starts the checks that are due (one pass)."""
        now = time.monotonic()
        current = {(t.group_arn, t.ip, t.port): t for t in self.table.targets()
                   if t.state != "draining"}
        settings_cache = {}
        with self._lock:
            for key in [k for k in self._probes if k not in current]:
                del self._probes[key]
            due = []
            for key, target in current.items():
                identity = (target.local_port, target.registered_at, target.task_arn)
                probe = self._probes.get(key)
                if probe is None or probe.identity != identity:
                    probe = self._probes[key] = _Probe(identity)
                if probe.running or now < probe.next_due:
                    continue
                if target.group_arn not in settings_cache:
                    group = moto_target_group(target.group_arn)
                    settings_cache[target.group_arn] = None if group is None else settings_of(group)
                settings = settings_cache[target.group_arn]
                if settings is None:
                    continue
                probe.next_due = now + settings.interval
                if not settings.enabled:
                    if target.state != "healthy":
                        self.table.set_health(target.group_arn, target.ip, target.port, "healthy")
                    continue
                probe.running = True
                due.append((key, probe, target, settings))
        for key, probe, target, settings in due:
            if self._stop.is_set() or self._pool is None:
                probe.running = False
                continue
            try:
                self._pool.submit(self._check, key, probe, target, settings)
            except RuntimeError:  # stopping
                probe.running = False

    def _register(self, connection):
        with self._lock:
            self._connections.add(connection)

    def _check(self, key, probe, target, settings):
        connection_box = []

        def register(connection):
            connection_box.append(connection)
            self._register(connection)

        try:
            passed, reason, description = check_once(target, settings, register)
        finally:
            with self._lock:
                for connection in connection_box:
                    self._connections.discard(connection)
        if self._stop.is_set():
            return
        with self._lock:
            probe.running = False
            if self._probes.get(key) is not probe:
                return  # deregistered or replaced meanwhile
            if passed:
                probe.passes += 1
                probe.failures = 0
            else:
                probe.failures += 1
                probe.passes = 0
            passes, failures = probe.passes, probe.failures
        now = next((t for t in self.table.targets(target.group_arn)
                    if (t.ip, t.port) == (target.ip, target.port)), None)
        if now is None or now.state == "draining":
            return
        needed = 1 if now.state == "initial" else settings.healthy_threshold
        if passed and passes >= needed and now.state != "healthy":
            self.table.set_health(target.group_arn, target.ip, target.port, "healthy")
        elif not passed and failures >= settings.unhealthy_threshold:
            if now.state != "unhealthy" or now.reason != reason or now.description != description:
                self.table.set_health(target.group_arn, target.ip, target.port, "unhealthy",
                                      reason, description)


CHECKER = HealthChecker()
