"""`fargate-platform local up|down|status|password`: the whole platform on this machine.

    fargate-platform local up        # emulator + PostgreSQL, AWS profile, `sceptre launch local -y`
    fargate-platform local status    # what runs, where, and the local stacks' states
    fargate-platform local password SERVICE   # one service's database password (for psql)
    fargate-platform local down      # stop everything, remove .local/ and the profile

`up` is safe to run again: a running emulator (and its PostgreSQL server) is reused, a
stopped PostgreSQL server is started again, and Sceptre launches only what changed. A
failed `up` stops what it started itself. The processes are local/processes.py's, the
profile local/aws_profile.py's, the closing summary local/summary.py's.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

from fargate_platform import names
from fargate_platform.local.aws_profile import (
    PROFILE,
    aws_files,
    profile_endpoint,
    remove_profile,
    write_profile,
)
from fargate_platform.local.processes import (
    DEFAULT_PORT,
    PORT_VARIABLE,
    LocalError,
    LocalPlatform,
    find_project,
)
from fargate_platform.local.summary import (
    ENVIRONMENT,
    PROJECT_CODE,
    UP_COMMAND,
    aws_client,
    summary_lines,
)


def run_up(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    _step(f"local AWS emulator on {platform.endpoint_url} (state {platform.state_dir})")
    started = platform.start()
    print("    started" if started else "    already running: reused", flush=True)
    try:
        code = _launch(project, platform, args)
    except BaseException as error:
        if started:
            _stop_after_failure(platform)
            if isinstance(error, LocalError):
                raise LocalError(f"{error}; stopped what this run started: fix that, then "
                                 f"run `{UP_COMMAND}` again") from None
        raise
    if code != 0:
        if started:
            _stop_after_failure(platform)
            kept = "stopped the emulator and PostgreSQL this run started"
        else:
            kept = "the emulator keeps running"
        print(f"fargate-platform local: error: sceptre launch {ENVIRONMENT} failed (exit {code}); {kept} "
              f"(log: {platform.log_file}): fix the cause, then run `{UP_COMMAND}` again",
              file=sys.stderr)
    return code


def _stop_after_failure(platform):
    platform.stop()
    if profile_endpoint() == platform.endpoint_url:
        remove_profile()


HEALTHY_BOUND_SECONDS = 180


def wait_for_healthy_targets(endpoint_url, region, bound=HEALTHY_BOUND_SECONDS, sleep=time.sleep):
    """Until every target of the local ALB's target groups passes its health checks (the
    summary's curl lines answer then), at most `bound` seconds; what happened, one line."""
    from fargate_platform.local.summary import aws_client

    elb, started = aws_client("elbv2", endpoint_url, region), time.monotonic()
    while True:
        states = {}
        for group in elb.describe_target_groups().get("TargetGroups", []):
            for target in elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]:
                states[f"{group['TargetGroupName']} {target['Target']['Id']}"] = target["TargetHealth"]["State"]
        waiting = {name: state for name, state in states.items() if state != "healthy"}
        seconds = time.monotonic() - started
        if not waiting:
            return f"{len(states)} target(s) healthy after {seconds:.0f} s"
        if seconds >= bound:
            return (f"not healthy after {bound} s: " + ", ".join(f"{n} {s}" for n, s in sorted(waiting.items()))
                    + " (see `fargate-platform logs local SERVICE`)")
        sleep(2)


def _launch(project, platform, args):
    """PostgreSQL, the AWS profile, `sceptre launch local -y` and the summary; the exit code."""
    database = platform.ensure_database()
    print(f"    PostgreSQL on 127.0.0.1:{database['port']}, CA {database['ca_cert_path']}",
          flush=True)
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    write_profile(platform.endpoint_url, region)
    print(f"    AWS profile {PROFILE} written ({aws_files()[0].path})", flush=True)
    if args.no_launch:
        return 0
    _step(f"sceptre launch {ENVIRONMENT} -y")
    sceptre = Path(sys.executable).with_name("sceptre")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("AWS_ENDPOINT_URL") and key not in ("AWS_PROFILE",
                                                                      "AWS_DEFAULT_PROFILE")}
    env["AWS_ENDPOINT_URL"] = platform.endpoint_url
    result = subprocess.run([str(sceptre if sceptre.exists() else "sceptre"), "launch",
                             ENVIRONMENT, "-y"], cwd=project, env=env)
    if result.returncode != 0:
        return result.returncode
    _step("the services' health checks")
    print(f"    {wait_for_healthy_targets(platform.endpoint_url, region)}", flush=True)
    _step("summary")
    print("\n".join(summary_lines(project, platform.endpoint_url, database)), flush=True)
    return 0


def run_down(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    stopped = platform.remove()
    remove_profile()
    print(("stopped the local platform; " if stopped else "nothing was running; ")
          + f"removed {platform.state_dir}, PostgreSQL's data and the AWS profile {PROFILE}")
    return 0


def run_status(args):
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    record = platform.running()
    if not record:
        print(f"local platform: not running (state {platform.state_dir}"
              f"{'' if platform.state_dir.exists() else ', absent'})")
        return 3
    database = platform.request("postgres")
    print(f"emulator:   {platform.endpoint_url} (pid {record['pid']}, log {platform.log_file})")
    print(f"postgresql: {'running' if database.get('running') else 'STOPPED'} on "
          f"127.0.0.1:{database.get('port')}, CA {database.get('ca_cert_path')}")
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    cfn = aws_client("cloudformation", platform.endpoint_url, region)
    prefix = f"{PROJECT_CODE}-{ENVIRONMENT}-"
    stacks = [s for page in cfn.get_paginator("describe_stacks").paginate()
              for s in page["Stacks"] if s["StackName"].startswith(prefix)]
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        print(f"  {stack['StackName']:<55} {stack['StackStatus']}")
    if not stacks:
        print("  no stacks launched")
    return 0 if database.get("running") else 1


def run_password(args):
    """Prints one service's database password from the emulator's SSM (for PGPASSWORD)."""
    service = names.validate_service_name(args.service)
    project = find_project(args.project_dir)
    platform = LocalPlatform(project, args.port)
    if not platform.running():
        raise LocalError("the local platform is not running: `bash scripts/local.sh up` first")
    from fargate_platform.config import load_environment

    region = load_environment(project, ENVIRONMENT).region
    parameter = names.db_password_parameter(names.parameter_root(PROJECT_CODE, ENVIRONMENT),
                                            service)
    ssm = aws_client("ssm", platform.endpoint_url, region)
    try:
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise LocalError(f"no password for service {service!r} ({parameter} is missing)") from None
    sys.stdout.write(value + "\n")
    return 0


def _step(text):
    print(f"\n==> {text}", flush=True)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "local", help="run the whole platform on this machine (emulator + PostgreSQL)",
        description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)

    def common(sub):
        sub.add_argument("--project-dir", default=None,
                         help="the Sceptre project root (default: found from the current folder)")
        sub.add_argument("--port", type=int, default=None,
                         help=f"emulator port (default ${PORT_VARIABLE} or {DEFAULT_PORT})")
        return sub

    up = common(actions.add_parser(
        "up", help="start the emulator and PostgreSQL, write the AWS profile, launch `local`"))
    up.add_argument("--no-launch", action="store_true",
                    help="start everything but do not run `sceptre launch local`")
    up.set_defaults(func=run_up)
    common(actions.add_parser("down", help="stop everything and remove .local/ and the profile")
           ).set_defaults(func=run_down)
    common(actions.add_parser("status", help="what runs, and the local stacks' states")
           ).set_defaults(func=run_status)
    password = common(actions.add_parser(
        "password", help="print a service's database password (for PGPASSWORD=$(...))"))
    password.add_argument("service")
    password.set_defaults(func=run_password)
    return parser
