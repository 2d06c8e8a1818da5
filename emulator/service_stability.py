"""A CloudFormation create or update of an AWS::ECS::Service ends once the service is stable,
as CloudFormation's ECS handler ends it (called by ecs_services.py).

On AWS the resource stays *_IN_PROGRESS until the service's deployment completes: its
desired count of tasks running on the new task definition, healthy in their target groups,
no task of an older one left. When the deployment circuit breaker fails the deployment, the
resource fails with the handler's message (CIRCUIT_BREAKER_TRIGGERED), which says nothing of
the cause: the stack rolls back, and the stopped tasks tell why (hooks/deployment_report.py
prints them). CloudFormation waits up to 3 hours for a service without a breaker; locally
the wait is bounded by STABILITY_SECONDS, and by the stack's TimeoutInMinutes
(stack_timeouts.py), as on AWS.

Not waited for, as before: a service whose task definition's container has no `command`
(an image only: it cannot run on this machine, tasks.py stops its tasks saying so), and
any service while no task supervisor runs (moto used in-process).
"""
import os
import time
import uuid

from emulator import stack_timeouts
from emulator.resource_steps import ResourceFailure

SERVICE_TYPE = "AWS::ECS::Service"
STABILITY_SECONDS = float(os.environ.get("FARGATE_PLATFORM_SERVICE_STABILITY_SECONDS", "600"))
POLL_SECONDS = 0.5
CIRCUIT_BREAKER_TRIGGERED = (
    "Resource handler returned message: \"Error occurred during operation 'ECS Deployment "
    "Circuit Breaker was triggered'.\" (RequestToken: {token}, HandlerErrorCode: "
    "GeneralServiceException)")


def runs_locally(service, backend, supervisor):
    if not supervisor.running:
        return False
    try:
        definition = backend.describe_task_definition(service.task_definition)
    except Exception:  # noqa: BLE001 - moto's own checks report a missing task definition
        return False
    return bool(definition.container_definitions and definition.container_definitions[0].get("command"))


def wait_until_stable(service, backend, logical_id):
    """Returns once `service` is stable; raises ResourceFailure when its deployment fails or
    it is not stable within STABILITY_SECONDS."""
    from emulator.tasks import SUPERVISOR

    if not runs_locally(service, backend, SUPERVISOR):
        return
    failures_before = len(SUPERVISOR.deployment_failures(service.arn))
    deadline = time.monotonic() + STABILITY_SECONDS
    while True:
        if SUPERVISOR.deployment_failures(service.arn)[failures_before:]:
            raise ResourceFailure(logical_id, SERVICE_TYPE,
                                  CIRCUIT_BREAKER_TRIGGERED.format(token=uuid.uuid4()))
        if SUPERVISOR.is_stable(service.arn, service.task_definition, service.desired_count):
            return
        stack_timeouts.check_deadline(logical_id, SERVICE_TYPE)  # the stack's TimeoutInMinutes
        if time.monotonic() > deadline:
            raise ResourceFailure(logical_id, SERVICE_TYPE, (
                f"Service {service.name} did not become stable within {STABILITY_SECONDS:.0f} s "
                f"({service.running_count} of {service.desired_count} tasks running on "
                f"{service.task_definition.rsplit('/', 1)[-1]}): the local platform's bound, "
                "FARGATE_PLATFORM_SERVICE_STABILITY_SECONDS; CloudFormation waits up to 3 hours"))
        time.sleep(POLL_SECONDS)
