"""Bad configuration is refused before anything is generated, naming the file and the key."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fargate_platform import config, config_model

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    shutil.copytree(PROJECT / "config", tmp_path / "config")
    return tmp_path


def edit(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def env_file(project, env="dev"):
    return project / "config" / env / "config.yaml"


def service_file(project, service="order", env="dev"):
    return project / "config" / env / "services" / service / "config.yaml"


def add_service(project, name, env="dev", **settings):
    folder = project / "config" / env / "services" / name
    folder.mkdir()
    domain = "dev.example.com"
    body = {"name": name, "image": "nginx:1.27", "port": 8080, "host": f"{name}.{domain}", **settings}
    (folder / "config.yaml").write_text(yaml.safe_dump({"service": body}))
    return folder / "config.yaml"


def test_the_shipped_environments_are_valid():
    for env in ("local", "dev", "prod"):
        environment = config.load_environment(PROJECT, env)
        assert set(environment.services) == {"order", "inventory"}
        assert environment.parameter_root == f"/fargate-platform/{env}"


def test_defaults_are_filled_in(project):
    add_service(project, "billing")
    billing = config.load_environment(project, "dev").services["billing"]
    assert (billing.cpu, billing.memory, billing.desired_count, billing.alb) == (256, 512, 1, "main")
    assert (billing.min_count, billing.max_count, billing.health_check_path) == (1, 2, "/health")
    assert billing.database == "billing"
    assert billing.deployment == config_model.Deployment(
        health_check_interval=10, health_check_timeout=5, healthy_threshold=2, unhealthy_threshold=3,
        grace_period=30, deregistration_delay=30, stop_timeout=10)


def test_deployment_settings_override_the_defaults_one_by_one(project):
    add_service(project, "billing", deployment={"deregistration_delay": 5, "grace_period": 90})
    deployment = config.load_environment(project, "dev").services["billing"].deployment
    assert (deployment.deregistration_delay, deployment.grace_period) == (5, 90)
    assert deployment.health_check_interval == 10  # the rest keep their defaults


BAD_ENVIRONMENTS = [
    ("unknown key", lambda d: d["environment"].update(colour="blue"), "environment.colour: unknown key"),
    ("name differs from folder", lambda d: d["environment"].update(name="prod"), "environment.name: 'prod' does not match"),
    ("no way out", lambda d: d["environment"]["network"].update(nat_gateways=0, interface_endpoints=False),
     "environment.network.nat_gateways: private subnets need a way out"),
    ("bad cidr", lambda d: d["environment"]["network"].update(cidr="10.0.0.0/8"), "environment.network.cidr: invalid value"),
    ("engine version", lambda d: d["environment"]["database"].update(engine_version="11.9"),
     "environment.database.engine_version: invalid value"),
    ("unknown database key", lambda d: d["environment"]["database"].update(size="big"),
     "environment.database.size: unknown key"),
    ("string for bool", lambda d: d["environment"].update(deletion_protection="yes"),
     "environment.deletion_protection: expected bool"),
    ("retention", lambda d: d["environment"].update(log_retention_days=10),
     "environment.log_retention_days: invalid value 10"),
    ("certificate", lambda d: d["environment"].update(certificate_arn="arn:aws:iam::1:cert"),
     "environment.certificate_arn: invalid value"),
    ("certificate of another region", lambda d: d["environment"].update(
        certificate_arn="arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"),
     "environment.certificate_arn: the certificate is in us-east-1; a load balancer in eu-west-1 needs one"),
    ("local functions in AWS", lambda d: d["environment"].update(lambda_target="local"),
     "environment.lambda_target: 'local' builds the functions for this machine's Python"),
    ("reserved admin", lambda d: d["environment"]["database"].update(admin_username="rdsadmin"),
     "environment.database.admin_username: invalid value 'rdsadmin'"),
    ("existing vpc without subnets", lambda d: d["environment"]["network"].update(existing={"vpc_id": "vpc-0123456789abcdef0"}),
     "environment.network.existing.public_subnet_ids: required key is missing"),
]


@pytest.mark.parametrize("case, change, message", BAD_ENVIRONMENTS, ids=[c[0] for c in BAD_ENVIRONMENTS])
def test_bad_environment_settings(project, case, change, message):
    edit(env_file(project), change)
    with pytest.raises(config_model.ConfigError) as error:
        config.load_environment(project, "dev")
    assert str(error.value).startswith(str(env_file(project)) + ": ")
    assert message in str(error.value)


def _statements(*statements):
    return lambda s: s.update(task_role_statements=[
        {"Effect": "Allow", "Action": action, "Resource": resource, **extra} for action, resource, extra in statements])


BAD_SERVICES = [
    ("passing roles", _statements(("iam:PassRole", "*", {})),
     "service.task_role_statements[0]: it reaches IAM, which the platform denies every service's task role"),
    ("another service's parameters by wildcard",
     _statements(("ssm:GetParameters", "arn:aws:ssm:*:*:parameter/fargate-platform/dev/*", {})),
     "service.task_role_statements[0]: it reaches another service's SSM parameters"),
    ("the admin parameter in this account",
     _statements(("sns:Publish", "arn:aws:sns:eu-west-1:111111111111:t", {}),
                 ("ssm:GetParameter", "arn:aws:ssm:eu-west-1:111111111111:parameter/fargate-platform/dev/rds/*", {})),
     "service.task_role_statements[1]: it reaches the database admin's parameter"),
    ("decrypt anything", _statements(("kms:Decrypt", "*", {})),
     "service.task_role_statements[0]: it reaches decrypting outside the service's own encryption context"),
    ("health check timeout not below interval",
     lambda s: s.update(deployment={"health_check_interval": 5, "health_check_timeout": 5}),
     "service.deployment.health_check_timeout: 5 is not below health_check_interval 5"),
    ("stop timeout past Fargate's", lambda s: s.update(deployment={"stop_timeout": 121}),
     "service.deployment.stop_timeout: invalid value 121: 2 to 120"),
    ("one healthy check", lambda s: s.update(deployment={"healthy_threshold": 1}),
     "service.deployment.healthy_threshold: invalid value 1: 2 to 10"),
    ("deregistration delay as text", lambda s: s.update(deployment={"deregistration_delay": "30s"}),
     "service.deployment.deregistration_delay: expected int, got '30s'"),
    ("unknown deployment key", lambda s: s.update(deployment={"drain": 5}),
     "service.deployment.drain: unknown key"),
    ("uppercase name", lambda s: s.update(name="Order"), "service.name: invalid service name 'Order'"),
    ("sql in name", lambda s: s.update(name="order;drop"), "service.name: invalid service name"),
    ("trailing newline", lambda s: s.update(name="order\n"), "service.name: invalid service name"),
    ("reserved name", lambda s: s.update(name="postgres"), "service.name: invalid service name 'postgres': the name is reserved"),
    ("reserved once underscored", lambda s: s.update(name="pg-stats"), "service.name: invalid service name 'pg-stats': the name is reserved"),
    ("fargate size", lambda s: s.update(cpu=256, memory=4096), "service.memory: Fargate does not run cpu 256 with memory 4096"),
    ("fargate cpu", lambda s: s.update(cpu=300), "service.cpu: invalid value 300"),
    ("missing image", lambda s: s.pop("image"), "service.image: required key is missing"),
    ("port as text", lambda s: s.update(port="http"), "service.port: expected int"),
    ("unknown key", lambda s: s.update(replicas=3), "service.replicas: unknown key"),
    ("host outside domain", lambda s: s.update(host="order.example.org"), "service.host: 'order.example.org' is not under"),
    ("secret as plain value", lambda s: s.update(environment={"API_TOKEN": "abc"}), "service.environment.API_TOKEN: looks like a secret"),
    ("another service's secret", lambda s: s.update(secrets={"KEY": "/fargate-platform/dev/inventory/key"}),
     "service.secrets.KEY: a service reads only its own SSM parameters"),
    ("star on star", lambda s: s.update(task_role_statements=[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
     "service.task_role_statements[0]: a statement may not allow every action"),
    ("unknown alb", lambda s: s.update(alb="other"), "service.alb: invalid value 'other'"),
    ("priority out of range", lambda s: s.update(priority=1000), "service.priority: invalid value 1000"),
    ("scaling bounds", lambda s: s.update(scaling={"min": 5, "max": 2}), "service.scaling.min: 5 is above scaling.max 2"),
    ("a local run outside the local environment", lambda s: s.update(local={"command": ["python3", "app.py"]}),
     "service.local: only the local environment runs tasks as local processes"),
]


@pytest.mark.parametrize("case, change, message", BAD_SERVICES, ids=[c[0] for c in BAD_SERVICES])
def test_bad_service_settings(project, case, change, message):
    edit(service_file(project), lambda d: change(d["service"]))
    with pytest.raises(config_model.ConfigError) as error:
        config.load_environment(project, "dev")
    assert str(error.value).startswith(str(service_file(project)) + ": ")
    assert message in str(error.value)


def test_two_services_with_one_host(project):
    duplicate = add_service(project, "payments", host="order.dev.example.com")
    with pytest.raises(config_model.ConfigError, match=r"service.host: 'order.dev.example.com' is already used by .*order"):
        config.load_environment(project, "dev")
    assert duplicate.exists()


def test_two_services_pinning_one_priority(project):
    edit(service_file(project), lambda d: d["service"].update(priority=10))
    add_service(project, "payments", priority=10)
    with pytest.raises(config_model.ConfigError) as error:
        config.load_environment(project, "dev")
    assert "service.priority: 10 is already pinned by" in str(error.value)


def test_the_same_priority_on_two_albs_is_fine(project):
    edit(env_file(project), lambda d: d["environment"].update(albs=["main", "second"]))
    edit(service_file(project), lambda d: d["service"].update(priority=10))
    add_service(project, "payments", priority=10, alb="second")
    environment = config.load_environment(project, "dev")
    assert [s.name for s in environment.services_on("second")] == ["payments"]


def test_more_than_100_services_on_one_alb(project):
    for index in range(99):
        add_service(project, f"svc{index}")
    with pytest.raises(config_model.ConfigError, match=r"environment.albs: 101 services on ALB 'main', more than its 100"):
        config.load_environment(project, "dev")


def test_a_service_folder_without_config(project):
    (project / "config" / "dev" / "services" / "empty").mkdir()
    with pytest.raises(config_model.ConfigError, match=r"empty/config.yaml: missing"):
        config.load_environment(project, "dev")


def test_sceptre_prints_the_error_alone_and_fails(project):
    shutil.copytree(PROJECT / "templates", project / "templates")
    edit(service_file(project), lambda d: d["service"].update(memory=3000))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("sceptre")), "generate", "dev/network.yaml"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert f"{service_file(project)}: service.memory: Fargate does not run cpu 256 with memory 3000" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_without_nat_every_image_comes_from_the_accounts_ecr(project):
    edit(env_file(project), lambda d: d["environment"]["network"].update(nat_gateways=0, interface_endpoints=True))
    with pytest.raises(config_model.ConfigError, match=r"service.image: without a NAT gateway the tasks reach only the account's own ECR"):
        config.load_environment(project, "dev")
    for service in ("order", "inventory"):
        edit(service_file(project, service), lambda d: d["service"].update(
            image=f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/{service}:1.0"))
    assert config.load_environment(project, "dev").network.nat_gateways == 0


def test_a_long_admin_username_is_fine(project):
    edit(env_file(project), lambda d: d["environment"]["database"].update(admin_username="a" * 63))
    assert config.load_environment(project, "dev").database.admin_username == "a" * 63


def test_an_image_pinned_by_digest_is_accepted(project):
    digest = "public.ecr.aws/nginx/nginx-unprivileged:1.27@sha256:" + "0123456789abcdef" * 4
    edit(service_file(project), lambda d: d["service"].update(image=digest))
    assert config.load_environment(project, "dev").services["order"].image == digest


def test_two_services_that_would_share_a_database(project):
    add_service(project, "order-api")
    add_service(project, "order_api", host="order-api-2.dev.example.com")
    with pytest.raises(config_model.ConfigError, match=r"service.name: 'order_api' gets the PostgreSQL role and database 'order_api' .*order-api"):
        config.load_environment(project, "dev")


def test_a_subnet_both_public_and_private(project):
    both = "subnet-00000000000000001"
    edit(env_file(project), lambda d: d["environment"].update(network={
        "existing": {"vpc_id": "vpc-0123456789abcdef0", "public_subnet_ids": [both, "subnet-00000000000000002"],
                     "private_subnet_ids": [both, "subnet-00000000000000003"]},
        "has_way_out": True}))
    with pytest.raises(config_model.ConfigError, match=rf"environment.network.existing.private_subnet_ids: {both} is also a public subnet"):
        config.load_environment(project, "dev")


def test_task_role_statements_the_platform_does_not_deny_are_accepted(project):
    own = "arn:aws:ssm:*:*:parameter/fargate-platform/dev/order/*"
    edit(service_file(project), lambda d: d["service"].update(task_role_statements=[
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:PARAMETER_ARN": own}}},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::uploads/*",
         "Condition": {"StringLike": {"s3:prefix": "orders/*"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"},  # a Deny asks for nothing
    ]))
    statements = config.load_environment(project, "dev").services["order"].task_role_statements
    assert [s["Effect"] for s in statements] == ["Allow", "Allow", "Deny"]


LOCAL_RUN = {"command": ["python3", "samples/service/app.py"], "environment": {"SERVICE_NAME": "order"}}


@pytest.mark.parametrize("case, local, message", [
    ("no command", {"command": []}, "service.local.command: invalid value []"),
    ("a command as text", {"command": "python3 app.py"}, "service.local.command: expected list"),
    ("outside the project", dict(LOCAL_RUN, working_directory="../elsewhere"), "service.local.working_directory: invalid value"),
    ("an absolute folder", dict(LOCAL_RUN, working_directory="/srv"), "service.local.working_directory: invalid value"),
    ("a secret as plain value", dict(LOCAL_RUN, environment={"DB_PASSWORD": "x"}),
     "service.local.environment.DB_PASSWORD: looks like a secret"),
    ("an unknown key", dict(LOCAL_RUN, image="x"), "service.local.image: unknown key"),
])
def test_bad_local_runs_are_refused(project, case, local, message):
    edit(service_file(project, env="local"), lambda d: d["service"].update(local=local))
    with pytest.raises(config_model.ConfigError) as error:
        config.load_environment(project, "local")
    assert str(error.value).startswith(str(service_file(project, env="local")) + ": ")
    assert message in str(error.value)


def test_the_local_run_is_read_with_its_defaults(project):
    edit(service_file(project, env="local"), lambda d: d["service"].update(local=LOCAL_RUN))
    run = config.load_environment(project, "local").services["order"].local
    assert run == config_model.LocalRun(command=("python3", "samples/service/app.py"), working_directory=".",
                                        environment={"SERVICE_NAME": "order"})
