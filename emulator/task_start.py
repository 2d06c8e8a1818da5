"""Patch 6: a task definition keeps its roles, and ECS's start of a service's tasks is
decided under the task's execution role.

moto behaviour replaced:
- `moto.ecs.models.TaskDefinition.create_from_cloudformation_json` and its update keep
  only the family, containers, volumes and memory: ExecutionRoleArn, TaskRoleArn,
  NetworkMode, RequiresCompatibilities, Cpu, RuntimePlatform are dropped, and its update
  compares moto's camelCase containers with the template's PascalCase ones (so every
  update registers a new revision, with PascalCase containers).
- moto's ECS never starts a task, so nothing ever uses the execution role.

What runs instead:
- The task definition is registered with what the template sets (containers in ECS's
  camelCase), on create and on an update that changes it; an update back to the revision
  it replaced (a rollback) returns to that revision, as CloudFormation keeps it.
- Before a CloudFormation create or update of an AWS::ECS::Service, what the ECS agent
  does with the task definition's execution role to start each container
  (fargate_platform.aws_requests.ecs_agent_requests: pull the image from the account's
  ECR, create and write the awslogs stream, read the SSM secrets, which SSM decrypts with
  the data key) is decided by the IAM evaluator under the role as it is now. A denial
  fails the resource as ECS's deployment circuit breaker fails the deployment on AWS,
  with the stopped task's reason (ResourceInitializationError and AWS's AccessDenied
  message), so the stack rolls back (ecs_services.py calls check_start from its create
  and update). The tasks themselves run in tasks.py, which calls start_denial per task.
"""
import uuid

from fargate_platform import aws_requests, iam_policy
from emulator import iam_enforcement
from emulator.iam_errors import denial_message
from emulator.iam_state import MotoKeys, role_policies

# The stopped task's reason, by the step of starting it that needs the action.
START_STEP = {
    "ssm": "unable to pull secrets or registry auth: execution resource retrieval failed: "
           "unable to retrieve secret from ssm",
    "kms": "unable to pull secrets or registry auth: execution resource retrieval failed: "
           "unable to retrieve secret from ssm",
    "ecr": "unable to pull secrets or registry auth: unable to retrieve ecr registry auth",
    "logs": "failed to validate logger args: create stream has been retried 1 times",
}


class TaskStartDenied(RuntimeError):
    """ECS could not start a task with its execution role: the deployment fails."""


def _task_definition_arguments(properties):
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    return {
        "family": properties.get("Family") or f"task-definition-{uuid.uuid4().hex[:8]}",
        "container_definitions": remap_nested_keys(properties.get("ContainerDefinitions", []), pascal_to_camelcase),
        "volumes": remap_nested_keys(properties.get("Volumes", []), pascal_to_camelcase),
        "network_mode": properties.get("NetworkMode"),
        "requires_compatibilities": properties.get("RequiresCompatibilities"),
        "cpu": properties.get("Cpu"),
        "memory": properties.get("Memory"),
        "task_role_arn": properties.get("TaskRoleArn"),
        "execution_role_arn": properties.get("ExecutionRoleArn"),
        "runtime_platform": properties.get("RuntimePlatform"),
        "tags": [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])] or None,
    }


def create_task_definition(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    from moto.ecs.models import ecs_backends

    arguments = _task_definition_arguments(cloudformation_json["Properties"])
    definition = ecs_backends[account_id][region_name].register_task_definition(**arguments)
    definition.template_properties = cloudformation_json["Properties"]
    return definition


def update_task_definition(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                           region_name):
    from moto.ecs.models import ecs_backends

    properties = cloudformation_json["Properties"]
    if getattr(original_resource, "template_properties", None) == properties:
        return original_resource
    backend = ecs_backends[account_id][region_name]
    backend.deregister_task_definition(original_resource.arn)
    replaced = getattr(original_resource, "replaced", None)
    if replaced is not None and replaced.template_properties == properties:
        # Back to the revision this one replaced: a rollback, where CloudFormation keeps the
        # old revision (the service the circuit breaker rolled back runs it already).
        replaced.status = "ACTIVE"
        return replaced
    definition = create_task_definition(cls, new_resource_name, cloudformation_json, account_id,
                                        region_name)
    definition.replaced, original_resource.replaced = original_resource, None
    return definition


def _container_as_template(container):
    """What aws_requests.ecs_agent_requests reads, from a container in ECS's camelCase."""
    logging = container.get("logConfiguration") or {}
    return {
        "Name": container["name"],
        "Image": container.get("image", ""),
        "LogConfiguration": {"LogDriver": logging.get("logDriver"), "Options": logging.get("options") or {}},
        "Secrets": [{"ValueFrom": secret["valueFrom"]} for secret in container.get("secrets") or []],
    }


def start_denial(definition, account, region):
    """AWS's stopped-task reason if ECS may not start `definition`'s containers with its
    execution role, else None."""
    role = getattr(definition, "execution_role_arn", None)
    if not role:
        return None
    keys, policies = MotoKeys(account, region), role_policies(role)
    task_id = uuid.uuid4().hex
    session = f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[-1]}/{task_id}"
    for container in definition.container_definitions:
        for request in aws_requests.ecs_agent_requests(_container_as_template(container), keys, account, region):
            request = iam_policy.Request(request.action, request.resource,
                                         {"aws:PrincipalArn": role, "aws:PrincipalAccount": account,
                                          **request.context}, role)
            key_policy = keys.policy_of(request.resource) if request.action.startswith("kms:") else None
            decision = iam_policy.decide(request, identity=policies.identity, boundary=policies.boundary,
                                         resource_policy=key_policy)
            iam_enforcement.DECISIONS.record(request, decision.allowed)
            if not decision.allowed:
                denial = iam_enforcement.Denial(request.action, request.resource, decision.reason)
                step = START_STEP.get(request.action.split(":", 1)[0], "task start")
                return (f"ECS Deployment Circuit Breaker was triggered: a task of {definition.family} "
                        f"stopped: ResourceInitializationError: {step}: AccessDeniedException: "
                        f"{denial_message(session, denial, 'json')}")
    return None


def _definition_of(properties, account_id, region_name):
    from moto.ecs.models import TaskDefinition, ecs_backends

    given = properties["TaskDefinition"]
    if isinstance(given, TaskDefinition):
        return given
    return ecs_backends[account_id][region_name].describe_task_definition(given)


def check_start(cloudformation_json, account_id, region_name):
    """Raises TaskStartDenied when ECS may not start the service's tasks (called by
    ecs_services' CloudFormation create/update of AWS::ECS::Service)."""
    definition = _definition_of(cloudformation_json["Properties"], account_id, region_name)
    reason = start_denial(definition, account_id, region_name)
    if reason is not None:
        raise TaskStartDenied(reason)


def apply():
    """The task definition patches; the service's check (check_start) is called by
    ecs_services.py, which patches AWS::ECS::Service's create and update."""
    from moto.ecs.models import TaskDefinition

    TaskDefinition.create_from_cloudformation_json = classmethod(create_task_definition)
    TaskDefinition.update_from_cloudformation_json = classmethod(update_task_definition)
