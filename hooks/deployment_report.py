"""`!deployment_report` (after_create, after_update of a service stack): when the stack's
create or update failed because ECS's deployment circuit breaker failed the service's
deployment, prints why: the tasks ECS stopped since the operation began (newest first, at
most 3), each with its stopped reason, exit code and last log lines.

    hooks:
      after_create: &report
        - !deployment_report {cluster: !env_output cluster.yaml::ClusterName, service: order}
      after_update: *report

CloudFormation's event says only that the circuit breaker triggered; `sceptre launch`
still ends non-zero (the stack rolled back), now with the cause in its output. Nothing is
printed after an operation that did not fail that way. The lines are the tasks' own
output, as CloudWatch Logs serves it (masked by the log group's data protection policy).
"""
from sceptre.exceptions import InvalidHookArgumentTypeError
from sceptre.hooks import Hook

from fargate_platform.deployment_report import report
from fargate_platform.sceptre_errors import sceptre_errors

USAGE = "!deployment_report takes {cluster: CLUSTER_NAME, service: SERVICE_NAME}"


def parse_argument(argument):
    """(cluster, service) from the hook's argument, or Sceptre's argument error."""
    if not isinstance(argument, dict) or set(argument) != {"cluster", "service"} or not all(
            isinstance(argument[key], str) and argument[key] for key in ("cluster", "service")):
        raise InvalidHookArgumentTypeError(f"{USAGE}; got {argument!r}")
    return argument["cluster"], argument["service"]


class DeploymentReport(Hook):
    @sceptre_errors
    def run(self):
        cluster, service = parse_argument(self.argument)

        def call(aws_service, command, kwargs):
            return self.stack.connection_manager.call(service=aws_service, command=command, kwargs=kwargs)

        for line in report(call, self.stack.external_name, cluster, service):
            self.logger.error(f"{self.stack.name} - {line}")
