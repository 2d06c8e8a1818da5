"""What an environment's pipelines may do: the deploy role's managed policies (what
launching the environment calls: CloudFormation's resource handlers with the caller's
credentials, Sceptre, the hooks and resolvers; tests/templates/test_deploy_role.py holds it
there), the read-only diff role's statements, and the trust of both in GitHub's jobs."""
from troposphere import Sub

from fargate_platform import names
from fargate_platform.names import PROJECT_CODE
from fargate_platform.templates.account_settings import ACCOUNT_GROUP
from fargate_platform.templates.boundary import BOUNDARY_POLICY_CHANGES, IAM_WRITE_ACTIONS
from fargate_platform.templates.iam import allow, arn, deny, iam_arn

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
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
                # hooks/deployment_report.py, after a deployment the circuit breaker failed: the
                # service's stopped tasks and their last log lines.
                "DeploymentReportTasks",
                ["ecs:ListTasks"],
                "*",
                {"ArnEquals": {"ecs:cluster": arn("ecs", f"cluster/{env.prefix}")}},
            ),
            allow(
                "DeploymentReportTaskDetails",
                ["ecs:DescribeTasks"],
                arn("ecs", f"task/{env.prefix}/*"),
            ),
            allow(
                "DeploymentReportLogLines",
                ["logs:GetLogEvents"],
                arn("logs", f"log-group:{names.log_group_root(PROJECT_CODE, env.name)}/services/*:log-stream:*"),
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


def github_provider_arn():
    # Fixed by IAM: one provider per URL per account, created by the identity stack (or before it).
    return iam_arn(f"oidc-provider/{GITHUB_OIDC_HOST}")
