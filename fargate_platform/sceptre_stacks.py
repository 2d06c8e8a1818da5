"""One stack of the project, as `sceptre launch` reads it (the environment's profile, region
and sceptre_role from its config), for the `fargate-platform` commands that are not a
launch, and the outputs of its deployed stack."""
from fargate_platform.errors import PlatformError


class StackNotFound(PlatformError):
    """The stack file or the deployed stack is missing: the message names it."""


def parse_variables(pairs, error=StackNotFound):
    """{KEY: VALUE} from --var KEY=VALUE arguments."""
    variables = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise error(f"--var must be KEY=VALUE; got {pair!r}")
        variables[key] = value
    return variables


def stack_of(project_path, command_path, variables):
    from sceptre.context import SceptreContext
    from sceptre.plan.plan import SceptrePlan

    context = SceptreContext(project_path=project_path, command_path=command_path, user_variables=variables,
                             ignore_dependencies=True)
    stacks = list(SceptrePlan(context).command_stacks)
    if len(stacks) != 1:
        raise StackNotFound(f"expected one stack at {command_path}, found {len(stacks)}")
    return stacks[0]


def deployed(stack):
    """The deployed stack as DescribeStacks gives it (StackStatus, Parameters, Outputs)."""
    from botocore.exceptions import ClientError

    try:
        response = stack.connection_manager.call("cloudformation", "describe_stacks",
                                                 {"StackName": stack.external_name})
    except ClientError as error:
        if "does not exist" in error.response.get("Error", {}).get("Message", ""):
            raise StackNotFound(f"the stack {stack.external_name} does not exist in {stack.region}") from None
        raise
    return response["Stacks"][0]


def outputs_of(stack):
    """{OutputKey: OutputValue} of the deployed stack."""
    return {item["OutputKey"]: item["OutputValue"] for item in deployed(stack).get("Outputs", [])}


def parameters_of(description):
    return {item["ParameterKey"]: item.get("ParameterValue") for item in description.get("Parameters", [])}
