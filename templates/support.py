"""The support stacks: the artefacts bucket (Lambda code), and the platform's
custom-resource functions (the admin secret).

Two stacks, because the functions' code must be in the bucket before the
functions exist: the `!upload_lambda_code` hook of support/functions.yaml puts it
there between the two launches, under a content-hash key.
"""
from troposphere import Parameter, Sub, s3

from fargate_platform import config_model, names
from fargate_platform.templates import common
from fargate_platform.templates.iam import allow

ADMIN_SECRET_HANDLER = "fargate_platform.lambdas.admin_secret.handler.handler"
ADMIN_SECRET_TIMEOUT_SECONDS = 30


def artefacts(environment):
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: artefacts bucket (Lambda code)")
    bucket = common.private_bucket(
        template,
        "ArtefactsBucket",
        environment,
        s3.LifecycleRule(
            Id="ExpireReplacedCode",
            Status="Enabled",
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=90),
            AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
        ),
        skips=[("CKV_AWS_18", "Only the deploy pipeline writes here; CloudTrail records who did.")],
    )
    logs_key = common.retained_key(
        template,
        "LogsKey",
        environment,
        "CloudWatch Logs of the platform's functions and services",
        [
            common.logs_key_statement(
                [
                    common.log_group_arn(names.function_log_group(f"{common.name(environment)}-*")),
                    common.log_group_arn(f"{names.log_group_root(common.PROJECT_CODE, environment.name)}/*"),
                ]
            )
        ],
        f"alias/{common.PROJECT_CODE}/{environment.name}/logs",
    )
    common.output(template, "LogsKeyArn", logs_key.get_att("Arn"), "Encrypts the environment's log groups")
    common.output(template, "BucketName", bucket.ref(), "Where the Lambda code zips are uploaded")
    common.output(template, "BucketArn", bucket.get_att("Arn"), "The artefacts bucket's ARN")
    return template


def functions(environment):
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: custom-resource functions")
    bucket = template.add_parameter(Parameter("ArtefactsBucket", Type="String", Description="The artefacts bucket"))
    logs_key = template.add_parameter(Parameter("LogsKeyArn", Type="String", Description="Encrypts the log group"))
    code_key = template.add_parameter(
        Parameter("AdminSecretCodeKey", Type="String", Description="S3 key of the admin_secret zip (content hash)")
    )
    root = environment.parameter_root
    admin_parameter = names.admin_password_parameter(root)
    function_name = common.name(environment, "admin-secret")
    log_group = common.log_group(
        template, "AdminSecretLogGroup", environment, names.function_log_group(function_name), environment.log_retention_days,
        key_arn=logs_key.ref(),
    )
    role = common.role(
        template,
        "AdminSecretRole",
        environment,
        "lambda.amazonaws.com",
        [
            allow("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], Sub("${AdminSecretLogGroup.Arn}:*")),
            allow("KeepTheAdminPassword", ["ssm:GetParameter", "ssm:PutParameter"],
                  common.ssm_parameter_arn(admin_parameter)),
            common.describe_parameters_statement(),
            # The data key is made later, by the rds stack; SSM encrypts this one parameter
            # under its ARN as encryption context, which scopes the grant to any key of the
            # account (a relaunch after a delete brings a new key, the parameter has the old).
            # A standard parameter: Encrypt and Decrypt, no data keys.
            allow("EncryptTheAdminPasswordThroughSsm", ["kms:Encrypt", "kms:Decrypt"],
                  common.kms_key_arn("*"),
                  {"StringEquals": {"kms:ViaService": Sub("ssm.${AWS::Region}.amazonaws.com"),
                                    "kms:EncryptionContext:PARAMETER_ARN": common.ssm_parameter_arn(admin_parameter)}}),
        ],
        "admin-secret",
    )
    function = common.lambda_function(
        template,
        "AdminSecretFunction",
        environment,
        handler=ADMIN_SECRET_HANDLER,
        role=role,
        code_bucket=bucket.ref(),
        code_key=code_key.ref(),
        timeout=ADMIN_SECRET_TIMEOUT_SECONDS,
        log_group=log_group,
        description="Custom resource: generates the database admin password into an SSM SecureString",
        # The function refuses parameter names outside the environment's path.
        environment_variables={"PARAMETER_ROOT": root},
        extra_skips=(("CKV_AWS_117", "Talks only to SSM and KMS, public AWS APIs: no VPC needed."),),
    )
    function.FunctionName = function_name
    common.output(template, "AdminSecretFunctionArn", function.get_att("Arn"), "ServiceToken of the admin secret")
    return template


def sceptre_handler(sceptre_user_data):
    environment = common.load(sceptre_user_data)
    part = sceptre_user_data.get("part")
    builders = {"artefacts": artefacts, "functions": functions}
    if part not in builders:
        raise config_model.UserDataError(f"sceptre_user_data.part must be one of {sorted(builders)}, got {part!r}")
    return common.to_json(builders[part](environment))

