"""`fargate-platform status ENV`: each service of an environment at a glance.

    fargate-platform status dev
    order      UPDATE_COMPLETE   tasks 2/2   targets healthy 2   https://order.dev.example.com
    inventory  not launched

Per service folder under config/ENV/services/: its stack's state, its ECS service's running
and desired task counts, the health of its target group's targets, and its URL (on the
local platform, the curl line through the local ALB). Read with the environment's profile,
region and sceptre_role from its Sceptre config, as `sceptre launch` reads them.
"""
import sys
from collections import Counter
from pathlib import Path

from fargate_platform import names, sceptre_stacks
from fargate_platform.errors import PlatformError


class StatusError(PlatformError):
    """The status cannot be read as asked: the message says why."""


def add_parser(subparsers):
    parser = subparsers.add_parser("status", help="each service of an environment: stack, tasks, targets, URL",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", help="the environment (a stack group under config/), e.g. dev")
    parser.add_argument("--project-path", default=".", help="the Sceptre project root (default: .)")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="a Sceptre user variable")
    parser.set_defaults(func=run)
    return parser


def services_of(project_path, environment):
    folder = Path(project_path) / "config" / environment / "services"
    if not folder.is_dir():
        raise StatusError(f"no environment {environment!r}: {folder} is not a folder")
    return sorted(path.parent.name for path in folder.glob("*/service.yaml"))


def service_status(stack, url_of):
    """One line: the stack's state, tasks running/desired, targets by health, URL."""
    try:
        description = sceptre_stacks.deployed(stack)
    except sceptre_stacks.StackNotFound:
        return "not launched"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    parts = [description["StackStatus"]]
    cluster = sceptre_stacks.parameters_of(description).get("ClusterName")
    if cluster and outputs.get("ServiceName"):
        found = stack.connection_manager.call("ecs", "describe_services",
                                              {"cluster": cluster, "services": [outputs["ServiceName"]]})["services"]
        if found:
            parts.append(f"tasks {found[0].get('runningCount', 0)}/{found[0].get('desiredCount', 0)}")
    if outputs.get("TargetGroupArn"):
        health = stack.connection_manager.call("elbv2", "describe_target_health",
                                               {"TargetGroupArn": outputs["TargetGroupArn"]})
        states = Counter(t["TargetHealth"]["State"] for t in health.get("TargetHealthDescriptions", []))
        parts.append("targets " + (", ".join(f"{state} {count}" for state, count in sorted(states.items()))
                                   or "none"))
    if outputs.get("Host"):
        parts.append(url_of(outputs["Host"]))
    return "   ".join(parts)


def default_url_of(project_path, environment):
    """host -> URL: https where the environment's ALBs have a certificate, else http; on the
    local platform, the curl line through the local ALB that serves the host's listener."""
    from fargate_platform import config

    settings = config.load_environment(project_path, environment)
    if environment == names.LOCAL_ENVIRONMENT:
        return local_url_of(project_path, settings)
    scheme = "https" if settings.certificate_arn else "http"
    return lambda host: f"{scheme}://{host}/"


def local_url_of(project_path, settings):
    from fargate_platform.local.processes import LocalPlatform
    from fargate_platform.local.summary import alb_fronts

    fronts = alb_fronts(LocalPlatform(project_path).endpoint_url, settings)
    ports = {service.host: fronts.get(service.alb) for service in settings.services.values()}

    def url_of(host):
        port = ports.get(host)
        return f"curl -H 'Host: {host}' http://127.0.0.1:{port}/" if port else f"http://{host}/ (not served locally)"
    return url_of


def run(args, out=None, url_of=None):
    out = out or sys.stdout
    names.validate_environment_name(args.environment)
    services = services_of(args.project_path, args.environment)
    if not services:
        print(f"{args.environment}: no service", file=out)
        return 0
    variables = sceptre_stacks.parse_variables(args.var, StatusError)
    url_of = url_of or default_url_of(args.project_path, args.environment)
    width = max(len(service) for service in services)
    for service in services:
        stack = sceptre_stacks.stack_of(args.project_path, f"{args.environment}/services/{service}/service.yaml",
                                        variables)
        print(f"{service:<{width}}  {service_status(stack, url_of)}", file=out, flush=True)
    return 0
