"""The task supervisor: ECS services' tasks run as local processes, as ECS runs them.

moto's ECS keeps services but never runs a task. SUPERVISOR (started with the emulator,
data_plane.py) reconciles, about every second, every ACTIVE service in moto's ECS
backends with its desiredCount:

- A task is a task of moto's backend (list-tasks / describe-tasks show it: lastStatus
  RUNNING, then STOPPED with its stoppedReason and the container's exitCode; the
  service's runningCount counts them) and one process with exactly a Fargate container's
  environment, a private IP of its subnet, registered in the service's target groups
  (moto's ELBv2 and targets.TABLE), its output in CloudWatch Logs: task_launch.py. A
  container without a command cannot run locally: the task stops with a reason saying so.
- A task whose process exits is replaced (stoppedReason "Essential container in task
  exited"); one whose target is still `unhealthy` in targets.TABLE after the service's
  health-check grace period is replaced ("Task failed ELB health checks in (target-group
  ...)"). Replacements of a failing service back off (1 s, doubling, at most 30 s).
- Stopping a task is ECS's: its targets are deregistered (TABLE and moto), it drains for
  the target group's deregistration_delay.timeout_seconds (default 300, bounded by
  MAX_DRAIN_SECONDS), then SIGTERM to its process group, SIGKILL after the container's
  stopTimeout (default 30, bounded by MAX_STOP_TIMEOUT), then the targets are removed
  from TABLE.
- A new task definition rolls within the deployment configuration: new tasks start
  while the service's tasks stay within MaximumPercent of the desired count; old tasks
  stop once healthy tasks stay at least MinimumHealthyPercent. A task is healthy when
  all its targets are `healthy` in TABLE, or, without target groups, when it has run
  for HEALTHY_WITHOUT_TARGETS seconds.
- Deployment circuit breaker (when the service enables it): a task of the new
  deployment that exits, or is not healthy within the grace period (at least
  NEVER_HEALTHY_SECONDS), counts as a failure; at min(200, max(3, ceil(desired / 2)))
  failures the deployment FAILED: with rollback, the service returns to the task
  definition of its last completed deployment. The failure is recorded
  (`SUPERVISOR.deployment_failures()`, and a service event naming it, in
  describe-services; the deployment's rolloutState is FAILED until the rollback's tasks
  run).
- stop(): every task is stopped (SIGTERM, then SIGKILL after at most MAX_STOP_TIMEOUT
  seconds; no drain), no process is left.
"""
import math
import secrets as secrets_module
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from emulator import targets
from emulator.task_launch import LaunchingTasks
from emulator.task_model import ServiceState, now
from emulator.task_stop import EXITED, MAX_STOP_TIMEOUT, StoppingTasks

RECONCILE_SECONDS = 1.0
HEALTHY_WITHOUT_TARGETS = 2.0
NEVER_HEALTHY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
SHUTDOWN = "The emulator stopped"
SCALED_DOWN = "Scaling activity initiated by (deployment {deployment})"
DEPLOYMENT_STOP = "Task stopped by deployment {deployment} (a newer task definition is running)"


class TaskSupervisor(LaunchingTasks, StoppingTasks):
    def __init__(self):
        self._lock = threading.RLock()
        self._tasks = {}  # task ARN -> LocalTask
        self._services = {}  # service ARN -> ServiceState
        self._failures = []  # recorded failed deployments
        self._credentials = {}  # token -> (role ARN, session name, region, account)
        self._issued = {}  # token -> credentials document
        self._thread = None
        self._stopping = threading.Event()
        self._stoppers = []
        self.context = None
        self.project_dir = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self, context):
        self.context = context
        self.project_dir = Path.cwd()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="ecs-task-supervisor", daemon=True)
        self._thread.start()

    def stop(self):
        """The emulator is stopping: every task stopped, no process left."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            tasks = [t for t in self._tasks.values() if t.state != "stopped"]
        for task in tasks:
            self._signal(task, signal.SIGTERM)
        deadline = time.monotonic() + min(MAX_STOP_TIMEOUT, max(
            [self._stop_timeout(t) for t in tasks] or [0]))
        for task in tasks:
            self._kill_after(task, max(0.0, deadline - time.monotonic()))
            self._finish(task, SHUTDOWN, deregister=True)
        for stopper in list(self._stoppers):
            stopper.join(timeout=1)

    def _run(self):
        while not self._stopping.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # noqa: BLE001 - logged; the next pass retries
                print(f"task supervisor: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            self._stopping.wait(RECONCILE_SECONDS)

    # -- what callers may ask ------------------------------------------------------------------

    def credentials(self, token):
        """The task role's credentials in ECS's container-credentials shape, or None."""
        with self._lock:
            if token not in self._credentials:
                return None
            if token not in self._issued:
                from emulator.iam_state import assume_role_for

                role, session, region = self._credentials[token]
                issued = assume_role_for(role, session, region)
                expiration = (now() + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
                self._issued[token] = {
                    "AccessKeyId": issued["AWS_ACCESS_KEY_ID"],
                    "SecretAccessKey": issued["AWS_SECRET_ACCESS_KEY"],
                    "Token": issued["AWS_SESSION_TOKEN"], "Expiration": expiration,
                    "RoleArn": role}
            return dict(self._issued[token])

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def is_stable(self, service_arn, definition_arn, desired):
        """ECS's steady state: `desired` tasks running on `definition_arn`, all healthy, and no
        task of another task definition left running."""
        with self._lock:
            mine = [t for t in self._tasks.values()
                    if t.service_arn == service_arn and t.state == "running"]
        return len(mine) == desired and all(
            t.definition.arn == definition_arn and self._healthy(t) for t in mine)

    def deployment_failures(self, service_arn=None):
        with self._lock:
            return [dict(f) for f in self._failures if service_arn in (None, f["serviceArn"])]

    def local_tasks(self):
        """{task ARN: {pid, ip, port, local_port, state}} of the tasks it runs."""
        with self._lock:
            return {arn: {"pid": t.process.pid if t.process else None, "ip": t.ip,
                          "port": t.container_port, "local_port": t.local_port, "state": t.state,
                          "service": t.service_arn, "taskDefinition": t.definition.arn}
                    for arn, t in self._tasks.items() if t.state != "stopped"}

    # -- reconciling -------------------------------------------------------------------------

    def _services_now(self):
        from moto.ecs.models import ecs_backends

        for account, per_region in list(ecs_backends.items()):
            for region, backend in list(per_region.items()):
                for service in list(backend.services.values()):
                    yield account, region, backend, service

    def reconcile(self):
        seen = set()
        for account, region, backend, service in self._services_now():
            if self._stopping.is_set():
                return
            seen.add(service.arn)
            try:
                self._reconcile_service(account, region, backend, service)
            except Exception as exc:  # noqa: BLE001 - one service's trouble is its own
                print(f"task supervisor: service {service.arn}: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
        with self._lock:  # tasks of services that are gone
            orphans = [t for t in self._tasks.values()
                       if t.state == "running" and t.service_arn not in seen]
        for task in orphans:
            self._begin_stop(task, "Service deleted")

    def _reconcile_service(self, account, region, backend, service):
        desired = service.desired_count if service.status == "ACTIVE" else 0
        try:
            target = backend.describe_task_definition(service.task_definition) \
                if service.task_definition and desired > 0 else None
        except Exception:  # noqa: BLE001 - deleted (with its stack): nothing new to start
            target = None
        with self._lock:
            state = self._services.setdefault(service.arn, ServiceState(target.arn if target else None))
            mine = [t for t in self._tasks.values() if t.service_arn == service.arn and t.state == "running"]
        if target is not None and state.deployment_definition != target.arn:
            state.deployment_definition = target.arn
            state.deployment_started = time.monotonic()
            state.failures = 0
            state.consecutive_failures = 0
            state.next_start = 0.0
        breaker = (getattr(service, "deployment_configuration", None) or {}).get(
            "deploymentCircuitBreaker") or {}
        grace = getattr(service, "health_check_grace_period_seconds", None) or 0

        # Tasks that ended by themselves, or whose targets stay unhealthy.
        for task in list(mine):
            reason = None
            if task.exited():
                reason = EXITED
            elif task.groups and time.monotonic() - task.started > grace and any(
                    t.state == "unhealthy" for t in targets.TABLE.of_task(task.arn)):
                unhealthy = [t.group_arn for t in targets.TABLE.of_task(task.arn) if t.state == "unhealthy"]
                reason = f"Task failed ELB health checks in (target-group {unhealthy[0]})"
            elif breaker.get("enable") and target is not None and task.definition.arn == target.arn \
                    and not self._healthy(task) \
                    and time.monotonic() - task.started > max(grace, NEVER_HEALTHY_SECONDS):
                reason = "Task did not become healthy within the deployment's time limit"
            if reason is None:
                continue
            mine.remove(task)
            self._begin_stop(task, reason)
            if target is not None and task.definition.arn == target.arn:
                state.failures += 1
                state.consecutive_failures += 1
                state.next_start = time.monotonic() + min(
                    MAX_BACKOFF_SECONDS, 2 ** (state.consecutive_failures - 1))

        if target is not None and breaker.get("enable"):
            threshold = min(200, max(3, math.ceil(desired / 2)))
            if state.failures >= threshold:
                self._fail_deployment(backend, service, state, target, threshold, breaker)
                return

        new = [t for t in mine if target is not None and t.definition.arn == target.arn]
        old = [t for t in mine if t not in new]
        for task in new:
            if self._healthy(task):
                state.consecutive_failures = 0
        deployment = getattr(service, "deployment_configuration", None) or {}
        maximum = max(desired, math.floor(desired * deployment.get("maximumPercent", 200) / 100))
        minimum = math.ceil(desired * deployment.get("minimumHealthyPercent", 100) / 100)
        minimum = min(minimum, desired)

        # Start new tasks within MaximumPercent.
        room = maximum - len(new) - len(old)
        wanted = desired - len(new)
        if target is not None and wanted > 0 and room > 0 and time.monotonic() >= state.next_start:
            for _ in range(min(wanted, room)):
                started = self._start_task(account, region, backend, service, target)
                if started.state == "running":
                    new.append(started)
                else:
                    state.failures += 1
                    state.consecutive_failures += 1
                    state.next_start = time.monotonic() + min(
                        MAX_BACKOFF_SECONDS, 2 ** (state.consecutive_failures - 1))
                    break

        # Stop old tasks (and surplus ones) while healthy tasks stay at MinimumHealthyPercent.
        healthy_count = sum(1 for t in new + old if self._healthy(t))
        total = len(new) + len(old)
        need_room = len(new) < desired and total >= maximum
        for task in sorted(old, key=self._healthy):
            if not (total > desired or need_room):
                break
            healthy = self._healthy(task)
            if healthy and healthy_count - 1 < minimum:
                continue
            self._begin_stop(task, DEPLOYMENT_STOP.format(deployment=self._deployment_id(service)))
            total -= 1
            healthy_count -= healthy
            need_room = len(new) < desired and total >= maximum
        surplus = len(new) - desired
        if surplus > 0:
            for task in sorted(new, key=lambda t: (self._healthy(t), -t.started))[:surplus]:
                self._begin_stop(task, SCALED_DOWN.format(deployment=self._deployment_id(service)))
                new.remove(task)

        # The service's counts and its deployment, as ECS reports them.
        with self._lock:
            running = [t for t in self._tasks.values() if t.service_arn == service.arn
                       and t.state == "running" and not t.exited()]
        service.running_count = len(running)
        service.pending_count = 0
        if target is not None and not old and len(new) == desired \
                and all(self._healthy(t) for t in new):
            state.completed_definition = target.arn
        if service.deployments:
            entry = service.deployments[0]
            entry.update({"desiredCount": desired, "runningCount": service.running_count,
                          "pendingCount": 0, "failedTasks": state.failures,
                          "taskDefinition": target.arn if target else None})
            if entry.get("rolloutState") != "FAILED" or state.failures == 0:
                done = state.completed_definition == (target.arn if target else None)
                entry["rolloutState"] = "COMPLETED" if done else "IN_PROGRESS"
                entry["rolloutStateReason"] = (f"ECS deployment {entry['id']} completed." if done
                                               else f"ECS deployment {entry['id']} in progress.")

    @staticmethod
    def _deployment_id(service):
        return service.deployments[0]["id"] if service.deployments else "ecs-svc"

    def _fail_deployment(self, backend, service, state, target, threshold, breaker):
        previous = state.completed_definition
        rollback = bool(breaker.get("rollback")) and previous and previous != target.arn
        reason = (f"ECS deployment circuit breaker: tasks failed to start ({state.failures} "
                  f"failures, threshold {threshold}).")
        record = {"serviceArn": service.arn, "taskDefinition": target.arn,
                  "failedTasks": state.failures, "threshold": threshold,
                  "rolledBackTo": previous if rollback else None, "reason": reason,
                  "at": now().isoformat()}
        with self._lock:
            self._failures.append(record)
        if service.deployments:
            service.deployments[0]["rolloutState"] = "FAILED"
            service.deployments[0]["rolloutStateReason"] = reason + (
                f" Rolling back to {previous}." if rollback else "")
        service.events.insert(0, {"id": secrets_module.token_hex(8), "createdAt": now(),
                                  "message": f"(service {service.name}) {reason}"})
        if rollback:
            service.task_definition = previous
            state.deployment_definition = previous
            state.deployment_started = time.monotonic()
            state.failures = 0
            state.consecutive_failures = 0
            state.next_start = 0.0
        else:  # no rollback: the deployment stays failed; ECS stops launching its tasks
            state.next_start = time.monotonic() + MAX_BACKOFF_SECONDS

    def _healthy(self, task):
        if task.state != "running" or task.exited():
            return False
        if task.groups:
            found = targets.TABLE.of_task(task.arn)
            return bool(found) and all(t.state == "healthy" for t in found)
        return time.monotonic() - task.started >= HEALTHY_WITHOUT_TARGETS


SUPERVISOR = TaskSupervisor()


def start(context):
    SUPERVISOR.start(context)


def stop():
    SUPERVISOR.stop()
