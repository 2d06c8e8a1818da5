"""What every stack template shares: reading its configuration, and the few building
blocks used by more than one stack (tags, KMS key policies, roles, log groups)."""
from troposphere import Output, Sub, Tags, Template, awslambda, ec2, iam, kms, logs, s3

from fargate_platform import config, config_model
from fargate_platform.names import PROJECT_CODE
from fargate_platform.templates.iam import allow



def load(sceptre_user_data):
    """The validated Environment named by a stack's sceptre_user_data."""
    try:
        project_path = sceptre_user_data["project_path"]
        env_name = sceptre_user_data["environment"]
    except (KeyError, TypeError):
        raise config_model.UserDataError(
            "sceptre_user_data needs project_path and environment (see any stack file under config/)"
        ) from None
    return config.load_environment(project_path, env_name)


def new_template(description):
    template = Template(Description=description)
    template.set_version("2010-09-09")
    return template


def tags(environment, **extra):
    return Tags(Project=PROJECT_CODE, Environment=environment.name, **extra)


def name(environment, *parts):
    """A physical name, `fargate-platform-<env>-<parts>`: unique per account and region."""
    return "-".join((PROJECT_CODE, environment.name) + parts)


def output(template, key, value, description):
    template.add_output(Output(key, Value=value, Description=description))


def checkov_skips(*skips):
    """Metadata that tells checkov which checks do not apply to a resource, and why."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in skips]}}


def account_root():
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")


def key_policy(*statements):
    """A KMS key policy: the account administers the key through IAM, plus `statements`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account_root()},
                "Action": "kms:*",
                "Resource": "*",
            },
            *statements,
        ],
    }


def logs_key_statement(log_group_arn_patterns):
    """Lets CloudWatch Logs use a key, only for the log groups the ARN patterns match."""
    return {
        "Sid": "CloudWatchLogsEncryptsTheseLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": Sub("logs.${AWS::Region}.amazonaws.com")},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group_arn_patterns}},
    }


def retained_key(template, title, environment, purpose, statements, alias):
    """A customer-managed key with rotation, kept when its stack is deleted or it is replaced."""
    key = template.add_resource(
        kms.Key(
            title,
            Description=f"{PROJECT_CODE} {environment.name}: {purpose}",
            EnableKeyRotation=True,
            KeyPolicy=key_policy(*statements),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Tags=tags(environment),
        )
    )
    template.add_resource(kms.Alias(f"{title}Alias", AliasName=alias, TargetKeyId=key.ref()))
    return key


def log_group_arn(log_group_name):
    return Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group_name}")


def log_group(template, title, environment, log_group_name, retention_days, key_arn, mask_personal_data=False):
    properties = {
        "LogGroupName": log_group_name,
        "RetentionInDays": retention_days,
        "KmsKeyId": key_arn,
        "Tags": tags(environment),
    }
    if mask_personal_data:
        properties["DataProtectionPolicy"] = data_protection_policy(log_group_name)
    return template.add_resource(logs.LogGroup(title, **properties))


# Managed data identifiers that CloudWatch Logs masks in every service's logs.
PERSONAL_DATA_IDENTIFIERS = [
    "EmailAddress",
    "IpAddress",
    "CreditCardNumber",
    "AwsSecretKey",
    "OpenSshPrivateKey",
    "PgpPrivateKey",
    "PkcsPrivateKey",
    "PuttyPrivateKey",
]


def data_protection_policy(log_group_name):
    identifiers = [
        Sub(f"arn:${{AWS::Partition}}:dataprotection::aws:data-identifier/{identifier}")
        for identifier in PERSONAL_DATA_IDENTIFIERS
    ]
    return {
        "Name": f"{log_group_name.strip('/').replace('/', '-')}-mask-personal-data",
        "Version": "2021-06-01",
        "Statement": [
            {
                "Sid": "audit",
                "DataIdentifier": identifiers,
                "Operation": {"Audit": {"FindingsDestination": {}}},
            },
            {
                "Sid": "mask",
                "DataIdentifier": identifiers,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }


def boundary_arn(environment):
    """The permissions boundary every role of the environment carries (None: not configured)."""
    if environment.permissions_boundary is None:
        return None
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{environment.permissions_boundary}")


def role(template, title, environment, service_principal, statements, policy_name, **extra):
    """An IAM role for an AWS service, with one inline policy and the environment's boundary."""
    properties = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service_principal},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
                }
            ],
        },
        "Policies": [iam.Policy(PolicyName=policy_name, PolicyDocument={"Version": "2012-10-17", "Statement": statements})]
        if statements
        else [],
        "Tags": tags(environment),
        **extra,
    }
    boundary = boundary_arn(environment)
    if boundary is not None:
        properties["PermissionsBoundary"] = boundary
    return template.add_resource(iam.Role(title, **properties))


def kms_key_arn(key_id):
    """The ARN of a KMS key of this account and region (`*`: any of them)."""
    return Sub(f"arn:${{AWS::Partition}}:kms:${{AWS::Region}}:${{AWS::AccountId}}:key/{key_id}")


def ssm_parameter_arn(parameter_name_or_path):
    """The ARN of an SSM parameter (or path pattern) given its name starting with '/'."""
    return Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter_name_or_path}")


# Given inline, it makes EC2 drop a group's default allow-all egress; real egress is then
# added by `egress_to_group` only.
NO_EGRESS = ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress")


def egress_to_group(template, title, source, destination, from_port, to_port, description):
    """TCP from one security group to another, as a resource of its own (no reference cycle)."""
    return template.add_resource(
        ec2.SecurityGroupEgress(
            title,
            GroupId=source.ref(),
            IpProtocol="tcp",
            FromPort=from_port,
            ToPort=to_port,
            DestinationSecurityGroupId=destination.ref(),
            Description=description,
        )
    )


def describe_parameters_statement():
    """Which key encrypts a parameter (to re-encrypt one kept under an older data key).
    DescribeParameters takes no resource ARN; it returns metadata, never values."""
    return allow("SeeWhichKeyEncryptsAParameter", "ssm:DescribeParameters", "*")


def to_json(template):
    return template.to_json(indent=1)


def private_bucket(template, title, environment, lifecycle_rule, policy_statements=(), skips=()):
    """An S3 bucket that is encrypted (S3-managed keys: ALB access logs accept no other),
    versioned, private, owner-enforced, kept on delete, and reachable over TLS only."""
    bucket = template.add_resource(
        s3.Bucket(
            title,
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[lifecycle_rule]),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=checkov_skips(
                ("CKV_AWS_21", "Versioning is enabled (checkov misreads the troposphere form)."),
                *skips,
            ),
            Tags=tags(environment),
        )
    )
    template.add_resource(
        s3.BucketPolicy(
            f"{title}Policy",
            Bucket=bucket.ref(),
            PolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    *policy_statements,
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.get_att("Arn"), Sub(f"${{{title}.Arn}}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            },
        )
    )
    return bucket


LAMBDA_RUNTIME = "python3.12"


def lambda_function(template, title, environment, *, handler, role, code_bucket, code_key, timeout, log_group,
                    description, environment_variables=None, vpc_config=None, extra_skips=()):
    """A Lambda function of the platform: code from the artefacts bucket, logs in its own group."""
    properties = {
        "Description": description,
        "Runtime": LAMBDA_RUNTIME,
        "Handler": handler,
        "Role": role.get_att("Arn"),
        "Code": awslambda.Code(S3Bucket=code_bucket, S3Key=code_key),
        "Timeout": timeout,
        "MemorySize": 256,
        "LoggingConfig": awslambda.LoggingConfig(LogGroup=log_group.ref()),
        "Tags": tags(environment),
        "Metadata": checkov_skips(
            ("CKV_AWS_116", "Invoked synchronously (by CloudFormation or a Sceptre hook): the caller sees every error."),
            ("CKV_AWS_173", "Its environment holds names and addresses only, never a secret."),
            ("CKV_AWS_115", "Invoked a few times per deploy: no concurrency to reserve."),
            *extra_skips,
        ),
    }
    if environment_variables:
        properties["Environment"] = awslambda.Environment(Variables=environment_variables)
    if vpc_config is not None:
        properties["VpcConfig"] = vpc_config
    return template.add_resource(awslambda.Function(title, **properties))
