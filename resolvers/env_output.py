"""`!env_output STACK::KEY` and `!alb_output KEY`: Sceptre's `!stack_output` for a stack of
the stack's own environment, and for the ALB its service joins.

    VpcId: !env_output network.yaml::VpcId          # dev/network.yaml::VpcId in dev/...
    ListenerArn: !alb_output ListenerArn            # dev/cluster.yaml::MainListenerArn

Both are StackOutput itself (same dependency on the target stack, same lookup on launch),
with the argument completed in setup(): the environment is the first folder of the
stack's path, and the ALB is the one the service's config names (or the environment's
first), as the configuration model decides it, with the output prefix
`fargate_platform.names` gives the cluster template. So a stack file needs no Jinja to
name them, and the same file serves every environment and every service (Jinja in a stack
file costs Sceptre a compile per stack: at 500 services that was the largest part of the
platform's own time in `sceptre generate`).

A stack's outputs are read once per process (one DescribeStacks per target stack, where
Sceptre's StackOutput reads them once per tag: a service stack names 14 outputs of 4
stacks). That is safe within a command: a stack's outputs are read only once it has been
launched, since the stacks that name them depend on it and launch after it.
"""
import threading

from sceptre.exceptions import SceptreException
from sceptre.resolvers.stack_output import StackOutput, StackOutputBase

from fargate_platform import config, names
from fargate_platform.sceptre_errors import sceptre_errors


def environment_of(stack):
    """`dev/services/order/service` -> `dev`."""
    return stack.name.split("/", 1)[0]


def env_output_argument(argument, stack):
    """`network.yaml::VpcId` -> `dev/network.yaml::VpcId` for a stack of dev (and a completed
    argument stays as it is: Sceptre may set a hook's resolvers up twice)."""
    if isinstance(argument, str) and argument.startswith(f"{environment_of(stack)}/"):
        return argument
    if not isinstance(argument, str) or argument.count("::") != 1 or argument.startswith("/"):
        raise SceptreException(f"{stack.name} - !env_output takes STACK::KEY with STACK relative "
                               f"to the environment's folder (network.yaml::VpcId); got {argument!r}")
    return f"{environment_of(stack)}/{argument}"


def alb_output_argument(argument, stack):
    """`ListenerArn` -> `dev/cluster.yaml::MainListenerArn` for a service on the ALB `main`."""
    if isinstance(argument, str) and "::" in argument:
        return argument  # completed already (set up twice)
    parts = stack.name.split("/")
    if len(parts) != 4 or parts[1] != "services":
        raise SceptreException(f"{stack.name} - !alb_output is for a service's stack "
                               "(ENV/services/NAME/service.yaml)")
    if not isinstance(argument, str) or not argument.isidentifier():
        raise SceptreException(f"{stack.name} - !alb_output takes an output name without the "
                               f"ALB's prefix (ListenerArn); got {argument!r}")
    environment = config.load_environment(stack.stack_group_config["project_path"], parts[0])
    service = environment.services[parts[2]]
    return f"{parts[0]}/cluster.yaml::{names.alb_output_prefix(service.alb)}{argument}"


_outputs = {}  # (stack name, profile, region, role) -> {output key: value}
_outputs_lock = threading.Lock()


class _SharedOutputs(StackOutput):
    """StackOutput whose DescribeStacks answers are shared by every tag of the process."""

    def _get_stack_outputs(self, stack_name, profile=None, region=None, sceptre_role=None):
        key = (stack_name, profile, region, sceptre_role)
        with _outputs_lock:
            if key not in _outputs:  # Sceptre's own lookup, uncached (its cache is per tag)
                _outputs[key] = StackOutputBase._get_stack_outputs.__wrapped__(self, *key)
            return _outputs[key]


class EnvOutput(_SharedOutputs):
    @sceptre_errors
    def setup(self):
        self.argument = env_output_argument(self.argument, self.stack)
        super().setup()


class AlbOutput(_SharedOutputs):
    @sceptre_errors
    def setup(self):
        self.argument = alb_output_argument(self.argument, self.stack)
        super().setup()
