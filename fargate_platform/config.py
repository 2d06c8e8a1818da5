"""The platform's configuration: read, validate and default it, with errors naming file and key.

Sceptre reads config/ to build its stacks; our templates need the same settings
as validated values, and some rules span files (a host or a pinned priority used
twice in one environment, more than 100 services on one ALB). So the templates
call `load_environment()`, which reads `config/<env>/config.yaml` (key
`environment:`) and every `config/<env>/services/<name>/config.yaml` (key
`service:`) and raises ConfigError, naming the file and the key, on the first
problem. Everything is checked before any stack is generated, so bad input never
reaches AWS.
"""
import functools
import ipaddress
import re
from pathlib import Path

from fargate_platform import names, task_role_probes
from fargate_platform.config_file import Section, between, read_yaml
from fargate_platform.config_model import (
    ConfigError,
    Database,
    Deployment,
    Environment,
    LocalRun,
    Network,
    Service,
)

# A hard limit of an Application Load Balancer: target groups per load balancer.
MAX_SERVICES_PER_ALB = 100
# ALB listener rule priorities a service may pin: !rule_priority chooses the others
# from 1000 up, so a pin never meets an automatic priority.
MIN_PRIORITY, MAX_PRIORITY = 1, 999

# Fargate's task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

AURORA_POSTGRESQL_MAJOR_VERSIONS = (14, 15, 16, 17)
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
LAMBDA_TARGETS = ("python3.12", "local")
ALB_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9A-Za-z_.-]{1,128})?(@sha256:[0-9a-f]{64})?$")
ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
SECRET_LIKE_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|CREDENTIAL|API_KEY", re.IGNORECASE)
AWS_ID = {
    "vpc_id": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "subnet": re.compile(r"^subnet-[0-9a-f]{8,17}$"),
}
PRIVATE_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[^:@]+)")
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
HOSTED_ZONE_ID = re.compile(r"^Z[0-9A-Z]{1,31}$")
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


def _network(section):
    existing = section.data.get("existing")
    if existing is not None:
        ex = section.section("existing")
        vpc_id = ex.get("vpc_id", str, check=AWS_ID["vpc_id"].match, explain="expected vpc-...")
        subnets = {}
        for key in ("public_subnet_ids", "private_subnet_ids"):
            ids = ex.get(key, list, check=lambda v: len(v) >= 2, explain="name at least two subnets, in two AZs")
            for subnet in ids:
                if not isinstance(subnet, str) or not AWS_ID["subnet"].match(subnet):
                    raise ConfigError(f"{ex.where(key)}: invalid subnet id {subnet!r}")
            subnets[key] = list(ids)
        shared = set(subnets["public_subnet_ids"]) & set(subnets["private_subnet_ids"])
        if shared:
            raise ConfigError(f"{ex.where('private_subnet_ids')}: {', '.join(sorted(shared))} is also a public subnet")
        ex.finish()
        has_way_out = section.get("has_way_out", bool, default=False)
        if not has_way_out:
            raise ConfigError(
                f"{section.where('has_way_out')}: an existing VPC's private subnets need a way out "
                "(NAT or interface endpoints for ECR, S3, Logs, SSM): set has_way_out: true once they have one"
            )
        section.finish()
        return Network(None, 0, False, {"vpc_id": vpc_id, **subnets})

    cidr = section.get("cidr", str, check=_is_vpc_cidr, explain="an IPv4 CIDR from /16 to /24")
    nat = section.get("nat_gateways", int, default=1, check=between(0, 2), explain="0, 1 or 2")
    endpoints = section.get("interface_endpoints", bool, default=False)
    if nat == 0 and not endpoints:
        raise ConfigError(
            f"{section.where('nat_gateways')}: private subnets need a way out to ECR, S3, Logs and SSM: "
            "set nat_gateways to 1 or 2, or interface_endpoints: true"
        )
    section.finish()
    return Network(cidr, nat, endpoints, None)


def _is_vpc_cidr(value):
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        return False
    return 16 <= network.prefixlen <= 24


def _database(section):
    version = section.get(
        "engine_version", str,
        check=lambda v: re.match(r"^\d+\.\d+$", v) and int(v.split(".")[0]) in AURORA_POSTGRESQL_MAJOR_VERSIONS,
        explain=f"an Aurora PostgreSQL version MAJOR.MINOR, major one of {AURORA_POSTGRESQL_MAJOR_VERSIONS}",
    )
    database = Database(
        engine_version=version,
        instance_class=section.get("instance_class", str, check=re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$").match),
        readers=section.get("readers", int, default=0, check=between(0, 15)),
        backup_retention_days=section.get("backup_retention_days", int, default=7, check=between(1, 35)),
        connection_limit=section.get("connection_limit", int, default=20, check=between(1, 1000)),
        ca_bundle=section.get("ca_bundle", str),
        admin_username=section.get(
            "admin_username", str, default="platform_admin",
            check=lambda v: re.fullmatch(r"[a-z][a-z0-9_]{0,62}", v) and v != "rdsadmin" and not v.startswith(("pg_", "rds_")),
            explain="1 to 63 lowercase letters, digits or '_', not rdsadmin, pg_* or rds_*",
        ),
    )
    section.finish()
    return database


def _top_section(path, key):
    """The file's YAML, and its one top-level key that holds the platform's settings."""
    raw = read_yaml(path)
    if key not in raw:
        raise ConfigError(f"{path}: {key}: required key is missing")
    return raw, Section(raw[key], str(path), key)


def _environment(path, env_name, project_region):
    raw, section = _top_section(path, "environment")
    name = section.get("name", str)
    if name != env_name:
        raise ConfigError(f"{section.where('name')}: {name!r} does not match its folder {env_name!r}")
    try:
        names.validate_environment_name(name)
    except names.InvalidNameError as error:
        raise ConfigError(f"{section.where('name')}: {error}") from None
    albs = section.get("albs", list, default=["main"], check=lambda v: len(v) >= 1)
    for alb in albs:
        if not isinstance(alb, str) or not ALB_NAME.match(alb):
            raise ConfigError(f"{section.where('albs')}: invalid ALB name {alb!r}: 1 to 16 lowercase letters or digits")
    if len(set(albs)) != len(albs):
        raise ConfigError(f"{section.where('albs')}: an ALB name is listed twice")
    environment = Environment(
        name=name,
        file=str(path),
        region=raw.get("region") or project_region,
        domain=section.get("domain", str, check=HOST_NAME.match, explain="a DNS domain"),
        hosted_zone_id=section.get("hosted_zone_id", str, default=None, check=HOSTED_ZONE_ID.match),
        certificate_arn=section.get("certificate_arn", str, default=None, check=CERTIFICATE_ARN.match,
                                    explain="an ACM certificate ARN"),
        permissions_boundary=section.get("permissions_boundary", str, default=None,
                                         check=re.compile(r"^[\w+=,.@-]{1,128}$").match),
        network=_network(section.section("network")),
        albs=tuple(albs),
        database=_database(section.section("database")),
        lambda_target=section.get("lambda_target", str, default="python3.12", check=LAMBDA_TARGETS.__contains__,
                                  explain=f"one of {LAMBDA_TARGETS}"),
        log_retention_days=section.get("log_retention_days", int, default=30, check=LOG_RETENTION_DAYS.__contains__,
                                       explain="a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)"),
        deletion_protection=section.get("deletion_protection", bool),
        termination_protection=section.get("termination_protection", bool, default=False),
    )
    if environment.certificate_arn and environment.certificate_arn.split(":")[3] != environment.region:
        raise ConfigError(
            f"{section.where('certificate_arn')}: the certificate is in {environment.certificate_arn.split(':')[3]}; "
            f"a load balancer in {environment.region} needs one from its own region"
        )
    if environment.lambda_target == "local" and name != names.LOCAL_ENVIRONMENT:
        raise ConfigError(
            f"{section.where('lambda_target')}: 'local' builds the functions for this machine's Python, "
            "for the local emulator only; AWS environments use python3.12"
        )
    section.finish()
    return environment


def _statement(statement, where):
    if not isinstance(statement, dict) or set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}:
        raise ConfigError(f"{where}: a statement is a mapping of Sid, Effect, Action, Resource and Condition")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise ConfigError(f"{where}: Effect must be Allow or Deny")
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    if not actions or not all(isinstance(a, str) and IAM_ACTION.match(a) for a in actions):
        raise ConfigError(f"{where}: Action must be service:Action names, not {statement.get('Action')!r}")
    resources = statement.get("Resource")
    resources = [resources] if isinstance(resources, str) else resources
    if not resources or not all(isinstance(r, str) for r in resources):
        raise ConfigError(f"{where}: Resource must be one or more ARNs")
    if any(a == "*" or a.endswith(":*") for a in actions) and "*" in resources:
        raise ConfigError(f"{where}: a statement may not allow every action of a service on every resource")
    return {**statement, "Action": actions, "Resource": resources}


def _task_role_statement(statement, where, environment):
    statement = _statement(statement, where)
    denied = task_role_probes.denied_anyway(statement, environment.parameter_root, environment.region)
    if denied:
        raise ConfigError(f"{where}: it reaches {denied}, which the platform denies every service's "
                          "task role: it would be accepted and silently denied")
    return statement


# Each deployment setting's range, as ELB and ECS accept it (seconds or a count).
DEPLOYMENT_RANGES = {
    "health_check_interval": (5, 300),
    "health_check_timeout": (2, 120),
    "healthy_threshold": (2, 10),
    "unhealthy_threshold": (2, 10),
    "grace_period": (0, 3600),
    "deregistration_delay": (0, 3600),
    "stop_timeout": (2, 120),  # Fargate's maximum
}


def _deployment(section):
    defaults = Deployment()
    values = {key: section.get(key, int, default=getattr(defaults, key), check=between(low, high),
                               explain=f"{low} to {high}")
              for key, (low, high) in DEPLOYMENT_RANGES.items()}
    section.finish()
    if values["health_check_timeout"] >= values["health_check_interval"]:
        raise ConfigError(f"{section.where('health_check_timeout')}: {values['health_check_timeout']} "
                          f"is not below health_check_interval {values['health_check_interval']}")
    return Deployment(**values)


def _service(path, service_name, environment):
    _, section = _top_section(path, "service")
    name = section.get("name", str)
    try:
        names.validate_service_name(name)
    except names.InvalidNameError as error:
        raise ConfigError(f"{section.where('name')}: {error}") from None
    if name != service_name:
        raise ConfigError(f"{section.where('name')}: {name!r} does not match its folder {service_name!r}")

    cpu = section.get("cpu", int, default=256, check=FARGATE_SIZES.__contains__,
                      explain=f"Fargate cpu is one of {sorted(FARGATE_SIZES)}")
    memory = section.get("memory", int, default=512)
    if memory not in FARGATE_SIZES[cpu]:
        raise ConfigError(
            f"{section.where('memory')}: Fargate does not run cpu {cpu} with memory {memory}; "
            f"allowed: {', '.join(map(str, FARGATE_SIZES[cpu]))}"
        )
    desired = section.get("desired_count", int, default=1, check=between(0, 100))
    scaling = section.section("scaling", default={})
    min_count = scaling.get("min", int, default=desired, check=between(0, 100))
    max_count = scaling.get("max", int, default=max(desired, 1) * 2, check=between(1, 100))
    if min_count > max_count:
        raise ConfigError(f"{scaling.where('min')}: {min_count} is above scaling.max {max_count}")
    cpu_target = scaling.get("cpu_target", int, default=60, check=between(10, 90))
    scaling.finish()

    env_values = _environment_values(section)
    own_path = names.service_parameter_path(environment.parameter_root, name) + "/"
    secrets = section.get("secrets", dict, default={})
    for key, parameter in secrets.items():
        if not isinstance(key, str) or not ENV_VAR_NAME.match(key):
            raise ConfigError(f"{section.where('secrets')}: invalid variable name {key!r}")
        if not isinstance(parameter, str) or not parameter.startswith(own_path):
            raise ConfigError(
                f"{section.where('secrets')}.{key}: a service reads only its own SSM parameters, under {own_path}"
            )
    deployment = _deployment(section.section("deployment", default={}))
    statements = section.get("task_role_statements", list, default=[])
    statements = [_task_role_statement(s, f"{section.where('task_role_statements')}[{i}]", environment)
                  for i, s in enumerate(statements)]

    service = Service(
        name=name,
        file=str(path),
        image=section.get("image", str, check=IMAGE.match, explain="REPOSITORY[:TAG][@sha256:DIGEST]"),
        port=section.get("port", int, check=between(1, 65535)),
        host=section.get("host", str, check=HOST_NAME.match, explain="a lowercase DNS name"),
        cpu=cpu,
        memory=memory,
        desired_count=desired,
        health_check_path=section.get("health_check_path", str, default="/health",
                                      check=re.compile(r"^/[\w./~%-]{0,1023}$").match),
        min_count=min_count,
        max_count=max_count,
        cpu_target=cpu_target,
        environment=dict(env_values),
        secrets=dict(secrets),
        task_role_statements=statements,
        log_retention_days=section.get("log_retention_days", int, default=environment.log_retention_days,
                                       check=LOG_RETENTION_DAYS.__contains__),
        priority=section.get("priority", int, default=None, check=between(MIN_PRIORITY, MAX_PRIORITY),
                             explain=f"pin {MIN_PRIORITY} to {MAX_PRIORITY}; automatic priorities start at 1000"),
        alb=section.get("alb", str, default=environment.albs[0], check=environment.albs.__contains__,
                        explain=f"one of the environment's albs {list(environment.albs)}"),
        deployment=deployment,
        local=_local_run(section, environment),
    )
    if not service.host.endswith("." + environment.domain):
        raise ConfigError(f"{section.where('host')}: {service.host!r} is not under the environment's domain {environment.domain}")
    section.finish()
    return service


def _environment_values(section):
    """A service's (or its local run's) `environment:`: names and plain values, no secret."""
    values = section.get("environment", dict, default={})
    for key, value in values.items():
        if not isinstance(key, str) or not ENV_VAR_NAME.match(key):
            raise ConfigError(f"{section.where('environment')}: invalid variable name {key!r}")
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(f"{section.where('environment')}.{key}: a value is a string or a number")
        if SECRET_LIKE_NAME.search(key) and not key.endswith("_PARAMETER"):
            raise ConfigError(
                f"{section.where('environment')}.{key}: looks like a secret: put it in SSM and list it under "
                "service.secrets, never as a plain environment value"
            )
    return values


def _local_run(section, environment):
    """The `local:` section: a command (argv), a working folder inside the project, extra
    environment; only the local environment runs tasks as processes."""
    if "local" not in section.data:
        return None
    if environment.name != names.LOCAL_ENVIRONMENT:
        raise ConfigError(f"{section.where('local')}: only the {names.LOCAL_ENVIRONMENT} environment runs tasks "
                          "as local processes; AWS runs the image")
    local = section.section("local")
    command = local.get("command", list, check=lambda argv: bool(argv) and all(isinstance(a, str) and a for a in argv),
                        explain="a non-empty list of strings (argv), such as [python3, app.py]")
    folder = local.get("working_directory", str, default=".",
                       check=lambda path: not Path(path).is_absolute() and ".." not in Path(path).parts,
                       explain="a folder inside the project, relative to it")
    run = LocalRun(command=tuple(command), working_directory=folder, environment=dict(_environment_values(local)))
    local.finish()
    return run


def _check_across_services(environment):
    seen_hosts, seen_priorities, seen_databases = {}, {}, {}
    for service in environment.services.values():
        if service.database in seen_databases:
            raise ConfigError(
                f"{service.file}: service.name: {service.name!r} gets the PostgreSQL role and database "
                f"{service.database!r} ('-' becomes '_'), already those of {seen_databases[service.database]}"
            )
        seen_databases[service.database] = service.file
        if service.host in seen_hosts:
            raise ConfigError(
                f"{service.file}: service.host: {service.host!r} is already used by {seen_hosts[service.host]}"
            )
        seen_hosts[service.host] = service.file
        if service.priority is not None:
            key = (service.alb, service.priority)
            if key in seen_priorities:
                raise ConfigError(
                    f"{service.file}: service.priority: {service.priority} is already pinned by {seen_priorities[key]}"
                )
            seen_priorities[key] = service.file
    if environment.network.existing is None and environment.network.nat_gateways == 0:
        for service in environment.services.values():
            if not PRIVATE_ECR_IMAGE.match(service.image):
                raise ConfigError(
                    f"{service.file}: service.image: without a NAT gateway the tasks reach only the account's "
                    f"own ECR (through the VPC endpoints), not {service.image.split('/')[0]}"
                )
    for alb in environment.albs:
        count = len(environment.services_on(alb))
        if count > MAX_SERVICES_PER_ALB:
            raise ConfigError(
                f"{environment.file}: environment.albs: {count} services on ALB {alb!r}, "
                f"more than its {MAX_SERVICES_PER_ALB} target groups: add an ALB and set service.alb"
            )


def load_environment(project_path, env_name):
    """The validated Environment `env_name` of the project at `project_path`."""
    return _load_environment(str(Path(project_path).resolve()), env_name)


@functools.lru_cache(maxsize=16)
def _load_environment(project_path, env_name):
    env_dir = Path(project_path) / "config" / env_name
    config_file = env_dir / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"{config_file}: no such environment")
    project_region = read_yaml(Path(project_path) / "config" / "config.yaml").get("region")
    environment = _environment(config_file, env_name, project_region)
    services_dir = env_dir / "services"
    for folder in sorted(services_dir.iterdir()) if services_dir.is_dir() else []:
        if folder.is_dir():
            service_file = folder / "config.yaml"
            if not service_file.is_file():
                raise ConfigError(f"{service_file}: missing: every services/<name>/ folder needs a config.yaml")
            environment.services[folder.name] = _service(service_file, folder.name, environment)
    _check_across_services(environment)
    return environment
