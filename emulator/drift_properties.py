"""The live properties drift detection compares (drift.py), read from moto's backends.

One reader per resource type (READERS, with the properties compared):
`reader(resource, account_id, region_name)` gives the resource's live properties in
CloudFormation's shape (None for a property the resource does not have), or None when the
resource no longer exists (DELETED).
The resource is found again in its backend by its physical id: the model object in the
stack's resource map stays there even when the resource was deleted through the API.
The readers run in a request thread while other stacks' operations may change the same
backends: a reader walks a snapshot (list()) of a backend's dict, never the dict itself.

This module patches nothing in moto: it only reads moto's backends, for drift.py (the
patch that adds the drift actions).

A property is read only where moto's CloudFormation model applies it from the template
and the API keeps it live; a property moto ignores when it creates the resource would
show as drifted on a fresh stack (e.g. a VPC's EnableDnsHostnames, a subnet's
MapPublicIpOnLaunch, a log group's KmsKeyId, a key's KeyUsage: moto does not apply them).

Compared (READERS below is the list the code uses):
- AWS::SSM::Parameter: Name, Type, Value, Description, AllowedPattern, DataType, Tier
- AWS::Logs::LogGroup: LogGroupName, RetentionInDays
- AWS::IAM::Role: RoleName, Path, Description, MaxSessionDuration,
  AssumeRolePolicyDocument, ManagedPolicyArns, PermissionsBoundary, Policies
- AWS::IAM::ManagedPolicy: ManagedPolicyName, Path, Description, PolicyDocument, Roles
- AWS::KMS::Key: Description, Enabled, EnableKeyRotation, KeyPolicy
- AWS::Lambda::Function: FunctionName, Handler, Runtime, Role, Timeout, MemorySize,
  Description, Environment
- AWS::ECS::Cluster: ClusterName; AWS::ECS::Service: ServiceName, DesiredCount,
  TaskDefinition
- AWS::EC2::VPC: CidrBlock, InstanceTenancy; AWS::EC2::Subnet: VpcId, CidrBlock,
  AvailabilityZone; AWS::EC2::SecurityGroup: GroupDescription, VpcId
- AWS::S3::Bucket: BucketName
- AWS::ElasticLoadBalancingV2::TargetGroup: Name, Port, Protocol, VpcId, TargetType and
  the HealthCheck* / *ThresholdCount settings
Not compared within these: a security group's rules (moto keeps them in its own shape,
with defaults the template does not state) and tags (kept apart, in each API's shape);
a role's ManagedPolicyArns and Policies and a managed policy's Roles are compared for the
template's members only (MEMBERS_ONLY).
Every other type is NOT_CHECKED (drift.py): listeners and listener rules (actions and
conditions in moto's own shape), load balancers, routes, gateways, endpoints and EIPs,
the RDS types (the layer's own models), Route 53, KMS aliases, bucket policies, scalable
targets and policies (modelled by ecs_services.py, not moto), and custom resources, which
AWS does not check either.
"""
import json
from urllib.parse import unquote


def _policy(document):
    """A policy document as data (moto keeps the text it was given, maybe URL-encoded)."""
    if document is None or isinstance(document, (dict, list)):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return json.loads(unquote(document))


def _iam(account_id, region_name):
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region_name)]


def _ec2(account_id, region_name):
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region_name]


def ssm_parameter(resource, account_id, region_name):
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[account_id][region_name].get_parameter(resource.name)
    if parameter is None:
        return None
    return {"Name": parameter.name, "Type": parameter.parameter_type, "Value": parameter.value,
            "Description": parameter.description, "AllowedPattern": parameter.allowed_pattern,
            "DataType": parameter.data_type, "Tier": parameter.tier}


def log_group(resource, account_id, region_name):
    from moto.logs.models import logs_backends

    group = logs_backends[account_id][region_name].groups.get(resource.name)
    if group is None:
        return None
    return {"LogGroupName": group.name, "RetentionInDays": group.retention_in_days}


def iam_role(resource, account_id, region_name):
    backend = _iam(account_id, region_name)
    role = next((r for r in list(backend.roles.values()) if r.name == resource.name), None)
    if role is None:
        return None
    return {
        "RoleName": role.name, "Path": role.path, "Description": role.description or None,
        "MaxSessionDuration": role.max_session_duration,
        "AssumeRolePolicyDocument": _policy(role.assume_role_policy_document),
        "ManagedPolicyArns": list(role.managed_policies) or None,
        "PermissionsBoundary": role.permissions_boundary_arn or None,
        "Policies": [{"PolicyName": name, "PolicyDocument": _policy(document)}
                     for name, document in list(role.policies.items())] or None,
    }


def iam_managed_policy(resource, account_id, region_name):
    backend = _iam(account_id, region_name)
    policy = backend.managed_policies.get(resource.arn)
    if policy is None:
        return None
    default = next((v for v in policy.versions if v.is_default), None)
    roles = [role.name for role in list(backend.roles.values())
             if policy.arn in role.managed_policies]
    return {"ManagedPolicyName": policy.name, "Path": policy.path,
            "Description": policy.description or None,
            "PolicyDocument": _policy(default.document) if default else None,
            "Roles": roles or None}


def kms_key(resource, account_id, region_name):
    from moto.kms.models import kms_backends

    key = kms_backends[account_id][region_name].keys.get(resource.id)
    if key is None:
        return None
    return {"Description": key.description or None, "Enabled": key.enabled,
            "EnableKeyRotation": key.key_rotation_status, "KeyPolicy": _policy(key.policy)}


def lambda_function(resource, account_id, region_name):
    from moto.awslambda.models import lambda_backends

    try:
        function = lambda_backends[account_id][region_name].get_function(resource.function_name)
    except Exception:  # noqa: BLE001 - moto's UnknownFunctionException: deleted
        return None
    variables = function.environment_vars
    return {"FunctionName": function.function_name, "Handler": function.handler,
            "Runtime": function.run_time, "Role": function.role, "Timeout": function.timeout,
            "MemorySize": function.memory_size, "Description": function.description or None,
            "Environment": {"Variables": dict(variables)} if variables else None}


def ecs_cluster(resource, account_id, region_name):
    from moto.ecs.models import ecs_backends

    cluster = ecs_backends[account_id][region_name].clusters.get(resource.name)
    if cluster is None or cluster.status != "ACTIVE":
        return None
    return {"ClusterName": cluster.name}


def ecs_service(resource, account_id, region_name):
    from moto.ecs.models import ecs_backends

    service = ecs_backends[account_id][region_name].services.get(
        f"{resource.cluster_name}:{resource.name}")
    if service is None or service.status != "ACTIVE":
        return None
    return {"ServiceName": service.name, "DesiredCount": service.desired_count,
            "TaskDefinition": service.task_definition}


def ec2_vpc(resource, account_id, region_name):
    vpc = _ec2(account_id, region_name).vpcs.get(resource.id)
    if vpc is None:
        return None
    return {"CidrBlock": vpc.cidr_block, "InstanceTenancy": vpc.instance_tenancy}


def ec2_subnet(resource, account_id, region_name):
    backend = _ec2(account_id, region_name)
    subnet = next((zone[resource.id] for zone in list(backend.subnets.values())
                   if resource.id in zone), None)
    if subnet is None:
        return None
    return {"VpcId": subnet.vpc_id, "CidrBlock": subnet.cidr_block,
            "AvailabilityZone": subnet.availability_zone}


def ec2_security_group(resource, account_id, region_name):
    group = _ec2(account_id, region_name).get_security_group_from_id(resource.id)
    if group is None:
        return None
    return {"GroupDescription": group.description, "VpcId": group.vpc_id}


def s3_bucket(resource, account_id, region_name):
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    bucket = s3_backends[account_id][get_partition(region_name)].buckets.get(resource.name)
    return None if bucket is None else {"BucketName": bucket.name}


def target_group(resource, account_id, region_name):
    from moto.elbv2.models import elbv2_backends

    group = elbv2_backends[account_id][region_name].target_groups.get(resource.arn)
    if group is None:
        return None
    return {"Name": group.name, "Port": group.port, "Protocol": group.protocol,
            "VpcId": group.vpc_id, "TargetType": group.target_type,
            "HealthCheckPath": group.health_check_path,
            "HealthCheckPort": group.health_check_port,
            "HealthCheckProtocol": group.health_check_protocol,
            "HealthCheckIntervalSeconds": group.health_check_interval_seconds,
            "HealthCheckTimeoutSeconds": group.health_check_timeout_seconds,
            "HealthyThresholdCount": group.healthy_threshold_count,
            "UnhealthyThresholdCount": group.unhealthy_threshold_count}


# Lists the live resource gathers from several sources (another stack's ManagedPolicy with
# Roles, an AWS::IAM::Policy, a console attachment): only the template's members are
# compared (one missing, or changed, is drift), as the template cannot list the others.
MEMBERS_ONLY = {("AWS::IAM::Role", "ManagedPolicyArns"), ("AWS::IAM::Role", "Policies"),
                ("AWS::IAM::ManagedPolicy", "Roles")}

# type -> (reader, the properties compared)
READERS = {
    "AWS::SSM::Parameter": (ssm_parameter, (
        "Name", "Type", "Value", "Description", "AllowedPattern", "DataType", "Tier")),
    "AWS::Logs::LogGroup": (log_group, ("LogGroupName", "RetentionInDays")),
    "AWS::IAM::Role": (iam_role, (
        "RoleName", "Path", "Description", "MaxSessionDuration", "AssumeRolePolicyDocument",
        "ManagedPolicyArns", "PermissionsBoundary", "Policies")),
    "AWS::IAM::ManagedPolicy": (iam_managed_policy, (
        "ManagedPolicyName", "Path", "Description", "PolicyDocument", "Roles")),
    "AWS::KMS::Key": (kms_key, ("Description", "Enabled", "EnableKeyRotation", "KeyPolicy")),
    "AWS::Lambda::Function": (lambda_function, (
        "FunctionName", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Description",
        "Environment")),
    "AWS::ECS::Cluster": (ecs_cluster, ("ClusterName",)),
    "AWS::ECS::Service": (ecs_service, ("ServiceName", "DesiredCount", "TaskDefinition")),
    "AWS::EC2::VPC": (ec2_vpc, ("CidrBlock", "InstanceTenancy")),
    "AWS::EC2::Subnet": (ec2_subnet, ("VpcId", "CidrBlock", "AvailabilityZone")),
    "AWS::EC2::SecurityGroup": (ec2_security_group, ("GroupDescription", "VpcId")),
    "AWS::S3::Bucket": (s3_bucket, ("BucketName",)),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (target_group, (
        "Name", "Port", "Protocol", "VpcId", "TargetType", "HealthCheckPath", "HealthCheckPort",
        "HealthCheckProtocol", "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount", "UnhealthyThresholdCount")),
}
