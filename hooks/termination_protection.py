"""`!termination_protection` (after_launch): turns on CloudFormation termination
protection for the stack, so it cannot be deleted until someone turns it off.

Sceptre has no setting for it (its `protect` blocks updates too), hence this hook.
`!termination_protection false` turns it off again.
"""
from sceptre.exceptions import InvalidHookArgumentValueError
from sceptre.hooks import Hook

from fargate_platform.sceptre_errors import sceptre_errors


def protection_wanted(argument):
    """True for a bare tag (empty argument) or `true`, False for `false`."""
    # Identity, not equality: 1 == True, and 1 is not a valid argument.
    if argument is None or argument is True or argument in ("", "true"):
        return True
    if argument is False or argument == "false":
        return False
    raise InvalidHookArgumentValueError(
        f"!termination_protection takes no argument, true or false; got {argument!r}"
    )


class TerminationProtection(Hook):
    @sceptre_errors
    def run(self):
        enabled = protection_wanted(self.argument)
        self.stack.connection_manager.call(
            service="cloudformation",
            command="update_termination_protection",
            kwargs={"EnableTerminationProtection": enabled, "StackName": self.stack.external_name},
        )
        self.logger.info(f"{self.stack.name}: termination protection {'on' if enabled else 'off'}")
