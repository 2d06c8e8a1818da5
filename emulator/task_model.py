"""What the task supervisor keeps of a task and a service between its passes."""
import secrets as secrets_module
import time
from datetime import datetime, timezone


def now():
    return datetime.now(timezone.utc)


class LocalTask:
    """One running (or stopping) task: moto's Task and its process."""

    def __init__(self, task, service_arn, definition, container):
        self.task = task
        self.service_arn = service_arn
        self.definition = definition
        self.container = container
        self.process = None
        self.ip = None
        self.container_port = None
        self.local_port = None
        self.groups = []  # target group ARNs it is registered in
        self.started = time.monotonic()
        self.state = "running"  # running | stopping | stopped
        self.token = secrets_module.token_urlsafe(24)
        self.readers = []

    @property
    def arn(self):
        return self.task.task_arn

    def exited(self):
        return self.process is not None and self.process.poll() is not None


class ServiceState:
    """What the supervisor remembers of one service between passes."""

    def __init__(self, definition_arn):
        self.completed_definition = None  # the task definition of the last completed deployment
        self.deployment_definition = definition_arn
        self.deployment_started = time.monotonic()
        self.failures = 0
        self.consecutive_failures = 0
        self.next_start = 0.0


class WithoutAwsvpc:
    """What moto's Task reads of a task definition, its network mode left out."""

    network_mode = None

    def __init__(self, definition):
        self.arn = definition.arn
        self.container_definitions = definition.container_definitions
