"""`fargate-platform purge ENV SERVICE`: permanently drop one service's data.

Deleting a service stack only disables its database role (the `!db_bootstrap`
hook's `disable`); its database and credentials stay. This command is the one
way to remove them: it asks the environment's bootstrap function (the rds stack
output BootstrapFunctionName) to purge the service, with the service name as
confirmation, which the function checks again.

    fargate-platform purge dev orders                  # asks you to type "orders"
    fargate-platform purge dev orders --confirm orders # non-interactive (CI, scripts)

Run it from the Sceptre project root (or give --project-path). The environment's
profile, region and sceptre_role come from its Sceptre config, as for
`sceptre launch`; pass `--var KEY=VALUE` if that config needs variables.
Prints the function's result (never a password).
"""
import json
import sys

from fargate_platform import names, sceptre_stacks
from fargate_platform.errors import PlatformError

OUTPUT_KEY = "BootstrapFunctionName"


class PurgeError(PlatformError):
    """Purge cannot go ahead: the message says why."""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "purge",
        help="permanently drop a service's database, role and credentials",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("environment", help="the environment (a stack group under config/), e.g. dev")
    parser.add_argument("service", help="the service whose data to drop")
    parser.add_argument(
        "--confirm", metavar="SERVICE", help="the service name again, instead of typing it when asked"
    )
    parser.add_argument("--project-path", default=".", help="the Sceptre project root (default: .)")
    parser.add_argument(
        "--var", action="append", default=[], metavar="KEY=VALUE", help="a Sceptre user variable"
    )
    parser.set_defaults(func=run)
    return parser


def rds_stack(project_path, environment, variables):
    """The environment's rds Stack, read from its Sceptre config like `sceptre launch` would."""
    return sceptre_stacks.stack_of(project_path, f"{environment}/rds.yaml", variables)


def bootstrap_function_name(stack):
    outputs = sceptre_stacks.outputs_of(stack)
    if OUTPUT_KEY not in outputs:
        raise PurgeError(f"the stack {stack.external_name} has no output {OUTPUT_KEY}")
    return outputs[OUTPUT_KEY]


def confirmed(service, confirm, ask):
    """True if the operator named the service; `ask(prompt)` reads an answer when --confirm is absent."""
    if confirm is None:
        try:
            confirm = ask(f"Type the service name ({service}) to drop its database, role and credentials: ")
        except EOFError:
            return False
    return confirm.strip() == service


def purge(stack, service):
    """Invoke the bootstrap function with action purge; returns its result."""
    from fargate_platform.bootstrap_client import run_function

    function = bootstrap_function_name(stack)
    connection_manager = stack.connection_manager

    def call(command, kwargs):
        return connection_manager.call("lambda", command, kwargs)

    payload = {"service": service, "action": "purge", "confirm": service}
    return run_function(connection_manager.get_session(), call, function, payload)


def _ask(prompt):
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def run(args, ask=_ask):
    from fargate_platform.bootstrap_client import describe_result, safe_result

    names.validate_environment_name(args.environment)
    names.validate_service_name(args.service)
    stack = rds_stack(args.project_path, args.environment, sceptre_stacks.parse_variables(args.var, PurgeError))
    if not confirmed(args.service, args.confirm, ask):
        print("fargate-platform purge: not confirmed; nothing was done", file=sys.stderr)
        return 2
    result = purge(stack, args.service)
    print(f"purged in {stack.external_name}: {describe_result(result)}", file=sys.stderr)
    print(json.dumps(safe_result(result), indent=2, sort_keys=True))
    return 0
