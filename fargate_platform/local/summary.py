"""What `local up` prints at the end: per service its host, database, SSM names and a psql
line that works as printed (never a password), and what works in a new shell."""
import os
import sys
from pathlib import Path

from fargate_platform import names
from fargate_platform.names import PROJECT_CODE
from fargate_platform.local.aws_profile import DUMMY_KEY, PROFILE

ENVIRONMENT = "local"
UP_COMMAND = "bash scripts/local.sh up"


def aws_client(service, endpoint_url, region):
    import boto3

    return boto3.session.Session(
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region,
    ).client(service, endpoint_url=endpoint_url)


def summary_lines(project_dir, endpoint_url, database):
    """What a newcomer needs after `up`: hosts, databases, SSM names, a psql line (no passwords)."""
    from fargate_platform.config import load_environment

    environment = load_environment(project_dir, ENVIRONMENT)
    ssm = aws_client("ssm", endpoint_url, environment.region)
    root = names.parameter_root(PROJECT_CODE, ENVIRONMENT)
    command = _command_name()
    lines = [f"Local platform: AWS emulator {endpoint_url} (profile {PROFILE}), "
             f"PostgreSQL 127.0.0.1:{database['port']}"]
    fronts = alb_fronts(endpoint_url, environment)
    for name, service in sorted(environment.services.items()):
        username_parameter = names.db_username_parameter(root, name)
        password_parameter = names.db_password_parameter(root, name)
        try:
            username = ssm.get_parameter(Name=username_parameter,
                                         WithDecryption=True)["Parameter"]["Value"]
        except Exception:  # noqa: BLE001 - not created (yet): say so instead of failing
            username = None
        lines += [
            "",
            f"{name}",
            f"  url host:  {service.host}",
            f"  database:  {service.database}",
            f"  ssm:       {username_parameter}",
            f"             {password_parameter}",
        ]
        front = fronts.get(service.alb)
        lines.append(f"  curl:      curl -H 'Host: {service.host}' http://127.0.0.1:{front}/" if front
                     else "  curl:      (its load balancer is not served yet: the cluster's launch did not finish)")
        if username:
            lines.append(
                f'  psql:      PGPASSWORD="$({command} local password {name})" psql '
                f'"host=127.0.0.1 port={database["port"]} dbname={service.database} '
                f'user={username} sslmode=verify-full sslrootcert={database["ca_cert_path"]}"')
        else:
            lines.append("  psql:      (no credentials yet: the service's launch did not finish)")
    example = min(environment.services, default="order")
    lines += [
        "",
        f"In a new shell, from {project_dir}: `. {_in_venv('activate')}` puts sceptre and "
        "fargate-platform on PATH, then e.g.",
        f"  sceptre launch {ENVIRONMENT}/services/{example}     sceptre status {ENVIRONMENT}",
        f"  fargate-platform local status     {UP_COMMAND.replace(' up', ' down')}  (stops it all)",
    ]
    return lines


def alb_fronts(endpoint_url, environment):
    """{ALB name in the config: the local port its listener is served on} (the emulator's
    ALB front, matched through the cluster stack's <Alb>ListenerArn outputs)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint_url}/_fargate_platform/listeners", timeout=10) as response:
            served = {item["listener_arn"]: item["local_port"] for item in json.loads(response.read())["listeners"]}
        stacks = aws_client("cloudformation", endpoint_url, environment.region).describe_stacks(
            StackName=f"{PROJECT_CODE}-{ENVIRONMENT}-cluster")["Stacks"]
    except Exception:  # noqa: BLE001 - not launched (yet): the summary says so per service
        return {}
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    return {alb: served.get(outputs.get(f"{names.alb_output_prefix(alb)}ListenerArn")) for alb in environment.albs}


def _in_venv(program):
    """`program` of this virtualenv, as a path relative to the current folder if it can be."""
    script = Path(sys.executable).with_name(program)
    if not script.exists():
        return program
    try:
        return os.path.relpath(script)
    except ValueError:
        return str(script)


def _command_name():
    return _in_venv("fargate-platform")
