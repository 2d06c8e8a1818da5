"""`fargate-platform logs ENV SERVICE`: a service's log lines from CloudWatch Logs.

    fargate-platform logs local order                 # the last 10 minutes
    fargate-platform logs dev order --since 2h
    fargate-platform logs dev order --follow          # then new lines as they come (Ctrl-C)

The same for every environment: the service stack's log group (its output LogGroupName),
read with the environment's profile, region and sceptre_role from its Sceptre config, as
`sceptre launch` reads them. Lines come as CloudWatch Logs serves them: what the log
group's data protection policy names is masked. Each line: time (UTC), stream, message.
"""
import datetime
import re
import sys
import time

from fargate_platform import names, sceptre_stacks
from fargate_platform.errors import PlatformError

OUTPUT_KEY = "LogGroupName"
FOLLOW_POLL_SECONDS = 2.0
_SINCE = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LogsError(PlatformError):
    """The logs cannot be read as asked: the message says why."""


def add_parser(subparsers):
    parser = subparsers.add_parser("logs", help="print a service's log lines (masked as CloudWatch Logs serves them)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", help="the environment (a stack group under config/), e.g. local")
    parser.add_argument("service", help="the service")
    parser.add_argument("--since", default="10m", help="how far back: 30s, 10m, 2h, 1d (default 10m)")
    parser.add_argument("--follow", action="store_true", help="keep printing new lines until interrupted")
    parser.add_argument("--project-path", default=".", help="the Sceptre project root (default: .)")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="a Sceptre user variable")
    parser.set_defaults(func=run)
    return parser


def since_millis(text, now):
    """The epoch milliseconds `text` ("10m") before `now` (seconds)."""
    found = _SINCE.match(text or "")
    if not found:
        raise LogsError(f"--since {text!r}: give a number and a unit, such as 30s, 10m, 2h or 1d")
    return int((now - int(found.group(1)) * _UNIT_SECONDS[found.group(2)]) * 1000)


def line_of(event):
    at = datetime.datetime.fromtimestamp(event["timestamp"] / 1000, datetime.timezone.utc)
    return f"{at.isoformat(timespec='milliseconds').replace('+00:00', 'Z')} {event['logStreamName']}  " \
           f"{event['message'].rstrip()}"


def events_since(call, group, start):
    """Every event of `group` from `start` (ms), oldest first, across all its streams."""
    token, found = None, []
    while True:
        request = {"logGroupName": group, "startTime": start, **({"nextToken": token} if token else {})}
        page = call("filter_log_events", request)
        found += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return sorted(found, key=lambda event: (event["timestamp"], event.get("eventId", "")))


def run(args, out=None, sleep=time.sleep, clock=time.time):
    out = out or sys.stdout  # looked up per call: a captured stdout works
    names.validate_environment_name(args.environment)
    names.validate_service_name(args.service)
    start = since_millis(args.since, clock())
    stack = sceptre_stacks.stack_of(args.project_path, f"{args.environment}/services/{args.service}/service.yaml",
                                    sceptre_stacks.parse_variables(args.var, LogsError))
    group = sceptre_stacks.outputs_of(stack).get(OUTPUT_KEY)
    if group is None:
        raise LogsError(f"the stack {stack.external_name} has no output {OUTPUT_KEY}: launch it again")

    def call(command, kwargs):
        return stack.connection_manager.call("logs", command, kwargs)

    seen = set()
    try:
        while True:
            for event in events_since(call, group, start):
                key = event.get("eventId") or (event["logStreamName"], event["timestamp"], event["message"])
                if key not in seen:
                    seen.add(key)
                    print(line_of(event), file=out, flush=True)
                start = max(start, event["timestamp"])
            if not args.follow:
                return 0
            sleep(FOLLOW_POLL_SECONDS)
    except KeyboardInterrupt:
        return 0
