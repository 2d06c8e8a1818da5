"""The local data plane's shared state: the targets of each target group, where each one
really listens, and its health, as the ALB front, the health checker and the task
supervisor see them.

A target is what ECS registers for a task: the task's private IP and the container port,
in a target group. Locally the task is a process listening on 127.0.0.1:<local port>; the
table maps one to the other. Health states and reason codes are ELBv2's:

    initial    Elb.RegistrationInProgress   registered, not yet passed its checks
    healthy    -
    unhealthy  Target.Timeout | Target.ResponseCodeMismatch | Target.FailedHealthChecks
    draining   Target.DeregistrationInProgress   deregistered; no new requests

    table = TargetTable()
    table.register(group_arn, "10.90.1.17", 8080, local_port=41234, task_arn=arn)
    table.set_health(group_arn, "10.90.1.17", 8080, "healthy")
    table.healthy(group_arn)   -> [Target(...)]
    table.routable(group_arn)  -> the healthy ones, or all unhealthy ones (fail-open)
"""
import threading
import time
from dataclasses import dataclass, field, replace

STATES = ("initial", "healthy", "unhealthy", "draining")
INITIAL_REASON = "Elb.RegistrationInProgress"
DRAINING_REASON = "Target.DeregistrationInProgress"


@dataclass(frozen=True)
class Target:
    group_arn: str
    ip: str
    port: int
    local_port: int  # where the task's process listens on 127.0.0.1
    task_arn: str
    state: str = "initial"
    reason: str = INITIAL_REASON
    description: str = "Target registration is in progress"
    registered_at: float = field(default_factory=time.monotonic)
    draining_since: float | None = None


class TargetTable:
    """Thread-safe: the supervisor, the checker and every ALB request use it at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._targets = {}  # (group ARN, ip, port) -> Target

    def register(self, group_arn, ip, port, local_port, task_arn):
        target = Target(group_arn, ip, int(port), int(local_port), task_arn)
        with self._lock:
            self._targets[(group_arn, ip, int(port))] = target
        return target

    def deregister(self, group_arn, ip, port):
        """The target drains: it gets no new request; `remove` ends it."""
        with self._lock:
            key = (group_arn, ip, int(port))
            if key in self._targets:
                self._targets[key] = replace(self._targets[key], state="draining", reason=DRAINING_REASON,
                                             description="Target deregistration is in progress",
                                             draining_since=time.monotonic())

    def remove(self, group_arn, ip, port):
        with self._lock:
            self._targets.pop((group_arn, ip, int(port)), None)

    def set_health(self, group_arn, ip, port, state, reason=None, description=None):
        if state not in STATES:
            raise ValueError(f"unknown target state {state!r}")
        with self._lock:
            key = (group_arn, ip, int(port))
            current = self._targets.get(key)
            if current is None or current.state == "draining":
                return  # gone, or draining: its health no longer matters
            self._targets[key] = replace(current, state=state, reason=reason, description=description)

    def targets(self, group_arn=None):
        with self._lock:
            return [t for t in self._targets.values() if group_arn is None or t.group_arn == group_arn]

    def healthy(self, group_arn):
        return [t for t in self.targets(group_arn) if t.state == "healthy"]

    def routable(self, group_arn):
        """The targets an ALB sends new requests to: the healthy ones; when every registered
        target is unhealthy, all of them (ELB fails open, as its guide says)."""
        current = [t for t in self.targets(group_arn) if t.state != "draining"]
        healthy = [t for t in current if t.state == "healthy"]
        if healthy or not current or any(t.state != "unhealthy" for t in current):
            return healthy
        return current

    def of_task(self, task_arn):
        return [t for t in self.targets() if t.task_arn == task_arn]


TABLE = TargetTable()  # the emulator's one table
