"""The account stacks: what an AWS account needs before any environment is launched in it,
launched by an administrator with `sceptre launch account` (docs/ci.md).

- identity (config/account/identity.yaml): the ECS service-linked role and GitHub's OpenID
  Connect identity provider (each optional: IAM holds one per account, it may exist);
- one stack per environment the account hosts (config/account/<env>.yaml):
  - `fargate-platform-<env>-boundary`, the permissions boundary every role the platform
    creates in that environment carries: the most its workloads and functions may ever do;
  - a deploy role, assumable only by this repository's workflow jobs that run in the
    GitHub environment `<env>`, with the permissions the platform's stacks need and no
    way to create a role without the boundary (so the pipeline cannot mint an administrator);
  - a read-only diff role for the GitHub environment `<env>-diff`, so a pipeline can print
    `sceptre diff` before a reviewer approves the deploy (it reads no secret, changes nothing).

One stack per environment keeps each template under CloudFormation's 51,200-byte body limit
and lets dev and prod live in different accounts. The roles are named
`fargate-platform-account-<env>-...`, outside every environment's `fargate-platform-<env>-`
prefix that the deploy roles may manage.
"""
import re
from pathlib import Path

from troposphere import GetAtt, Output, Sub, iam

from fargate_platform import names
from fargate_platform.errors import PlatformError
from fargate_platform.templates import common

PROJECT_CODE = common.PROJECT_CODE
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# GitHub's certificate thumbprints: IAM no longer checks them for this provider (it trusts
# the CA library), but older API clients require the list.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
# The account stack group's own folder name: it cannot be an environment too.
ACCOUNT_GROUP = "account"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# A managed policy holds at most 6,144 characters, whitespace excluded.
MANAGED_POLICY_MAX_CHARS = 6144
# Services the platform's roles are passed to.
PASSED_TO_SERVICES = [
    "ecs-tasks.amazonaws.com",
    "lambda.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
]
# Service-linked roles that AWS creates on first use of these services.
SERVICE_LINKED_ROLE_SERVICES = [
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
]
# IAM actions that change something: what a workload may never do.
IAM_WRITE_ACTIONS = [
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Enable*",
    "iam:PassRole",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
]
BOUNDARY_CHANGES = [
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
]
BOUNDARY_POLICY_CHANGES = [
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
]
PARAMETER_ACTIONS = [
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "ssm:PutParameter",
    "ssm:DeleteParameter",
    "ssm:DeleteParameters",
    "ssm:LabelParameterVersion",
    "ssm:UnlabelParameterVersion",
]


class AccountConfigError(PlatformError, ValueError):
    """Bad sceptre_user_data for the account stack: the message names the key."""


def arn(service, resource, region="*", account="${AWS::AccountId}"):
    return Sub(f"arn:${{AWS::Partition}}:{service}:{region}:{account}:{resource}")


def iam_arn(resource):
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:{resource}")


def statement(sid, effect, actions, resources, condition=None, not_resource=False):
    result = {"Sid": sid, "Effect": effect, "Action": actions}
    result["NotResource" if not_resource else "Resource"] = resources
    if condition:
        result["Condition"] = condition
    return result


def allow(sid, actions, resources, condition=None):
    return statement(sid, "Allow", actions, resources, condition)


def deny(sid, actions, resources, condition=None, not_resource=False):
    return statement(sid, "Deny", actions, resources, condition, not_resource)


def logical_id(env_name, suffix):
    return "".join(part.capitalize() for part in env_name.split("-")) + suffix


def _flag(user_data, key, where, default=True):
    value = user_data.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise AccountConfigError(f"{where}: sceptre_user_data.{key}: expected true or false, got {value!r}")
    return value


class IdentitySettings:
    """sceptre_user_data of the account-wide stack (config/account/identity.yaml)."""

    WHERE = "config/account/identity.yaml"

    def __init__(self, user_data):
        self.create_ecs_service_linked_role = _flag(user_data, "create_ecs_service_linked_role", self.WHERE)
        self.create_oidc_provider = _flag(user_data, "create_oidc_provider", self.WHERE)


class EnvironmentSettings:
    """sceptre_user_data of one environment's stack (config/account/<env>.yaml)."""

    def __init__(self, user_data):
        env_name = user_data.get("environment")
        where = f"config/account/{env_name}.yaml" if isinstance(env_name, str) else "config/account/<env>.yaml"
        try:
            self.environment = names.validate_environment_name(env_name)
        except names.InvalidNameError as error:
            raise AccountConfigError(f"{where}: sceptre_user_data.environment: {error}") from None
        if env_name == ACCOUNT_GROUP:
            raise AccountConfigError(
                f"{where}: sceptre_user_data.environment: {ACCOUNT_GROUP!r} is the account stack group, not an environment"
            )
        # The local environment's account stack: its boundary alone (no pipeline assumes a role).
        self.boundary_only = _flag(user_data, "boundary_only", where, default=False)
        repository = user_data.get("github_repository")
        if self.boundary_only:
            repository = None
        elif not isinstance(repository, str) or not GITHUB_REPOSITORY.match(repository):
            raise AccountConfigError(
                f"{where}: sceptre_user_data.github_repository: expected OWNER/REPO as GitHub spells it, "
                f"got {repository!r} (set github_repository in config/account/config.yaml)"
            )
        self.repository = repository
        project_path = user_data.get("project_path")
        if not isinstance(project_path, str) or not project_path:
            raise AccountConfigError(f"{where}: sceptre_user_data.project_path: expected \"{{{{ project_path }}}}\"")
        self._check_prefixes(Path(project_path) / "config", env_name, where)

    @staticmethod
    def _check_prefixes(config_dir, env_name, where):
        """The deploy role of `dev` manages `fargate-platform-dev-*`: an environment `dev-eu`
        would fall inside that prefix and be reachable from dev's pipeline."""
        if not config_dir.is_dir():
            raise AccountConfigError(f"{where}: sceptre_user_data.project_path: no config/ folder in {config_dir.parent}")
        for other in sorted(path.name for path in config_dir.iterdir() if path.is_dir()):
            if other == ACCOUNT_GROUP or other == env_name:
                continue
            if other.startswith(env_name + "-") or env_name.startswith(other + "-"):
                raise AccountConfigError(
                    f"{where}: environments {env_name!r} and {other!r} share the name prefix "
                    f"{PROJECT_CODE}-{min(env_name, other, key=len)}-, so one's deploy role could change "
                    "the other's resources: rename one"
                )


class Environment:
    """The names and ARNs of one environment as the account's policies see them."""

    def __init__(self, name):
        self.name = name
        self.prefix = f"{PROJECT_CODE}-{name}"  # stacks, functions, buckets, roles, policies
        self.parameter_root = names.parameter_root(PROJECT_CODE, name)
        self.boundary_name = f"{self.prefix}-boundary"
        self.deploy_role_name = f"{PROJECT_CODE}-{ACCOUNT_GROUP}-{name}-deploy"
        self.diff_role_name = f"{PROJECT_CODE}-{ACCOUNT_GROUP}-{name}-diff"

    @property
    def boundary_arn(self):
        return iam_arn(f"policy/{self.boundary_name}")

    def stacks(self):
        return arn("cloudformation", f"stack/{self.prefix}-*/*")

    def parameters(self):
        return [arn("ssm", f"parameter{self.parameter_root}"), arn("ssm", f"parameter{self.parameter_root}/*")]

    def buckets(self):
        return [Sub(f"arn:${{AWS::Partition}}:s3:::{self.prefix}-*"), Sub(f"arn:${{AWS::Partition}}:s3:::{self.prefix}-*/*")]

    def other_environments_keys(self):
        """Matches a KMS key with a platform alias of which none is this environment's."""
        return {
            "ForAnyValue:StringLike": {"kms:ResourceAliases": f"alias/{PROJECT_CODE}/*"},
            "ForAllValues:StringNotLike": {"kms:ResourceAliases": f"alias/{PROJECT_CODE}/{self.name}/*"},
        }


def boundary_statements(env):
    """What the platform's workloads and functions in `env` may ever do."""
    return [
        allow(
            "PullImages",
            ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
             "ecr:BatchGetImage"],
            "*",
        ),
        allow(
            "WriteLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            arn("logs", "log-group:*"),
        ),
        allow(
            "OwnEnvironmentParameters",
            ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter",
             "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
             "ssm:ListTagsForResource"],
            env.parameters(),
        ),
        allow(
            # The functions describe a kept parameter to see which key encrypts it. The action
            # takes no resource ARN; it returns metadata, never values.
            "DescribeParameters",
            ["ssm:DescribeParameters"],
            "*",
        ),
        allow(
            "UseKeys",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
             "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:DescribeKey"],
            arn("kms", "key/*"),
        ),
        allow(
            "ManageNetworkInterfacesInVpc",
            ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
             "ec2:UnassignPrivateIpAddresses"],
            arn("ec2", "*"),
        ),
        allow(
            # Describe calls take no resource ARN.
            "DescribeNetwork",
            ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"],
            "*",
        ),
        allow(
            "OwnEnvironmentBuckets",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
             "s3:GetBucketLocation"],
            env.buckets(),
        ),
        allow(
            # Metrics and traces: these actions take no resource ARN.
            "MetricsAndTraces",
            ["cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
             "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
            "*",
        ),
        allow(
            "DataServicesInThisAccount",
            ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
             "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sns:Publish", "events:PutEvents",
             "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
             "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
             "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"],
            [arn("sqs", "*"), arn("sns", "*"), arn("events", "event-bus/*"), arn("dynamodb", "table/*")],
        ),
        allow(
            "OwnEnvironmentSecrets",
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            arn("secretsmanager", f"secret:{PROJECT_CODE}/{env.name}/*"),
        ),
        deny("NoIamChanges", IAM_WRITE_ACTIONS, "*"),
        deny("NoPermissionsBoundaryChanges", BOUNDARY_CHANGES + BOUNDARY_POLICY_CHANGES, "*"),
        deny("NoOtherEnvironmentsParameters", PARAMETER_ACTIONS, env.parameters(), not_resource=True),
        deny("NoOtherEnvironmentsKeys", ["kms:*"], "*", env.other_environments_keys()),
    ]


def deploy_policies(env):
    """The deploy role's statements, grouped into managed policies that each fit IAM's size limit.

    What a launch of the environment calls with the role, and nothing else
    (tests/templates/test_deploy_role.py holds them against the rendered templates'
    CloudFormation handlers, Sceptre, and the project's hooks and resolvers). Where an ARN
    cannot name the environment (keys, load balancers and target groups, whose names
    CloudFormation generates), the statement requires the environment's tag: Sceptre's
    stack_tags, which CloudFormation puts on every resource it creates.
    """
    role_prefix = iam_arn(f"role/{env.prefix}-*")
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": env.boundary_arn}}
    tagged = {"StringEquals": {"aws:ResourceTag/Environment": env.name}}
    tagging = {"StringEquals": {"aws:RequestTag/Environment": env.name}}
    load_balancers = [arn("elasticloadbalancing", f"{kind}/*") for kind in
                      ("loadbalancer/app", "targetgroup", "listener/app", "listener-rule/app")]
    return {
        "stacks-iam": [
            allow(
                # sceptre launch and diff, the termination_protection hook and !rule_priority.
                "OwnEnvironmentStacks",
                ["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                 "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                 "cloudformation:ListStackResources", "cloudformation:GetTemplate",
                 "cloudformation:GetTemplateSummary", "cloudformation:UpdateTerminationProtection",
                 "cloudformation:TagResource"],
                env.stacks(),
            ),
            allow(
                # `sceptre diff` summarises the generated template too: no stack ARN.
                "SummariseTemplates",
                ["cloudformation:GetTemplateSummary"],
                "*",
            ),
            allow(
                # The boundary condition is what keeps the pipeline from minting an administrator.
                "RolesOnlyWithTheBoundary",
                ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePolicy"],
                role_prefix,
                with_boundary,
            ),
            allow(
                "ManageOwnEnvironmentRoles",
                ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                 "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
                 "iam:TagRole", "iam:UntagRole"],
                role_prefix,
            ),
            allow(
                "PassOwnEnvironmentRolesToItsServices",
                ["iam:PassRole"],
                role_prefix,
                {"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICES}},
            ),
            allow(
                "ServiceLinkedRolesOfThePlatformsServices",
                ["iam:CreateServiceLinkedRole"],
                iam_arn("role/aws-service-role/*"),
                {"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED_ROLE_SERVICES}},
            ),
            deny("NeverRemoveABoundary", ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"], "*"),
            deny("NeverChangeABoundaryPolicy", BOUNDARY_POLICY_CHANGES, iam_arn(f"policy/{PROJECT_CODE}-*-boundary")),
            deny(
                "NeverChangeTheCiIdentity",
                IAM_WRITE_ACTIONS,
                [iam_arn(f"role/{PROJECT_CODE}-{ACCOUNT_GROUP}-*"), iam_arn(f"policy/{PROJECT_CODE}-{ACCOUNT_GROUP}-*"),
                 iam_arn("oidc-provider/*")],
            ),
            allow(
                # The custom resource's function, invoked by CloudFormation, the bootstrap
                # function, invoked by the db_bootstrap hook, and the functions' own stacks.
                "OwnEnvironmentFunctions",
                ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
                 "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                 "lambda:TagResource", "lambda:UntagResource", "lambda:InvokeFunction"],
                arn("lambda", f"function:{env.prefix}-*"),
            ),
            allow(
                # CloudFormation resolves `{{resolve:ssm-secure}}` of the admin password with the
                # caller's credentials: that parameter only, no service's credentials.
                "AdminPasswordForItsDynamicReference",
                ["ssm:GetParameters"],
                arn("ssm", f"parameter{names.admin_password_parameter(env.parameter_root)}"),
            ),
        ],
        "network-compute": [
            allow(
                "Network",
                ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet", "ec2:DeleteSubnet",
                 "ec2:ModifySubnetAttribute", "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway",
                 "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:AllocateAddress",
                 "ec2:ReleaseAddress", "ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:CreateRouteTable",
                 "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute",
                 "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation",
                 "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                 "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
                 "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                 "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint", "ec2:CreateFlowLogs",
                 "ec2:DeleteFlowLogs", "ec2:CreateTags", "ec2:DeleteTags"],
                # Account-less ARNs: the endpoint services AWS offers in every region.
                [arn("ec2", "*"), arn("ec2", "*", account="")],
            ),
            allow(
                # Names are CloudFormation's (not the environment's): the new resource must carry
                # the environment's tag.
                "CreateLoadBalancers",
                ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                load_balancers[:2],
                tagging,
            ),
            allow(
                # Tags on create (no tags yet) or on a resource of the environment, never moving one
                # into it.
                "TagLoadBalancers",
                ["elasticloadbalancing:AddTags"],
                load_balancers,
                {**tagging, "StringEqualsIfExists": {"aws:ResourceTag/Environment": env.name}},
            ),
            allow(
                "LoadBalancers",
                ["elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyLoadBalancerAttributes",
                 "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
                 "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:CreateListener",
                 "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
                 "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:CreateRule",
                 "elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
                 "elasticloadbalancing:SetRulePriorities", "elasticloadbalancing:DeleteTargetGroup",
                 "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
                 "elasticloadbalancing:RemoveTags"],
                load_balancers,
                tagged,
            ),
            allow(
                # The cluster is named after the environment (templates/cluster.py).
                "OwnEnvironmentEcs",
                ["ecs:CreateCluster", "ecs:DeleteCluster", "ecs:UpdateCluster", "ecs:UpdateClusterSettings",
                 "ecs:PutClusterCapacityProviders", "ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
                 "ecs:DescribeClusters", "ecs:DescribeServices", "ecs:DescribeServiceDeployments",
                 "ecs:ListServiceDeployments", "ecs:RegisterTaskDefinition", "ecs:TagResource", "ecs:UntagResource",
                 "ecs:ListTagsForResource"],
                [arn("ecs", f"cluster/{env.prefix}"), arn("ecs", f"service/{env.prefix}/*"),
                 arn("ecs", f"service-deployment/{env.prefix}/*"), arn("ecs", f"task-definition/{env.prefix}-*:*")],
            ),
            allow(
                # Deregistering and describing task definitions take no resource ARN.
                "TaskDefinitions",
                ["ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition"],
                "*",
            ),
            allow(
                # Scalable targets have ids of Application Auto Scaling's own: the environment's tag,
                # on the new target, then on the target.
                "RegisterScalableTargets",
                ["application-autoscaling:RegisterScalableTarget"],
                arn("application-autoscaling", "scalable-target/*"),
                tagging,
            ),
            allow(
                "Scaling",
                ["application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
                 "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
                 "application-autoscaling:TagResource", "application-autoscaling:UntagResource",
                 "application-autoscaling:ListTagsForResource"],
                arn("application-autoscaling", "scalable-target/*"),
                {"StringEquals": {"aws:ResourceTag/Environment": env.name}},
            ),
            allow(
                # Target tracking creates and removes its alarms (named after the ECS service) with
                # the caller's rights.
                "ScalingAlarms",
                ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
                arn("cloudwatch", f"alarm:TargetTracking-service/{env.prefix}/*"),
            ),
            allow(
                # Describe, list and metric reads take no resource ARN.
                "DescribeInfrastructure",
                ["ec2:Describe*", "elasticloadbalancing:Describe*", "rds:Describe*", "application-autoscaling:Describe*",
                 "route53:ListHostedZones", "logs:DescribeLogGroups", "cloudwatch:GetMetricData"],
                "*",
            ),
        ],
        "data-storage": [
            allow(
                # CloudFormation names the database's resources after the stack; an instance and a
                # cluster use the engine's default option and parameter groups.
                "Database",
                ["rds:CreateDBCluster", "rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:CreateDBInstance",
                 "rds:DeleteDBInstance", "rds:ModifyDBInstance", "rds:RebootDBInstance", "rds:CreateDBSubnetGroup",
                 "rds:DeleteDBSubnetGroup", "rds:ModifyDBSubnetGroup", "rds:CreateDBClusterParameterGroup",
                 "rds:DeleteDBClusterParameterGroup", "rds:ModifyDBClusterParameterGroup",
                 "rds:ResetDBClusterParameterGroup", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource",
                 "rds:RemoveTagsFromResource", "rds:ListTagsForResource"],
                [arn("rds", f"{kind}:{env.prefix}-*") for kind in ("cluster", "db", "subgrp", "cluster-pg",
                                                                    "cluster-snapshot")]
                + [arn("rds", "og:default:*"), arn("rds", "pg:default.*")],
            ),
            allow(
                # CreateKey takes no key ARN: require the environment's tag on the new key.
                "CreateOwnEnvironmentKeys",
                ["kms:CreateKey"],
                "*",
                {"StringEquals": {"aws:RequestTag/Environment": env.name}},
            ),
            allow(
                # Key ids are KMS's: only keys that carry the environment's tag.
                "ManageKeys",
                ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
                 "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
                 "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription", "kms:CreateGrant",
                 "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                arn("kms", "key/*"),
                tagged,
            ),
            allow(
                # SSM decrypts the admin password for `{{resolve:ssm-secure}}` with the caller's rights.
                "DecryptTheAdminPasswordThroughSsm",
                ["kms:Decrypt"],
                arn("kms", "key/*"),
                {"StringEquals": {"aws:ResourceTag/Environment": env.name,
                                  "kms:ViaService": Sub("ssm.${AWS::Region}.amazonaws.com")}},
            ),
            allow(
                "OwnEnvironmentAliases",
                ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                arn("kms", f"alias/{PROJECT_CODE}/{env.name}/*"),
            ),
            deny("NeverTouchOtherEnvironmentsKeys", ["kms:*"], "*", env.other_environments_keys()),
            allow(
                "OwnEnvironmentLogGroups",
                ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
                 "logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:PutDataProtectionPolicy",
                 "logs:DeleteDataProtectionPolicy", "logs:GetDataProtectionPolicy", "logs:TagResource",
                 "logs:UntagResource", "logs:ListTagsForResource"],
                [arn("logs", f"log-group:/{PROJECT_CODE}/{env.name}/*"),
                 arn("logs", f"log-group:/aws/lambda/{env.prefix}-*")],
            ),
            allow(
                # The buckets, the lambda code the upload hook writes and the functions' handlers read.
                "OwnEnvironmentBuckets",
                ["s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketPolicy", "s3:PutBucketPolicy",
                 "s3:DeleteBucketPolicy", "s3:PutEncryptionConfiguration", "s3:PutBucketVersioning",
                 "s3:PutBucketPublicAccessBlock", "s3:PutLifecycleConfiguration", "s3:PutBucketOwnershipControls",
                 "s3:PutBucketTagging", "s3:TagResource", "s3:UntagResource", "s3:GetBucketAcl", "s3:GetObject",
                 "s3:GetObjectVersion", "s3:PutObject"],
                env.buckets(),
            ),
            allow(
                "ServiceDnsRecords",
                ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetHostedZone"],
                Sub("arn:${AWS::Partition}:route53:::hostedzone/*"),
            ),
            allow("DnsChanges", ["route53:GetChange"], Sub("arn:${AWS::Partition}:route53:::change/*")),
            allow(
                # An interface VPC endpoint with private DNS associates the VPC with a zone AWS manages.
                "EndpointPrivateDns",
                ["route53:AssociateVPCWithHostedZone"],
                [Sub("arn:${AWS::Partition}:route53:::hostedzone/*"), arn("ec2", "vpc/*")],
            ),
        ],
    }


def diff_statements(env):
    """Read-only: what `sceptre diff <env>` calls (the deployed stack, its template and both
    templates' summaries) and the resolvers it runs, and nothing that returns a secret."""
    return [
        allow(
            # !env_output and !alb_output read stack outputs; !rule_priority the service stack's resources.
            "ReadOwnEnvironmentStacks",
            ["cloudformation:DescribeStacks", "cloudformation:GetTemplate", "cloudformation:GetTemplateSummary",
             "cloudformation:ListStackResources"],
            env.stacks(),
        ),
        allow(
            # The generated template's summary and !rule_priority's listener rules and target group
            # tags take no resource ARN.
            "ReadTemplatesAndListenerRules",
            ["cloudformation:GetTemplateSummary", "elasticloadbalancing:DescribeRules",
             "elasticloadbalancing:DescribeTags"],
            "*",
        ),
    ]


def github_trust(provider_arn, repository, github_environment):
    """Only jobs of `repository` that run in the GitHub environment `github_environment`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubWorkflowsOfThisRepositoryInOneEnvironment",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{github_environment}",
                    }
                },
            }
        ],
    }


def policy_document(statements):
    return {"Version": "2012-10-17", "Statement": statements}


def github_provider_arn():
    # Fixed by IAM: one provider per URL per account, created by the identity stack (or before it).
    return iam_arn(f"oidc-provider/{GITHUB_OIDC_HOST}")


def identity_template(settings):
    template = common.new_template(f"{PROJECT_CODE} account: ECS service-linked role and GitHub's OIDC provider")
    if settings.create_ecs_service_linked_role:
        template.add_resource(
            iam.ServiceLinkedRole(
                "EcsServiceLinkedRole",
                AWSServiceName="ecs.amazonaws.com",
                Description="Lets ECS manage the platform's Fargate tasks, load balancer targets and ENIs",
                # Kept on delete: other ECS workloads in the account may rely on it.
                DeletionPolicy="Retain",
                UpdateReplacePolicy="Retain",
            )
        )
    if settings.create_oidc_provider:
        provider = template.add_resource(
            iam.OIDCProvider(
                "GitHubOidcProvider",
                Url=f"https://{GITHUB_OIDC_HOST}",
                ClientIdList=[STS_AUDIENCE],
                ThumbprintList=GITHUB_THUMBPRINTS,
            )
        )
        provider_arn = provider.ref()
    else:
        provider_arn = github_provider_arn()
    template.add_output(Output("GitHubOidcProviderArn", Value=provider_arn, Description="GitHub's OIDC identity provider"))
    return template


def environment_template(settings):
    env = Environment(settings.environment)
    template = common.new_template(
        f"{PROJECT_CODE} account: the permissions boundary, deploy role and diff role of {env.name}"
    )
    boundary = template.add_resource(
        iam.ManagedPolicy(
            "Boundary",
            ManagedPolicyName=env.boundary_name,
            Description=f"{PROJECT_CODE} {env.name}: the most any role of the environment may do",
            PolicyDocument=policy_document(boundary_statements(env)),
        )
    )
    common.output(template, "BoundaryArn", boundary.ref(), f"The permissions boundary of every role in {env.name}")
    if settings.boundary_only:
        return template
    policies = []
    for part, statements in deploy_policies(env).items():
        policies.append(
            template.add_resource(
                iam.ManagedPolicy(
                    "Deploy" + "".join(word.capitalize() for word in part.split("-")),
                    ManagedPolicyName=f"{env.deploy_role_name}-{part}",
                    Description=f"{PROJECT_CODE} {env.name}: what the pipeline needs to launch the platform ({part})",
                    PolicyDocument=policy_document(statements),
                )
            )
        )
    deploy_role = template.add_resource(
        iam.Role(
            "DeployRole",
            RoleName=env.deploy_role_name,
            Description=f"{PROJECT_CODE} {env.name}: the GitHub environment '{env.name}' deploys with it",
            AssumeRolePolicyDocument=github_trust(github_provider_arn(), settings.repository, env.name),
            ManagedPolicyArns=[policy.ref() for policy in policies],
            # A whole environment's first launch (Aurora included) outlasts one hour.
            MaxSessionDuration=7200,
            DependsOn=[boundary.title],
        )
    )
    diff_role = template.add_resource(
        iam.Role(
            "DiffRole",
            RoleName=env.diff_role_name,
            Description=f"{PROJECT_CODE} {env.name}: read-only, for sceptre diff before a deploy is approved",
            AssumeRolePolicyDocument=github_trust(github_provider_arn(), settings.repository, f"{env.name}-diff"),
            Policies=[iam.Policy(PolicyName="diff", PolicyDocument=policy_document(diff_statements(env)))],
        )
    )
    common.output(template, "DeployRoleArn", GetAtt(deploy_role, "Arn"), f"Assumed by the GitHub environment '{env.name}'")
    common.output(template, "DiffRoleArn", GetAtt(diff_role, "Arn"), f"Assumed by the GitHub environment '{env.name}-diff'")
    return template


def sceptre_handler(sceptre_user_data):
    if not isinstance(sceptre_user_data, dict):
        raise AccountConfigError("config/account/: the stack's sceptre_user_data must be a mapping")
    if "environment" in sceptre_user_data:
        return common.to_json(environment_template(EnvironmentSettings(sceptre_user_data)))
    return common.to_json(identity_template(IdentitySettings(sceptre_user_data)))
