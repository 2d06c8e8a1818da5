"""The rds stack: one Aurora PostgreSQL cluster for the environment, the data key,
the admin password, and the in-VPC function that gives each service its own
database, role and credentials.

The admin password is made by the admin_secret custom resource into an SSM
SecureString and reaches the cluster only as `{{resolve:ssm-secure:NAME:VERSION}}`:
never a template value, parameter or output. The version comes from the custom
resource, so a rotation reaches the cluster.
"""
from troposphere import GetAtt, Parameter, Select, Sub, awslambda, cloudformation, ec2, rds

from fargate_platform import names
from fargate_platform.templates import common
from fargate_platform.templates.iam import allow

BOOTSTRAP_HANDLER = "fargate_platform.lambdas.db_bootstrap.handler.handler"
BOOTSTRAP_TIMEOUT_SECONDS = 60  # below the !db_bootstrap hook's read timeout
# Where packaging puts the environment's CA bundle inside the bootstrap zip.
BOOTSTRAP_CA_BUNDLE = "fargate_platform/lambdas/db_bootstrap/ca-bundle.pem"
CUSTOM_RESOURCE_TIMEOUT_SECONDS = 120
POSTGRES_PORT = 5432


class AdminSecret(cloudformation.CustomResource):
    """The admin password in SSM, made by the support stack's admin_secret function."""

    resource_type = "Custom::AdminSecret"
    props = {
        **cloudformation.CustomResource.props,
        "ParameterName": (str, True),
        "KeyId": (str, True),
        "RotationToken": (str, False),
    }


def security_groups(template, environment, vpc_id, container_group_id):
    bootstrap_group = template.add_resource(
        ec2.SecurityGroup(
            "BootstrapSecurityGroup",
            GroupDescription="The database bootstrap function",
            VpcId=vpc_id,
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
                    Description="SSM and KMS APIs (through NAT or endpoints)",
                )
            ],
            Tags=common.tags(environment, Name=common.name(environment, "db-bootstrap")),
        )
    )
    database_group = template.add_resource(
        ec2.SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="The Aurora cluster: from the tasks and the bootstrap function only",
            VpcId=vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=POSTGRES_PORT, ToPort=POSTGRES_PORT,
                    SourceSecurityGroupId=container_group_id, Description="From the Fargate tasks",
                ),
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=POSTGRES_PORT, ToPort=POSTGRES_PORT,
                    SourceSecurityGroupId=bootstrap_group.ref(), Description="From the bootstrap function",
                ),
            ],
            SecurityGroupEgress=[common.NO_EGRESS],  # the database starts no connection
            Tags=common.tags(environment, Name=common.name(environment, "database")),
        )
    )
    common.egress_to_group(
        template, "BootstrapToDatabase", bootstrap_group, database_group, POSTGRES_PORT, POSTGRES_PORT, "To the database"
    )
    return bootstrap_group, database_group


def database_cluster(template, environment, *, data_key, admin_secret, subnets, database_group):
    database = environment.database
    subnet_group = template.add_resource(
        rds.DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupDescription=f"{common.PROJECT_CODE} {environment.name}: private subnets",
            SubnetIds=subnets,
            Tags=common.tags(environment),
        )
    )
    parameters = template.add_resource(
        rds.DBClusterParameterGroup(
            "DatabaseClusterParameters",
            Description=f"{common.PROJECT_CODE} {environment.name}: TLS required",
            Family=f"aurora-postgresql{database.major_version}",
            Parameters={"rds.force_ssl": "1"},
            Tags=common.tags(environment),
        )
    )
    cluster = template.add_resource(
        rds.DBCluster(
            "DatabaseCluster",
            Engine="aurora-postgresql",
            EngineVersion=database.engine_version,
            Port=POSTGRES_PORT,
            MasterUsername=database.admin_username,
            MasterUserPassword=Sub(
                "{{resolve:ssm-secure:${Name}:${Version}}}",
                Name=GetAtt(admin_secret, "ParameterName"),
                Version=GetAtt(admin_secret, "Version"),
            ),
            DBSubnetGroupName=subnet_group.ref(),
            VpcSecurityGroupIds=[database_group.ref()],
            DBClusterParameterGroupName=parameters.ref(),
            StorageEncrypted=True,
            KmsKeyId=data_key.get_att("Arn"),
            BackupRetentionPeriod=database.backup_retention_days,
            DeletionProtection=environment.deletion_protection,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=["postgresql"],
            CopyTagsToSnapshot=True,
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            Tags=common.tags(environment),
        )
    )
    if not environment.deletion_protection:
        cluster.Metadata = common.checkov_skips(
            ("CKV_AWS_139", f"{environment.name} can be torn down (a final snapshot is kept): protection off by config."),
        )
    for index in range(1 + database.readers):
        role_name = "Writer" if index == 0 else f"Reader{index}"
        template.add_resource(
            rds.DBInstance(
                f"Database{role_name}",
                DBClusterIdentifier=cluster.ref(),
                DBInstanceClass=database.instance_class,
                Engine="aurora-postgresql",
                PubliclyAccessible=False,
                AutoMinorVersionUpgrade=True,
                EnablePerformanceInsights=True,
                PerformanceInsightsKMSKeyId=data_key.get_att("Arn"),
                Metadata=common.checkov_skips(
                    ("CKV_AWS_118", "Performance Insights and the exported PostgreSQL log cover what we watch."),
                ),
                Tags=common.tags(environment),
            )
        )
    return cluster


def bootstrap_function(template, environment, *, data_key, cluster, subnets, bootstrap_group, logs_key, code_bucket,
                       code_key):
    root = environment.parameter_root
    function_name = common.name(environment, "db-bootstrap")
    log_group = common.log_group(
        template, "BootstrapLogGroup", environment, names.function_log_group(function_name), environment.log_retention_days,
        key_arn=logs_key,
    )
    role = common.role(
        template,
        "BootstrapRole",
        environment,
        "lambda.amazonaws.com",
        [
            allow("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], Sub("${BootstrapLogGroup.Arn}:*")),
            allow("ReadTheAdminPassword", ["ssm:GetParameter"],
                  common.ssm_parameter_arn(names.admin_password_parameter(root))),
            allow("KeepServiceCredentials",
                  ["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameters"],  # purge deletes both
                  common.ssm_parameter_arn(f"{root}/*/db/*")),
            common.describe_parameters_statement(),
            # Through SSM, for the environment's parameters only: any key of the account, so
            # credentials kept from before a delete (under the old, retained key) stay readable
            # and are re-encrypted with the current one. Standard parameters: SSM calls Encrypt
            # and Decrypt (GenerateDataKey is for advanced ones).
            allow("UseDataKeysThroughSsm", ["kms:Decrypt", "kms:Encrypt"],
                  common.kms_key_arn("*"),
                  {"StringEquals": {"kms:ViaService": Sub("ssm.${AWS::Region}.amazonaws.com")},
                   "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": common.ssm_parameter_arn(f"{root}/*")}}),
            # Lambda manages the function's network interfaces with this role, on `*` as AWS's
            # AWSLambdaVPCAccessExecutionRole does; the boundary keeps them in the account.
            allow("RunInsideTheVpc", ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                                      "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                      "ec2:UnassignPrivateIpAddresses"], "*"),
        ],
        "db-bootstrap",
        Metadata=common.checkov_skips(
            ("CKV_AWS_111", "Lambda's VPC network-interface actions support no resource-level permissions."),
        ),
    )
    function = common.lambda_function(
        template,
        "BootstrapFunction",
        environment,
        handler=BOOTSTRAP_HANDLER,
        role=role,
        code_bucket=code_bucket,
        code_key=code_key,
        timeout=BOOTSTRAP_TIMEOUT_SECONDS,
        log_group=log_group,
        description="Gives a service its own database, role and credentials (invoked by the !db_bootstrap hook)",
        environment_variables={
            "DB_HOST": GetAtt(cluster, "Endpoint.Address"),
            "DB_PORT": GetAtt(cluster, "Endpoint.Port"),
            "ADMIN_USERNAME": environment.database.admin_username,
            "ADMIN_PASSWORD_PARAMETER": names.admin_password_parameter(root),
            "ADMIN_DATABASE": "postgres",
            "DATA_KEY_ID": data_key.get_att("Arn"),
            "PARAMETER_ROOT": root,
            "CA_BUNDLE": BOOTSTRAP_CA_BUNDLE,
            "SSLMODE": "verify-full",
            "CONNECTION_LIMIT": str(environment.database.connection_limit),
        },
        vpc_config=awslambda.VPCConfig(SubnetIds=subnets, SecurityGroupIds=[bootstrap_group.ref()]),
    )
    function.FunctionName = function_name
    function.DependsOn = ["DatabaseWriter"]  # connects to the cluster once there is an instance
    return function


def sceptre_handler(sceptre_user_data):
    environment = common.load(sceptre_user_data)
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: Aurora PostgreSQL and database bootstrap")
    vpc_id = template.add_parameter(Parameter("VpcId", Type="String", Description="The network stack's VPC"))
    private_subnets = template.add_parameter(
        Parameter("PrivateSubnetIds", Type="CommaDelimitedList", Description="Subnets of the database and the function")
    )
    container_group = template.add_parameter(
        Parameter("ContainerSecurityGroupId", Type="String", Description="The tasks' security group (cluster stack)")
    )
    admin_secret_function = template.add_parameter(
        Parameter("AdminSecretFunctionArn", Type="String", Description="The admin_secret custom resource function")
    )
    logs_key = template.add_parameter(Parameter("LogsKeyArn", Type="String", Description="Encrypts the log group"))
    code_bucket = template.add_parameter(Parameter("ArtefactsBucket", Type="String", Description="The artefacts bucket"))
    code_key = template.add_parameter(
        Parameter("BootstrapCodeKey", Type="String", Description="S3 key of the db_bootstrap zip (content hash)")
    )
    rotation = template.add_parameter(
        Parameter(
            "AdminSecretRotationToken", Type="String", Default="initial",
            Description="Change to generate a new admin password",
        )
    )
    subnets = [Select(0, private_subnets.ref()), Select(1, private_subnets.ref())]

    data_key = common.retained_key(
        template,
        "DataKey",
        environment,
        "database storage and every credential in SSM (kept after a delete: snapshots stay readable)",
        [],
        names.data_key_alias(common.PROJECT_CODE, environment.name),
    )
    admin_secret = template.add_resource(
        AdminSecret(
            "AdminSecret",
            ServiceToken=admin_secret_function.ref(),
            ServiceTimeout=CUSTOM_RESOURCE_TIMEOUT_SECONDS,
            ParameterName=names.admin_password_parameter(environment.parameter_root),
            KeyId=data_key.get_att("Arn"),
            RotationToken=rotation.ref(),
        )
    )
    bootstrap_group, database_group = security_groups(template, environment, vpc_id.ref(), container_group.ref())
    cluster = database_cluster(template, environment, data_key=data_key, admin_secret=admin_secret, subnets=subnets,
                               database_group=database_group)
    function = bootstrap_function(
        template, environment, data_key=data_key, cluster=cluster, subnets=subnets, bootstrap_group=bootstrap_group,
        logs_key=logs_key.ref(), code_bucket=code_bucket.ref(), code_key=code_key.ref(),
    )

    common.output(template, "DataKeyArn", data_key.get_att("Arn"), "Encrypts the database and its credentials")
    common.output(template, "DbHost", GetAtt(cluster, "Endpoint.Address"), "Writer endpoint")
    common.output(template, "DbPort", GetAtt(cluster, "Endpoint.Port"), "Database port")
    common.output(template, "DatabaseSecurityGroupId", database_group.ref(), "The database's security group")
    common.output(template, "BootstrapFunctionName", function.ref(), "Invoked by the !db_bootstrap hook")
    common.output(template, "BootstrapFunctionArn", function.get_att("Arn"), "The bootstrap function's ARN")
    common.output(
        template, "AdminPasswordParameter", GetAtt(admin_secret, "ParameterName"), "SSM name of the admin password"
    )
    return common.to_json(template)
