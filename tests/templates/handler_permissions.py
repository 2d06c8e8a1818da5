"""What CloudFormation's resource handlers call with the caller's credentials (no service role:
the deploy role's) for the resources an environment's rendered templates declare, as IAM
requests with the ARNs of that environment's resources.

The handlers' permissions are the CloudFormation registry schemas' `handlers.<create|update|
delete>.permissions` (shipped by cfn-lint: data/schemas/providers/<region>.json maps a type to
a schema file). A permission is left out only where the template does not set the property
it serves (PROPERTY_PERMISSIONS, each with its reason); a permission that is no IAM action
is mapped to the action that authorizes it (AUTHORIZED_AS) or, where it is no IAM action at
all, left out with its reason (NOT_IAM_ACTIONS).

Each permission becomes one request per ARN it acts on (fargate_platform.service_authorization's
ARN formats): the resource itself where the action has its resource type, else the action's
required resource types, else `*`. Placeholders are filled from the rendered template's names
where it gives them, else with the name CloudFormation generates (the stack's name, which
carries the environment's prefix `fargate-platform-<env>-`, then the logical id).
"""
import fnmatch
import functools
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field

import rendered_iam

from fargate_platform import service_authorization
from fargate_platform.iam_policy import Request

ACCOUNT, REGION = rendered_iam.ACCOUNT, rendered_iam.REGION
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
PROJECT = "fargate-platform"
HANDLERS = ("create", "update", "delete")

# (type, property, permissions, reason): the permissions serve only that property; the
# template not setting it means the handler does not call them.
PROPERTY_PERMISSIONS = [
    ("AWS::ApplicationAutoScaling::ScalableTarget", "ScheduledActions",
     ["application-autoscaling:DescribeScheduledActions", "application-autoscaling:PutScheduledAction",
      "application-autoscaling:DeleteScheduledAction"], "scheduled scaling actions"),
    ("AWS::ApplicationAutoScaling::ScalableTarget", "RoleARN", ["iam:PassRole"],
     "a role other than the service-linked one"),
    ("AWS::ApplicationAutoScaling::ScalableTarget", "ProvisionedConcurrency",
     ["lambda:GetProvisionedConcurrencyConfig", "lambda:PutProvisionedConcurrencyConfig",
      "lambda:DeleteProvisionedConcurrencyConfig"],
     "only for ServiceNamespace lambda (the templates scale ECS services); no such property, never set"),
    ("AWS::EC2::EIP", "TransferAddress", ["ec2:AcceptAddressTransfer"], "an address transferred from another account"),
    ("AWS::EC2::EIP", "InstanceId", ["ec2:AssociateAddress", "ec2:DisassociateAddress"], "an instance's address"),
    ("AWS::EC2::FlowLog", "LogDestination",
     ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "logs:CreateLogDelivery", "logs:DeleteLogDelivery"],
     "delivery to S3 or Firehose (the templates deliver to a log group, LogGroupName)"),
    ("AWS::EC2::FlowLog", "DeliverCrossAccountRole", ["iam:CreateServiceLinkedRole"],
     "delivery to another account's destination; a flow log to a log group of its own account "
     "uses the role it is given (DeliverLogsPermissionArn)"),
    ("AWS::EC2::FlowLog", "TagFieldSpecifications", ["autoscaling:DescribeTags", "ec2:DescribeTags"],
     "tag fields in the log records"),
    ("AWS::EC2::NatGateway", "SecondaryAllocationIds",
     ["ec2:AssociateNatGatewayAddress", "ec2:DisassociateNatGatewayAddress"], "secondary public addresses"),
    ("AWS::EC2::NatGateway", "SecondaryPrivateIpAddresses",
     ["ec2:AssignPrivateNatGatewayAddress", "ec2:UnassignPrivateNatGatewayAddress"], "secondary private addresses"),
    ("AWS::EC2::Subnet", "Ipv6CidrBlock", ["ec2:AssociateSubnetCidrBlock", "ec2:DisassociateSubnetCidrBlock"],
     "an IPv6 block"),
    ("AWS::EC2::VPC", "VpcEncryptionControl", ["ec2:CreateVpcEncryptionControl"], "VPC encryption control"),
    ("AWS::EC2::VPC", "InstanceTenancy", ["ec2:ModifyVpcTenancy"], "dedicated tenancy"),
    ("AWS::EC2::VPCEndpoint", "ServiceNetworkArn",
     ["vpc-lattice:CreateServiceNetworkVpcEndpointAssociation",
      "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation"], "a VPC Lattice service network endpoint"),
    ("AWS::EC2::VPCEndpoint", "ServiceRegion", ["vpce:AllowMultiRegion"], "an endpoint service of another region"),
    ("AWS::EC2::VPCGatewayAttachment", "VpnGatewayId",
     ["ec2:AttachVpnGateway", "ec2:DetachVpnGateway", "ec2:DescribeVpnGateways"], "a VPN gateway"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Targets",
     ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
     "targets the template lists (ECS registers the tasks itself, with its service-linked role)"),
    ("AWS::IAM::Role", "ManagedPolicyArns", ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
     "managed policies attached to the role (the platform's roles have inline policies only)"),
    ("AWS::ECS::Cluster", "Configuration", ["kms:DescribeKey"],
     "the key of managed storage or ECS Exec (Configuration)"),
    ("AWS::ECS::Cluster", "AccountSetting", ["ecs:PutAccountSetting", "ecs:PutAccountSettingDefault"],
     "account settings; no such property, the handler calls them for ClusterSettings only on accounts "
     "that opted in to old ARN formats, which the platform's accounts do not"),
    ("AWS::ECS::Service", "DeploymentController", ["ecs:StopServiceDeployment"],
     "stopping a deployment is only for the ECS deployment controller's rollback of a stopped "
     "deployment (DeploymentController with a lifecycle hook)"),
    ("AWS::ElasticLoadBalancingV2::Listener", "AuthenticateCognitoConfig", ["cognito-idp:DescribeUserPoolClient"],
     "a Cognito authenticate action (DefaultActions[].AuthenticateCognitoConfig)"),
    ("AWS::ElasticLoadBalancingV2::ListenerRule", "AuthenticateCognitoConfig",
     ["cognito-idp:DescribeUserPoolClient"], "a Cognito authenticate action (Actions[].AuthenticateCognitoConfig)"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "MinimumLoadBalancerCapacity",
     ["elasticloadbalancing:ModifyCapacityReservation"], "an LCU reservation"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Ipv4IpamPoolId",
     ["ec2:DescribeIpamPools", "elasticloadbalancing:ModifyIpPools"], "addresses from an IPAM pool"),
    ("AWS::Lambda::Function", "ReservedConcurrentExecutions",
     ["lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"], "reserved concurrency"),
    ("AWS::Lambda::Function", "FileSystemConfigs", ["elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"],
     "a mounted file system"),
    ("AWS::Lambda::Function", "KmsKeyArn",
     ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
     "environment variables encrypted with a customer managed key"),
    ("AWS::Lambda::Function", "CodeSigningConfigArn",
     ["lambda:GetCodeSigningConfig", "lambda:GetFunctionCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig",
      "lambda:DeleteFunctionCodeSigningConfig"], "code signing"),
    ("AWS::Lambda::Function", "Layers", ["lambda:GetLayerVersion"], "layers"),
    ("AWS::Lambda::Function", "RuntimeManagementConfig",
     ["lambda:GetRuntimeManagementConfig", "lambda:PutRuntimeManagementConfig"], "a pinned runtime version"),
    ("AWS::Lambda::Function", "RecursiveLoop",
     ["lambda:PutFunctionRecursionConfig", "lambda:GetFunctionRecursionConfig"], "recursive loop detection"),
    ("AWS::Lambda::Function", "FunctionScalingConfig", ["lambda:PutFunctionScalingConfig"],
     "Lambda managed instances scaling"),
    ("AWS::Lambda::Function", "CapacityProviderConfig", ["lambda:PassCapacityProvider"],
     "Lambda managed instances"),
    ("AWS::Lambda::Function", "TenancyConfig", ["lambda:AssociateRuntimeAlias"], "tenant isolation"),
    ("AWS::Lambda::Function", "PublishToLatestPublished", ["lambda:PublishVersion"], "publishing a version"),
    ("AWS::Logs::LogGroup", "ResourcePolicyDocument",
     ["logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DeleteResourcePolicy"],
     "a log group's resource policy"),
    ("AWS::Logs::LogGroup", "FieldIndexPolicies",
     ["logs:PutIndexPolicy", "logs:DescribeIndexPolicies", "logs:DeleteIndexPolicy"], "field indexes"),
    ("AWS::Logs::LogGroup", "BearerTokenAuthenticationEnabled", ["logs:PutBearerTokenAuthentication"],
     "bearer token ingestion"),
    ("AWS::Logs::LogGroup", "DeletionProtectionEnabled", ["logs:PutLogGroupDeletionProtection"],
     "deletion protection"),
    ("AWS::Logs::LogGroup", "LogDelivery", ["logs:CreateLogDelivery", "firehose:TagDeliveryStream", "s3:REST.PUT.OBJECT"],
     "vended log delivery to S3 or Firehose (s3:REST.PUT.OBJECT is S3's access log name of an object "
     "write, no IAM action); no such property of a log group, never used by it"),
    ("AWS::RDS::DBCluster", "AssociatedRoles",
     ["rds:AddRoleToDBCluster", "rds:RemoveRoleFromDBCluster", "iam:PassRole"], "roles for the cluster"),
    ("AWS::RDS::DBCluster", "SnapshotIdentifier",
     ["rds:RestoreDBClusterFromSnapshot", "rds:DescribeDBClusterSnapshots", "rds:DescribeDBSnapshots"],
     "a restore from a snapshot"),
    ("AWS::RDS::DBCluster", "RestoreType", ["rds:RestoreDBClusterToPointInTime", "rds:DescribeDBClusterAutomatedBackups"],
     "a point-in-time restore"),
    ("AWS::RDS::DBCluster", "EnableHttpEndpoint", ["rds:EnableHttpEndpoint", "rds:DisableHttpEndpoint"],
     "the Data API"),
    ("AWS::RDS::DBCluster", "ManageMasterUserPassword", ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
     "an RDS-managed master password secret (the templates give MasterUserPassword)"),
    ("AWS::RDS::DBCluster", "GlobalClusterIdentifier", ["rds:DescribeGlobalClusters", "rds:RemoveFromGlobalCluster"],
     "a global database"),
    ("AWS::RDS::DBCluster", "DBClusterInstanceClass", ["rds:CreateDBInstance", "rds:DeleteDBInstance",
                                                       "rds:ModifyDBInstance"],
     "a Multi-AZ DB cluster's own instances (the templates' instances are AWS::RDS::DBInstance)"),
    ("AWS::RDS::DBInstance", "AssociatedRoles", ["rds:AddRoleToDBInstance", "rds:RemoveRoleFromDBInstance"],
     "roles for the instance"),
    ("AWS::RDS::DBInstance", "MonitoringRoleArn", ["iam:PassRole", "iam:GetRole", "iam:ListRoles"],
     "Enhanced Monitoring's role"),
    ("AWS::RDS::DBInstance", "SourceDBInstanceIdentifier",
     ["rds:CreateDBInstanceReadReplica", "rds:PromoteReadReplica"], "a read replica of an instance"),
    ("AWS::RDS::DBInstance", "DBSnapshotIdentifier",
     ["rds:RestoreDBInstanceFromDBSnapshot", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"],
     "a restore from a snapshot"),
    ("AWS::RDS::DBInstance", "RestoreTime", ["rds:RestoreDBInstanceToPointInTime"], "a point-in-time restore"),
    ("AWS::RDS::DBInstance", "AutomaticBackupReplicationRegion",
     ["rds:StartDBInstanceAutomatedBackupsReplication", "rds:StopDBInstanceAutomatedBackupsReplication"],
     "cross-region backup replication"),
    ("AWS::RDS::DBInstance", "ManageMasterUserPassword", ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
     "an RDS-managed master password secret (a cluster member has none)"),
    ("AWS::RDS::DBInstance", "DBSnapshot", ["rds:CreateDBSnapshot"],
     "a final snapshot of an instance; a cluster member's delete takes none (the cluster's does)"),
    ("AWS::RDS::DBInstance", "DBParameterGroupName", ["rds:DescribeDBParameterGroups"], "an instance parameter group"),
    ("AWS::S3::Bucket", "AbacStatus", ["s3:PutBucketAbac"], "attribute-based access control"),
    ("AWS::S3::Bucket", "AccelerateConfiguration", ["s3:PutAccelerateConfiguration"], "transfer acceleration"),
    ("AWS::S3::Bucket", "AccessControl", ["s3:PutBucketAcl", "s3:PutObjectAcl"], "a canned ACL"),
    ("AWS::S3::Bucket", "AnalyticsConfigurations", ["s3:PutAnalyticsConfiguration", "s3:DeleteBucketAnalyticsConfiguration"],
     "storage class analysis"),
    ("AWS::S3::Bucket", "CorsConfiguration", ["s3:PutBucketCORS", "s3:DeleteBucketCors"], "CORS"),
    ("AWS::S3::Bucket", "IntelligentTieringConfigurations", ["s3:PutIntelligentTieringConfiguration"],
     "intelligent tiering"),
    ("AWS::S3::Bucket", "InventoryConfigurations", ["s3:PutInventoryConfiguration"], "inventory"),
    ("AWS::S3::Bucket", "LoggingConfiguration", ["s3:PutBucketLogging"], "server access logging"),
    ("AWS::S3::Bucket", "MetricsConfigurations", ["s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration"],
     "request metrics"),
    ("AWS::S3::Bucket", "NotificationConfiguration", ["s3:PutBucketNotification"], "event notifications"),
    ("AWS::S3::Bucket", "ObjectLockConfiguration",
     ["s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration", "s3:DeleteObject"],
     "object lock (the handler writes and deletes a probe object)"),
    ("AWS::S3::Bucket", "ReplicationConfiguration",
     ["s3:PutBucketReplication", "s3:PutReplicationConfiguration", "s3:DeleteBucketReplication", "iam:PassRole"],
     "replication and its role"),
    ("AWS::S3::Bucket", "WebsiteConfiguration", ["s3:PutBucketWebsite", "s3:DeleteBucketWebsite"], "website hosting"),
    ("AWS::S3::Bucket", "MetadataTableConfiguration",
     ["s3:GetBucketMetadataTableConfiguration", "s3:CreateBucketMetadataTableConfiguration",
      "s3:DeleteBucketMetadataTableConfiguration", "s3tables:CreateNamespace", "s3tables:CreateTable",
      "s3tables:CreateTableBucket", "s3tables:GetTable", "s3tables:PutTableBucketPolicy", "s3tables:PutTableEncryption",
      "s3tables:PutTablePolicy", "s3tables:GetTableMetadataLocation", "s3tables:UpdateTableMetadataLocation",
      "s3:UpdateBucketMetadataJournalTableConfiguration", "s3:UpdateBucketMetadataInventoryTableConfiguration",
      "s3:UpdateBucketMetadataAnnotationTableConfiguration"], "S3 Metadata tables"),
    ("AWS::S3::Bucket", "LifecycleConfiguration", ["s3:PutLifecycleConfiguration", "s3:DeleteBucketLifecycle"],
     "lifecycle rules"),
]

# Schema permissions that are no IAM action, with the action that authorizes the operation
# (Amazon S3 API Reference, "Permissions" of each operation).
AUTHORIZED_AS = {
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}

# Which ARN type of the Service Authorization Reference each resource is, and the other
# resources (by ARN type) its handlers name: {cfn type: {arn type: how to name it}}.
KINDS = {
    "AWS::ApplicationAutoScaling::ScalableTarget": ["ScalableTarget", "alarm"],
    "AWS::ApplicationAutoScaling::ScalingPolicy": ["ScalableTarget", "alarm"],
    "AWS::EC2::EIP": ["elastic-ip"],
    "AWS::EC2::FlowLog": ["vpc-flow-log", "vpc"],
    "AWS::EC2::InternetGateway": ["internet-gateway"],
    "AWS::EC2::NatGateway": ["natgateway", "elastic-ip", "subnet"],
    "AWS::EC2::Route": ["route-table"],
    "AWS::EC2::RouteTable": ["route-table", "vpc"],
    "AWS::EC2::SecurityGroup": ["security-group", "vpc"],
    "AWS::EC2::SecurityGroupEgress": ["security-group"],
    "AWS::EC2::Subnet": ["subnet", "vpc"],
    "AWS::EC2::SubnetRouteTableAssociation": ["route-table", "subnet"],
    "AWS::EC2::VPC": ["vpc"],
    "AWS::EC2::VPCEndpoint": ["vpc-endpoint", "vpc", "route-table"],
    "AWS::EC2::VPCGatewayAttachment": ["internet-gateway", "vpc"],
    "AWS::ECS::Cluster": ["cluster"],
    "AWS::ECS::Service": ["service", "service-deployment"],
    "AWS::ECS::TaskDefinition": ["task-definition"],
    "AWS::ElasticLoadBalancingV2::Listener": ["listener/app", "loadbalancer/app/"],
    "AWS::ElasticLoadBalancingV2::ListenerRule": ["listener-rule/app", "listener/app"],
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ["loadbalancer/app/"],
    "AWS::ElasticLoadBalancingV2::TargetGroup": ["targetgroup"],
    "AWS::IAM::Role": ["role"],
    "AWS::KMS::Alias": ["alias", "key"],
    "AWS::KMS::Key": ["key"],
    "AWS::Lambda::Function": ["function", "role", "object"],
    "AWS::Logs::LogGroup": ["log-group"],
    "AWS::RDS::DBCluster": ["cluster", "cluster-pg", "subgrp", "cluster-snapshot", "og"],
    "AWS::RDS::DBClusterParameterGroup": ["cluster-pg"],
    "AWS::RDS::DBInstance": ["db", "cluster", "key", "og", "pg"],
    "AWS::RDS::DBSubnetGroup": ["subgrp"],
    "AWS::Route53::RecordSet": ["hostedzone", "change"],
    "AWS::S3::Bucket": ["bucket", "object"],
    "AWS::S3::BucketPolicy": ["bucket"],
}
# ARN types of resources that carry no tags of the environment: aliases, Route 53 changes and
# the hosted zone (created outside the platform), the alarms AWS creates for target tracking,
# objects and snapshots. Every other resource of the platform is taggable (its schema's
# `tagging.taggable`), so CloudFormation puts the stack's tags (Sceptre's stack_tags) on it.
UNTAGGED_KINDS = {"alias", "change", "hostedzone", "alarm", "object", "cluster-snapshot"}


@functools.lru_cache(maxsize=1)
def _schemas_dir():
    spec = importlib.util.find_spec("cfnlint")
    return os.path.join(spec.submodule_search_locations[0], "data", "schemas")


@functools.lru_cache(maxsize=1)
def _provider():
    with open(os.path.join(_schemas_dir(), "providers", f"{REGION}.json"), encoding="utf-8") as file:
        return json.load(file)


@functools.lru_cache(maxsize=None)
def handler_permissions(resource_type):
    """{handler: [permission]} of a resource type's registry schema."""
    with open(os.path.join(_schemas_dir(), "resources", f"{_provider()[resource_type]}.json"), encoding="utf-8") as f:
        handlers = json.load(f).get("handlers", {})
    return {name: list(handlers.get(name, {}).get("permissions", [])) for name in HANDLERS}


def _sets(value, name):
    """Whether `value` (a template's properties) sets `name` anywhere in it."""
    if isinstance(value, dict):
        return name in value or any(_sets(item, name) for item in value.values())
    if isinstance(value, list):
        return any(_sets(item, name) for item in value)
    return False


def needed_permissions(resource_type, properties):
    """{(handler, IAM action)} the handlers call for a resource with these properties."""
    unused = set()
    for kind, name, permissions, _reason in PROPERTY_PERMISSIONS:
        if kind == resource_type and not _sets(properties, name):
            unused |= set(permissions)
    needed = set()
    for handler, permissions in handler_permissions(resource_type).items():
        for permission in permissions:
            if permission in unused:
                continue
            needed.add((handler, AUTHORIZED_AS.get(permission, permission)))
    return needed


def tags(env):
    return {"Environment": env, "Project": PROJECT}


def stack_name(env, stack):
    return f"{PROJECT}-{env}-{stack.replace('/', '-')}"


@dataclass
class Resource:
    env: str
    stack: str  # "rds", "services/order/service"
    logical: str
    type: str
    properties: dict  # resolved where the template's values resolve
    names: dict = field(default_factory=dict)  # placeholder -> value


def _generated(env, stack, logical):
    """The physical name CloudFormation gives a resource the template names not: stack name,
    logical id, a random suffix (lower-cased where the service wants lower case)."""
    return f"{stack_name(env, stack)}-{logical}-1a2b3c4d".lower()


def _key_id(env, stack, logical):
    return f"{stack_name(env, stack)}-{logical}-0000".lower()


def _env_names(env, stacks):
    """Names of the environment's resources other stacks refer to by parameter."""
    found = {}
    for stack, body in stacks.items():
        for logical, resource in body["Resources"].items():
            kind, properties = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::ECS::Cluster":
                found["ClusterName"] = properties["ClusterName"]
            elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                found["LoadBalancerName"] = _generated(env, stack, logical)[:32]
            elif kind == "AWS::KMS::Key":
                alias = next(r["Properties"]["AliasName"] for r in body["Resources"].values()
                             if r["Type"] == "AWS::KMS::Alias" and r["Properties"]["TargetKeyId"] == {"Ref": logical})
                found[f"{alias.rsplit('/', 1)[-1].capitalize()}KeyArn"] = _key_arn(env, stack, logical)
            elif kind == "AWS::Lambda::Function":
                found[f"{logical}Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{properties['FunctionName']}"
            elif kind == "AWS::S3::Bucket" and stack == "support/artefacts":
                found["ArtefactsBucket"] = _generated(env, stack, logical)
    return found


def _key_arn(env, stack, logical):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{_key_id(env, stack, logical)}"


def _refs(env, stack, body, env_refs):
    """What Ref and GetAtt of the template's own resources and its parameters resolve to."""
    refs = dict(env_refs)
    refs.update({"HostedZoneId": "Z0" + env.upper() + "ZONE", "AdminSecretRotationToken": "1",
                 "BootstrapCodeKey": "lambda/db_bootstrap/0123.zip", "AdminSecretCodeKey": "lambda/admin_secret/0123.zip"})
    for logical, resource in body["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        name = _generated(env, stack, logical)
        if kind == "AWS::IAM::Role":
            name = f"{stack_name(env, stack)}-{logical}-1A2B3C4D"
            refs[logical] = name
            refs[f"{logical}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        elif kind == "AWS::KMS::Key":
            refs[logical] = _key_id(env, stack, logical)
            refs[f"{logical}.Arn"] = _key_arn(env, stack, logical)
        elif kind == "AWS::Logs::LogGroup":
            refs[logical] = properties["LogGroupName"]
            refs[f"{logical}.Arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{properties['LogGroupName']}:*"
        else:
            refs.setdefault(logical, name)
            refs.setdefault(f"{logical}.Arn", name)
    return refs


def resources(env):
    """Every resource of the environment's rendered templates (all golden files of `env`)."""
    root = rendered_iam.GOLDEN / env
    stacks = {path.relative_to(root).with_suffix("").as_posix(): json.loads(path.read_text())
              for path in sorted(root.rglob("*.json"))}
    env_refs = _env_names(env, stacks)
    found = []
    for stack, body in stacks.items():
        refs = _refs(env, stack, body, env_refs)
        for logical, resource in body["Resources"].items():
            properties = rendered_iam.resolved(resource.get("Properties", {}), refs)
            found.append(Resource(env, stack, logical, resource["Type"], properties,
                                  _names(env, stack, logical, resource["Type"], properties, refs)))
    return found


def _names(env, stack, logical, kind, properties, refs):
    """{placeholder: value} for the ARNs a resource's handlers name."""
    generated = _generated(env, stack, logical)
    names = {"StackName": stack_name(env, stack), "Id": "0123", "ObjectName": "*"}
    # EC2 ids and other generated names: the CloudFormation-generated name of this resource.
    for placeholder in ("VpcId", "SubnetId", "SecurityGroupId", "SecurityGroupRuleId", "RouteTableId",
                        "InternetGatewayId", "NatGatewayId", "AllocationId", "VpcEndpointId", "VpcFlowLogId",
                        "NetworkInterfaceId", "TargetGroupName", "TargetGroupId", "LoadBalancerId", "ListenerId",
                        "ListenerRuleId", "DbClusterInstanceName", "DbInstanceName", "SubnetGroupName",
                        "ClusterParameterGroupName", "ClusterSnapshotName", "BucketName", "RoleNameWithPath",
                        "KeyId", "ServiceDeploymentId"):
        names[placeholder] = generated
    names["LoadBalancerName"] = refs.get("LoadBalancerName", generated[:32])
    names["ClusterName"] = refs.get("ClusterName", generated)
    names["RoleNameWithPath"] = refs.get(logical, generated)
    if kind == "AWS::ECS::Cluster":
        names["ClusterName"] = properties["ClusterName"]
    if kind == "AWS::ECS::Service":
        names["ServiceName"] = properties["ServiceName"]
    if kind == "AWS::ECS::TaskDefinition":
        names.update(TaskDefinitionFamilyName=properties["Family"], TaskDefinitionRevisionNumber="1")
    if kind == "AWS::Lambda::Function":
        names["FunctionName"] = properties["FunctionName"]
        names.update(BucketName=properties["Code"]["S3Bucket"], ObjectName=properties["Code"]["S3Key"])
        names["RoleNameWithPath"] = properties["Role"].rsplit("/", 1)[-1]
    if kind == "AWS::Logs::LogGroup":
        names["LogGroupName"] = properties["LogGroupName"]
    if kind == "AWS::KMS::Key":
        names["KeyId"] = refs[logical]
    if kind == "AWS::KMS::Alias":
        names["Alias"] = properties["AliasName"].removeprefix("alias/")
        names["KeyId"] = properties["TargetKeyId"]
    if kind == "AWS::RDS::DBInstance":
        names["DbClusterInstanceName"] = properties["DBClusterIdentifier"]
        key = properties.get("PerformanceInsightsKMSKeyId", "")
        names["KeyId"] = key.rsplit("/", 1)[-1]
    if kind in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        # The engine's default option and parameter groups, which RDS names in the request
        # when the template names none.
        major = properties.get("EngineVersion", "17").split(".")[0]
        names["OptionGroupName"] = f"default:{properties['Engine']}-{major}"
        names["ParameterGroupName"] = f"default.{properties['Engine']}{major}"
    if kind == "AWS::RDS::DBCluster":
        names["ClusterParameterGroupName"] = properties["DBClusterParameterGroupName"]
        names["SubnetGroupName"] = properties["DBSubnetGroupName"]
        names["ClusterSnapshotName"] = f"{generated}-snapshot"
    if kind == "AWS::S3::BucketPolicy":
        names["BucketName"] = properties["Bucket"]
    if kind == "AWS::Route53::RecordSet":
        names["Id"] = properties["HostedZoneId"]
    if kind in ("AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy"):
        service = stack.split("/")[1]
        # Application Auto Scaling names a target by an id of its own; the target tracking
        # alarms are named after the service's resource id.
        names["ResourceId"] = f"{env}-{service}-target"
        names["AlarmName"] = f"TargetTracking-service/{refs['ClusterName']}/{service}-AlarmHigh-0123"
    return names


CREATING_VERBS = ("Create", "Allocate", "Register")
NOT_CREATING = ("CreateTags", "CreateGrant", "CreateAlias", "CreateLogDelivery", "CreateServiceLinkedRole")


def creates(action):
    name = action.split(":", 1)[1]
    return name.startswith(CREATING_VERBS) and name not in NOT_CREATING


def tag_context(env, handler, action, arn_kind, own_kind):
    """What IAM knows of tags for a request: the stack's tags (Sceptre's stack_tags, which
    CloudFormation puts on every resource it can tag) as request tags where the create handler
    makes the resource or tags it, and as the resource's tags on a resource that exists."""
    context = {}
    making = handler == "create" and creates(action) and arn_kind in (own_kind, None)
    if making or action.split(":", 1)[1].startswith(("TagResource", "AddTags", "CreateTags", "TagRole")):
        context.update({f"aws:RequestTag/{key}": value for key, value in tags(env).items()})
        context["aws:TagKeys"] = sorted(tags(env))
    if not making and arn_kind not in UNTAGGED_KINDS and arn_kind is not None:
        context.update({f"aws:ResourceTag/{key}": value for key, value in tags(env).items()})
    return context


def _arn_kind_of(action, arn):
    for kind, arn_format, _required in service_authorization.resource_types(action):
        pattern = _PLACEHOLDER.sub("*", arn_format)
        if fnmatch.fnmatchcase(arn, pattern):
            return kind
    return None


def arns(action, resource):
    """The ARNs `action` names for `resource`: the types of the resource itself and of what
    it names (KINDS) the action has, else the action's required types, else `*`."""
    types = service_authorization.resource_types(action)
    if not types:
        return ["*"]
    kinds = KINDS.get(resource.type, [])
    chosen = [t for t in types if t[0] in kinds] or [t for t in types if t[2]]
    found = []
    for kind, arn_format, _required in chosen:
        missing = [p for p in service_authorization.placeholders(arn_format) if p not in resource.names]
        if missing:
            raise AssertionError(f"{resource.env} {resource.stack} {resource.logical}: {action} names a {kind}: "
                                 f"no value for {missing}")
        found.append(_PLACEHOLDER.sub(
            lambda m: {"Partition": "aws", "Region": REGION, "Account": ACCOUNT}.get(m.group(1))
            or resource.names[m.group(1)], arn_format))
    return found or ["*"]


# The IAM actions whose request carries the role's (or the new role's) permissions boundary.
BOUNDARY_KEYED = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
                  "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"}
# Handler permissions the deploy role must never have, whatever the template: the handler
# calls them only for a change the platform forbids.
DENIED_BY_DESIGN = {
    ("AWS::IAM::Role", "iam:DeleteRolePermissionsBoundary"):
        "the update handler removes a role's boundary only when the template drops PermissionsBoundary; "
        "every role of the platform carries its environment's",
}
# The service-linked role each resource type's handler creates on the service's first use,
# and the role's name (IAM's, per service).
SERVICE_LINKED_ROLES = {
    "AWS::ECS::Cluster": "ecs.amazonaws.com",
    "AWS::ApplicationAutoScaling::ScalableTarget": "ecs.application-autoscaling.amazonaws.com",
    "AWS::RDS::DBCluster": "rds.amazonaws.com",
    "AWS::RDS::DBClusterParameterGroup": "rds.amazonaws.com",
    "AWS::RDS::DBInstance": "rds.amazonaws.com",
    "AWS::RDS::DBSubnetGroup": "rds.amazonaws.com",
    # Not in the schema: Elastic Load Balancing creates its role on the first CreateLoadBalancer
    # with the caller's credentials (ELB User Guide, "Service-linked role").
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "elasticloadbalancing.amazonaws.com",
}
SERVICE_LINKED_ROLE_NAMES = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
    "rds.amazonaws.com": "AWSServiceRoleForRDS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
}


def service_linked_role_arn(service):
    return f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{SERVICE_LINKED_ROLE_NAMES[service]}"


def beyond_schema_requests(resource):
    """What the handlers call that their schemas do not list, each from AWS's documentation:
    - Elastic Load Balancing creates its service-linked role on the first CreateLoadBalancer
      with the caller's credentials (ELB User Guide, "Service-linked role");
    - an interface endpoint with private DNS associates the VPC with the private hosted zone
      AWS manages for the service, as the caller (AWS PrivateLink Guide: the principal needs
      route53:AssociateVPCWithHostedZone); the zone's id is AWS's."""
    why = f"{resource.env} {resource.stack} {resource.logical} {resource.type}"
    if resource.type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        service = SERVICE_LINKED_ROLES[resource.type]
        return [Need(Request("iam:CreateServiceLinkedRole", service_linked_role_arn(service),
                             {"iam:AWSServiceName": service}), f"{why} first CreateLoadBalancer")]
    if resource.type == "AWS::EC2::VPCEndpoint" and resource.properties.get("PrivateDnsEnabled"):
        return private_dns_requests(resource.names["VpcId"], why)
    return []


def private_dns_requests(vpc_id, why):
    return [Need(Request("route53:AssociateVPCWithHostedZone", arn, {}), f"{why} private DNS")
            for arn in ("arn:aws:route53:::hostedzone/Z0AWSMANAGED",
                        f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc_id}")]


@dataclass(frozen=True)
class Need:
    request: Request
    why: str  # "dev rds DatabaseCluster AWS::RDS::DBCluster create"


def resource_requests(resource):
    """[Need] of one resource: its handlers' permissions on its ARNs."""
    needs = []
    for handler, action in sorted(needed_permissions(resource.type, resource.properties)):
        if action == "iam:PassRole":
            continue  # judged with iam:PassedToService: passed_roles()
        if (resource.type, action) in DENIED_BY_DESIGN:
            continue  # held denied: test_deploy_role
        if action == "iam:CreateServiceLinkedRole":
            service = SERVICE_LINKED_ROLES[resource.type]
            needs.append(Need(Request(action, service_linked_role_arn(service), {"iam:AWSServiceName": service}),
                              f"{resource.env} {resource.stack} {resource.logical} {resource.type} {handler}"))
            continue
        for arn in arns(action, resource):
            kind = _arn_kind_of(action, arn) if arn != "*" else None
            context = tag_context(resource.env, handler, action, kind, KINDS[resource.type][0])
            if action in BOUNDARY_KEYED and resource.type == "AWS::IAM::Role":
                context["iam:PermissionsBoundary"] = resource.properties["PermissionsBoundary"]
            needs.append(Need(Request(action, arn, context),
                              f"{resource.env} {resource.stack} {resource.logical} {resource.type} {handler}"))
    return needs


# Where a template passes a role, and to which service.
PASSED_ROLES = {
    ("AWS::ECS::TaskDefinition", "ExecutionRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::ECS::TaskDefinition", "TaskRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::Lambda::Function", "Role"): "lambda.amazonaws.com",
    ("AWS::EC2::FlowLog", "DeliverLogsPermissionArn"): "vpc-flow-logs.amazonaws.com",
    ("AWS::RDS::DBInstance", "MonitoringRoleArn"): "monitoring.rds.amazonaws.com",
    ("AWS::RDS::DBCluster", "MonitoringRoleArn"): "monitoring.rds.amazonaws.com",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "RoleARN"): "application-autoscaling.amazonaws.com",
    ("AWS::ECS::Service", "Role"): "ecs.amazonaws.com",
}


def passed_roles(resource):
    needs = []
    for (kind, name), service in PASSED_ROLES.items():
        if resource.type == kind and name in resource.properties:
            needs.append(Need(Request("iam:PassRole", resource.properties[name],
                                      {"iam:PassedToService": service}),
                              f"{resource.env} {resource.stack} {resource.logical} {kind} {name}"))
    return needs


def custom_resource_requests(resource):
    """A custom resource: CloudFormation invokes its ServiceToken function with the caller's
    credentials."""
    return [Need(Request("lambda:InvokeFunction", resource.properties["ServiceToken"]),
                 f"{resource.env} {resource.stack} {resource.logical} {resource.type} ServiceToken")]
