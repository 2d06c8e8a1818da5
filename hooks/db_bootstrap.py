"""`!db_bootstrap`: run the rds stack's bootstrap function for one service.

    hooks:
      before_create:
        - !db_bootstrap {function: !stack_output dev/rds.yaml::BootstrapFunctionName, service: orders}
      before_update:
        - !db_bootstrap {function: !stack_output dev/rds.yaml::BootstrapFunctionName, service: orders}
      after_delete:
        - !db_bootstrap {function: !stack_output dev/rds.yaml::BootstrapFunctionName, service: orders, action: disable}

Ensure runs before create and update, not before launch: `sceptre launch` of a stack
left in ROLLBACK_COMPLETE first deletes it (firing after_delete, so disable) and then
creates it, and ensure must come last. Disable does nothing while the stack still
exists (a delete that failed leaves the service running).

Arguments: `function` (name or ARN of the bootstrap function), `service` (a valid
service name) and `action` (`ensure`, the default, or `disable`). Purging is not a
hook action: it is the explicit `fargate-platform purge` command.

The function runs through fargate_platform.bootstrap_client (exactly once, with a read
timeout longer than the function's, woken first if it went Inactive); on success the hook
logs what was done (role created / already present / disabled, the database, the SSM
parameter names), never a password.
"""
from botocore.exceptions import ClientError
from sceptre.exceptions import InvalidHookArgumentTypeError, InvalidHookArgumentValueError
from sceptre.hooks import Hook

from fargate_platform import names
from fargate_platform.bootstrap_client import DbBootstrapError, describe_result, run_function
from fargate_platform.sceptre_errors import sceptre_errors

HOOK_ACTIONS = ("ensure", "disable")
ARGUMENT_KEYS = {"function", "service", "action"}


def parse_argument(argument):
    """(function, service, action) from the hook's argument, or a Sceptre argument error."""
    usage = "{function: NAME_OR_ARN, service: NAME[, action: ensure|disable]}"
    if not isinstance(argument, dict):
        raise InvalidHookArgumentTypeError(
            f"A db_bootstrap hook requires a mapping {usage}. You gave `{argument!r}`."
        )
    unknown = sorted(set(argument) - ARGUMENT_KEYS)
    if unknown:
        raise InvalidHookArgumentTypeError(
            f"A db_bootstrap hook does not take `{', '.join(unknown)}`; it takes {usage}."
        )
    function = argument.get("function")
    if not isinstance(function, str) or not function.strip():
        raise InvalidHookArgumentTypeError(
            f"A db_bootstrap hook requires a `function` key with a non-empty string. You gave `{function!r}`."
        )
    service = argument.get("service")
    try:
        names.validate_service_name(service)
    except names.InvalidNameError as error:
        raise InvalidHookArgumentValueError(f"A db_bootstrap hook `service` key: {error}.") from None
    action = argument.get("action", "ensure")
    if action not in HOOK_ACTIONS:
        raise InvalidHookArgumentValueError(
            f"A db_bootstrap hook `action` key must be one of {', '.join(HOOK_ACTIONS)}. You gave `{action!r}`."
        )
    return function.strip(), service, action


def stack_exists(stack):
    """Whether CloudFormation still has the stack (a failed delete leaves it)."""
    try:
        stacks = stack.connection_manager.call(
            "cloudformation", "describe_stacks", {"StackName": stack.external_name}
        )["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            return False
        raise
    return any(s.get("StackStatus") != "DELETE_COMPLETE" for s in stacks)


class DbBootstrap(Hook):
    """Creates (ensure) or disables (disable) one service's database role through the bootstrap function."""

    @sceptre_errors
    def run(self):
        function, service, action = parse_argument(self.argument)
        if action == "ensure":
            # Render the stack's template first (Sceptre keeps it for the launch): a bad
            # configuration then fails here, before any database or credential is made.
            self.stack.template.body
        connection_manager = self.stack.connection_manager

        def call(command, kwargs):
            return connection_manager.call("lambda", command, kwargs)

        if action == "disable" and stack_exists(self.stack):
            self.logger.info(f"db_bootstrap disable skipped: {self.stack.external_name} still exists")
            return None
        try:
            result = run_function(
                connection_manager.get_session(), call, function, {"service": service, "action": action}
            )
        except DbBootstrapError as error:
            raise DbBootstrapError(f"{self.stack.name} - db_bootstrap: {error}") from None
        self.logger.info(f"db_bootstrap {action}: {describe_result(result)}")
        return result
