"""The platform's configuration model: what config/<env>/config.yaml and each
services/<name>/config.yaml say, as validated, defaulted values (config.py reads them)."""
from dataclasses import dataclass, field

from fargate_platform import names
from fargate_platform.errors import PlatformError



class ConfigError(PlatformError, ValueError):
    """Bad configuration: the message names the file and the key."""


class UserDataError(ConfigError):
    """A stack file's sceptre_user_data is wrong: the message names the key, and the template
    handler puts the stack file in front of it."""


@dataclass(frozen=True)
class Network:
    cidr: str | None
    nat_gateways: int
    interface_endpoints: bool
    existing: dict | None  # {vpc_id, public_subnet_ids, private_subnet_ids}


@dataclass(frozen=True)
class Database:
    engine_version: str
    instance_class: str
    readers: int
    backup_retention_days: int
    connection_limit: int
    ca_bundle: str
    admin_username: str

    @property
    def major_version(self):
        return int(self.engine_version.split(".")[0])


@dataclass(frozen=True)
class Deployment:
    """How a rolling deploy of a service goes, in seconds. The defaults keep an update of a
    service that starts in 10 s and answers fast around two minutes on AWS (the README's
    "Deploy speed" has the critical path); AWS's own defaults take about nine."""

    health_check_interval: int = 10  # AWS: 30
    health_check_timeout: int = 5  # AWS: 5
    healthy_threshold: int = 2  # AWS: 5 (a newly registered target needs one pass)
    unhealthy_threshold: int = 3  # AWS: 2
    grace_period: int = 30  # ECS ignores the ALB's verdict on a new task this long
    deregistration_delay: int = 30  # AWS: 300; draining before the old task is stopped
    stop_timeout: int = 10  # AWS: 30; SIGTERM to SIGKILL


@dataclass(frozen=True)
class LocalRun:
    """How the local platform runs the service's tasks as processes (the `local:` section,
    valid only in the local environment): rendered into the local task definition."""

    command: tuple  # argv
    working_directory: str  # relative to the project
    environment: dict  # added to the container's environment


@dataclass(frozen=True)
class Service:
    name: str
    file: str
    image: str
    port: int
    host: str
    cpu: int
    memory: int
    desired_count: int
    health_check_path: str
    min_count: int
    max_count: int
    cpu_target: int
    environment: dict
    secrets: dict
    task_role_statements: list
    log_retention_days: int
    priority: int | None
    alb: str
    deployment: Deployment = Deployment()
    local: LocalRun | None = None

    @property
    def database(self):
        return names.database_name(self.name)


@dataclass(frozen=True)
class Environment:
    name: str
    file: str
    region: str
    domain: str
    hosted_zone_id: str | None
    certificate_arn: str | None
    permissions_boundary: str | None
    network: Network
    albs: tuple
    database: Database
    lambda_target: str
    log_retention_days: int
    deletion_protection: bool
    termination_protection: bool
    services: dict = field(default_factory=dict)

    @property
    def parameter_root(self):
        return names.parameter_root(names.PROJECT_CODE, self.name)

    def services_on(self, alb):
        return [s for s in self.services.values() if s.alb == alb]
