"""Applies the layer's patches to moto, after checking that moto still looks as they expect.

Each patch replaces or wraps a moto function whose name and parameters are listed
in EXPECTED_SIGNATURES. A moto upgrade that renames or reshapes one of them makes
`check()` report it and the emulator refuse to start, instead of patching
something else silently (tests/fargate_platform/local/test_emulator_patches.py
runs the same check, plus tests showing that plain moto still lacks each feature).
"""
import inspect

from emulator import (
    change_sets,
    cloudformation_fixes,
    cloudformation_messages,
    custom_resources,
    data_plane,
    drift,
    lambda_runner,
    log_masking,
    property_validation,
    rds_cluster,
    resource_steps,
    rollback_modes,
    stack_operations,
    task_start,
    wait_conditions,
)

PINNED_MOTO_VERSION = "5.2.5"

# (module, attribute path, parameter names in order, without self/cls)
EXPECTED_SIGNATURES = [
    ("moto.awslambda.models", "LambdaFunction.invoke",
     ["body", "request_headers", "response_headers"]),
    ("moto.awslambda.utils", "get_backend", ["account_id", "region"]),
    ("moto.cloudformation.custom_model", "CustomModel.__init__",
     ["region_name", "request_id", "logical_id", "resource_name"]),
    ("moto.cloudformation.custom_model", "CustomModel.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.cloudformation.custom_model", "CustomModel.set_data", ["data"]),
    ("moto.cloudformation.models", "CloudFormationBackend.create_stack",
     ["name", "template", "parameters", "notification_arns", "tags", "role_arn",
      "enable_termination_protection", "timeout_in_mins", "stack_policy_body"]),
    ("moto.cloudformation.models", "CloudFormationBackend.update_stack",
     ["name", "template", "role_arn", "parameters", "tags"]),
    ("moto.cloudformation.models", "CloudFormationBackend.delete_stack", ["name_or_stack_id"]),
    ("moto.cloudformation.models", "Stack._add_stack_event",
     ["resource_status", "resource_status_reason", "resource_properties"]),
    ("moto.cloudformation.models", "Stack._parse_template", []),
    ("moto.cloudformation.models", "Stack.create_resources", []),
    ("moto.cloudformation.models", "Stack.parse_template", ["template"]),
    ("moto.cloudformation.parsing", "ResourceMap.update", ["template", "parameters"]),
    ("moto.cloudformation.models", "Stack._create_output_map", []),
    ("moto.cloudformation.models", "Event.__init__",
     ["stack_id", "stack_name", "logical_resource_id", "physical_resource_id", "resource_type",
      "resource_status", "resource_status_reason", "resource_properties"]),
    ("moto.cloudformation.parsing", "parse_and_create_resource",
     ["logical_id", "resource_json", "resources_map", "account_id", "region_name"]),
    ("moto.cloudformation.parsing", "parse_and_update_resource",
     ["logical_id", "resource_json", "resources_map", "account_id", "region_name"]),
    ("moto.cloudformation.parsing", "ResourceMap.delete", []),
    ("moto.cloudformation.models", "Stack.stack_resources.fget", []),
    ("moto.cloudformation.parsing", "ResourceMap._delete_resource",
     ["parsed_resource", "resource_json"]),
    ("moto.cloudformation.parsing", "get_model_map", []),
    ("moto.cloudformation.parsing", "get_name_type_map", []),
    ("moto.logs.models", "LogsBackend.ensure_log_group", ["log_group_name"]),
    ("moto.logs.models", "LogGroup.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.logs.models", "LogStream.put_log_events", ["log_events"]),
    ("moto.logs.models", "LogEvent.to_response_dict", []),
    ("moto.logs.models", "LogEvent.to_filter_dict", []),
    ("moto.logs.responses", "LogsResponse.get_log_events", []),
    ("moto.logs.responses", "LogsResponse.filter_log_events", []),
    ("moto.logs.models", "LogsBackend.create_log_stream", ["log_group_name", "log_stream_name"]),
    ("moto.logs.models", "LogsBackend.put_log_events",
     ["log_group_name", "log_stream_name", "log_events"]),
    ("moto.ssm.models", "SimpleSystemManagerBackend.get_parameter", ["name"]),
    ("moto.ssm.models", "Parameter.decrypt", ["value"]),
    ("moto.cloudformation.responses", "CloudFormationResponse._validate_different_update",
     ["incoming_params", "stack_body", "old_stack"]),
    ("moto.cloudformation.models", "CloudFormationBackend._resolve_update_parameters",
     ["instance", "incoming_params"]),
    ("moto.kms.models", "Key.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.elbv2.models", "ELBv2Backend.delete_rule", ["arn"]),
    ("moto.elbv2.models", "ELBv2Backend.delete_target_group", ["target_group_arn"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.delete_service",
     ["cluster_name", "service_name", "force"]),
    ("moto.ec2.models", "EC2Backend.disassociate_route_table", ["association_id"]),
    ("moto.ec2.models", "EC2Backend.delete_route_table", ["route_table_id"]),
    ("moto.ec2.models", "EC2Backend.delete_nat_gateway", ["nat_gateway_id"]),
    ("moto.ec2.models", "EC2Backend.release_address", ["address", "allocation_id"]),
    ("moto.ec2.models", "EC2Backend.detach_internet_gateway", ["internet_gateway_id", "vpc_id"]),
    ("moto.ec2.models", "EC2Backend.delete_internet_gateway", ["internet_gateway_id"]),
    ("moto.ec2.models", "EC2Backend.delete_vpc_endpoints", ["vpce_ids"]),
    ("moto.iam.models", "Role.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.iam.models", "Role.update_from_cloudformation_json",
     ["original_resource", "new_resource_name", "cloudformation_json", "account_id",
      "region_name"]),
    ("moto.iam.models", "Role.put_policy", ["policy_name", "policy_json"]),
    ("moto.iam.models", "Role.delete_policy", ["policy_name"]),
    ("moto.iam.models", "IAMBackend.attach_role_policy", ["policy_arn", "role_name"]),
    ("moto.iam.models", "IAMBackend.detach_role_policy", ["policy_arn", "role_name"]),
    ("moto.iam.models", "IAMBackend.put_role_permissions_boundary",
     ["role_name", "permissions_boundary"]),
    ("moto.iam.models", "IAMBackend.delete_role_permissions_boundary", ["role_name"]),
    ("moto.iam.models", "IAMBackend.create_policy_version",
     ["policy_arn", "policy_document", "set_as_default"]),
    ("moto.iam.models", "IAMBackend.delete_policy_version", ["policy_arn", "version_id"]),
    ("moto.iam.models", "AWSManagedPolicy.from_data",
     ["name", "account_id", "region_name", "data"]),
    ("moto.sts.models", "STSBackend.assume_role",
     ["region_name", "role_session_name", "role_arn", "policy", "duration", "external_id"]),
    ("moto.sts.models", "STSBackend.get_assumed_role_from_access_key", ["access_key_id"]),
    ("moto.kms.models", "KmsBackend.describe_key", ["key_id"]),
    ("moto.ecs.models", "TaskDefinition.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.ecs.models", "TaskDefinition.update_from_cloudformation_json",
     ["original_resource", "new_resource_name", "cloudformation_json", "account_id", "region_name"]),
    ("moto.ecs.models", "Service.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.ecs.models", "Service.update_from_cloudformation_json",
     ["original_resource", "new_resource_name", "cloudformation_json", "account_id", "region_name"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.register_task_definition",
     ["family", "container_definitions", "volumes", "network_mode", "tags", "placement_constraints",
      "requires_compatibilities", "cpu", "memory", "task_role_arn", "execution_role_arn",
      "proxy_configuration", "inference_accelerators", "runtime_platform", "ipc_mode", "pid_mode",
      "ephemeral_storage"]),
    ("moto.rds.models", "DBInstance.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    # elbv2_fixes.py (the ALB front's patches), and the moto code they call
    ("moto.elbv2.models", "ELBv2Backend.describe_target_health", ["target_group_arn", "targets"]),
    ("moto.elbv2.models", "FakeTargetGroup.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.elbv2.models", "FakeLoadBalancer.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.elbv2.models", "ELBv2Backend.modify_target_group_attributes",
     ["target_group_arn", "attributes"]),
    ("moto.elbv2.models", "ELBv2Backend.modify_load_balancer_attributes", ["arn", "attrs"]),
    ("moto.elbv2.models", "ELBv2Backend.modify_target_group",
     ["arn", "health_check_proto", "health_check_port", "health_check_path",
      "health_check_interval", "health_check_timeout", "healthy_threshold_count",
      "unhealthy_threshold_count", "http_codes", "health_check_enabled"]),
    ("moto.elbv2.models", "FakeHealthStatus.__init__",
     ["instance_id", "port", "health_port", "status", "reason", "description"]),
    # ecs_services.py and tasks.py (patched, or called by the task supervisor)
    ("moto.cloudformation.parsing", "ResourceMap.build_resource_diff", ["other_template", "parameters"]),
    ("moto.applicationautoscaling.models", "ApplicationAutoscalingBackend.register_scalable_target",
     ["namespace", "r_id", "dimension", "min_capacity", "max_capacity", "role_arn", "suspended_state"]),
    ("moto.applicationautoscaling.models", "ApplicationAutoscalingBackend.deregister_scalable_target",
     ["namespace", "r_id", "dimension"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.create_service",
     ["cluster_str", "service_name", "desired_count", "task_definition_str", "load_balancers",
      "scheduling_strategy", "tags", "deployment_controller", "launch_type", "service_registries",
      "platform_version", "propagate_tags", "network_configuration", "role_arn"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.describe_task_definition", ["task_definition_str"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.describe_services",
     ["cluster_str", "service_names_or_arns"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend._get_cluster", ["name"]),
    ("moto.ecs.models", "EC2ContainerServiceBackend.list_tasks",
     ["cluster_str", "container_instance", "family", "started_by", "service_name", "desiredStatus"]),
    ("moto.ecs.models", "Task.__init__",
     ["cluster", "task_definition", "container_instance_arn", "resource_requirements", "backend",
      "group", "launch_type", "overrides", "started_by", "tags", "networking_configuration",
      "platform_version", "capacity_provider_name"]),
    ("moto.ecs.models", "Service._validate_network", ["nc"]),
    ("moto.elbv2.models", "ELBv2Backend.register_targets", ["target_group_arn", "instances"]),
    ("moto.elbv2.models", "ELBv2Backend.deregister_targets", ["target_group_arn", "instances"]),
    ("moto.ec2.models", "EC2Backend.get_subnet", ["subnet_id"]),
    ("moto.ec2.models", "EC2Backend.delete_network_interface", ["eni_id"]),
    # change_sets.py (CloudFormationResponse's change-set actions replaced) and what it calls
    ("moto.cloudformation.responses", "CloudFormationResponse.create_change_set", []),
    ("moto.cloudformation.responses", "CloudFormationResponse.describe_change_set", []),
    ("moto.cloudformation.responses", "CloudFormationResponse.execute_change_set", []),
    ("moto.cloudformation.responses", "CloudFormationResponse.delete_change_set", []),
    ("moto.cloudformation.responses", "CloudFormationResponse.list_change_sets", []),
    ("moto.cloudformation.responses", "CloudFormationResponse._validate_status", ["stack"]),
    ("moto.cloudformation.responses", "CloudFormationResponse._get_stack_from_s3_url",
     ["template_url"]),
    ("moto.cloudformation.models", "Stack.__init__",
     ["stack_id", "name", "template", "parameters", "account_id", "region_name",
      "notification_arns", "tags", "role_arn", "cross_stack_resources",
      "enable_termination_protection", "timeout_in_mins", "stack_policy_body"]),
    ("moto.cloudformation.models", "Stack._create_resource_map", []),
    ("moto.cloudformation.models", "ChangeSet.__init__",
     ["change_set_type", "change_set_id", "change_set_name", "stack", "template", "parameters",
      "description", "notification_arns", "tags", "role_arn"]),
    ("moto.cloudformation.models", "Change.__init__",
     ["action", "logical_resource_id", "resource_type"]),
    ("moto.cloudformation.models", "CloudFormationBackend._validate_export_uniqueness", ["stack"]),
    ("moto.cloudformation.utils", "generate_stack_id", ["stack_name", "region", "account"]),
    ("moto.cloudformation.utils", "generate_changeset_id",
     ["changeset_name", "region_name", "account_id"]),
    # cloudformation_messages.py
    ("moto.cloudformation.models", "CloudFormationBackend.validate_template", ["template"]),
    ("moto.cloudformation.models", "Event.sendToSns", ["account_id", "region", "sns_topic_arns"]),
    # property_validation.py and drift.py (issue 15 items 2 and 6), and the moto code they call
    ("moto.cloudformation.parsing", "clean_json", ["resource_json", "resources_map"]),
    ("moto.cloudformation.models", "CloudFormationBackend.get_stack", ["name_or_stack_id"]),
    ("moto.cloudformation.responses", "StackResourceDTO.__init__", ["stack", "resource"]),
    ("moto.core.responses", "BaseResponse._get_param", ["param_name", "if_none"]),
    ("moto.awslambda.models", "LambdaBackend.get_function", ["function_name_or_arn", "qualifier"]),
    ("moto.ec2.models", "EC2Backend.get_security_group_from_id", ["group_id"]),
    # rollback_modes.py, stack_timeouts.py, wait_conditions.py (and the moto code they call)
    ("moto.cloudformation.responses", "CloudFormationResponse.create_stack", []),
    ("moto.cloudformation.responses", "CloudFormationResponse.update_stack", []),
    ("moto.cloudformation.responses", "CloudFormationResponse._get_param",
     ["param_name", "if_none"]),
    ("moto.cloudformation.responses", "CloudFormationResponse._get_bool_param",
     ["param_name", "if_none"]),
    ("moto.cloudformation.models", "Stack.update", ["template", "role_arn", "parameters", "tags"]),
    ("moto.core.common_models", "CloudFormationModel.create_from_cloudformation_json",
     ["resource_name", "cloudformation_json", "account_id", "region_name", "kwargs"]),
    ("moto.core.common_models", "CloudFormationModel.update_from_cloudformation_json",
     ["original_resource", "new_resource_name", "cloudformation_json", "account_id",
      "region_name"]),
]


def _resolve(module_name, path):
    import importlib

    target = importlib.import_module(module_name)
    for part in path.split("."):
        target = getattr(target, part)
    return target


def _parameters(function):
    names = list(inspect.signature(function).parameters)
    if names and names[0] in ("self", "cls") and not inspect.ismethod(function):
        names = names[1:]
    return names


def check():
    """Problems that make a patch unsafe with the installed moto (empty when all is well)."""
    import moto

    problems = []
    if moto.__version__ != PINNED_MOTO_VERSION:
        problems.append(f"moto {moto.__version__} is installed, the layer was written for "
                        f"{PINNED_MOTO_VERSION} (requirements/emulator.txt)")
    for module_name, path, expected in EXPECTED_SIGNATURES:
        try:
            found = _parameters(_resolve(module_name, path))
        except (ImportError, AttributeError) as exc:
            problems.append(f"{module_name}.{path} is gone ({exc})")
            continue
        if found != expected:
            problems.append(f"{module_name}.{path} takes {found}, the layer expects {expected}")
    import importlib

    for module_name, class_name, _ in cloudformation_fixes.MISSING_DELETES:
        if "delete" in vars(getattr(importlib.import_module(module_name), class_name)) \
                and not _applied:
            problems.append(f"{module_name}.{class_name} now has delete(): "
                            "cloudformation_fixes may not need to add one")
    from moto.iam.models import ManagedPolicy

    if "update_from_cloudformation_json" in vars(ManagedPolicy) and not _applied:
        problems.append("moto.iam.models.ManagedPolicy now has its own CloudFormation update: "
                        "cloudformation_fixes may not need to add one")
    from moto.cloudformation import parsing

    if any(model.__module__.startswith("moto.") for model in parsing.get_model_list()
           if model.cloudformation_type() == "AWS::RDS::DBCluster"):
        problems.append("moto now models AWS::RDS::DBCluster: rds_cluster may be unnecessary")
    return problems


class MotoChanged(RuntimeError):
    pass


_applied = False


def apply_all():
    """Check, then patch moto in this process (once).

    Where two patches wrap the same moto function, the later one here is the outer one:
    - CloudFormationBackend.create_stack: stack_operations (the operation in the background,
      TimeoutInMinutes checked before moto registers the stack), then cloudformation_messages
      (the template refused in the call, before anything else);
    - parse_and_create_resource / parse_and_update_resource: resource_steps (the resource
      named in its failure, the stack's timeout, nothing made for a reader), then
      property_validation (the properties validated first, in an operation's thread).
    """
    global _applied
    if _applied:
        return
    problems = check()
    if problems:
        raise MotoChanged("the emulator's patches do not fit the installed moto:\n- "
                          + "\n- ".join(problems))
    lambda_runner.apply()
    custom_resources.apply()
    stack_operations.apply()
    resource_steps.apply()
    rds_cluster.apply()
    cloudformation_fixes.apply()
    task_start.apply()
    log_masking.apply()
    data_plane.apply()
    cloudformation_messages.apply()
    change_sets.apply()
    property_validation.apply()
    drift.apply()
    rollback_modes.apply()
    wait_conditions.apply()
    _applied = True
