"""The permissions boundary of an environment: the most any role the platform creates in it
(its functions, its services' execution and task roles) may ever do. A ceiling: it grants
nothing by itself."""
from fargate_platform.names import PROJECT_CODE
from fargate_platform.templates.iam import allow, arn, deny

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
