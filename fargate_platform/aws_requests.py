"""What IAM is asked for one AWS API call: the caller's own request, and the requests a
service makes on the caller's behalf, as iam_policy.Request values.

    requests_of(Call("ssm", "PutParameter", {"Name": "/p/x", "Type": "SecureString",
                                             "KeyId": key_arn, ...}), account, region, keys)
      -> [Request("ssm:PutParameter", "arn:aws:ssm:<region>:<account>:parameter/p/x"),
          Request("kms:Encrypt", key_arn, {"kms:EncryptionContext:PARAMETER_ARN": ...,
                                           "kms:ViaService": "ssm.<region>.amazonaws.com"})]

The action and the ARN format come from the Service Authorization Reference
(service_authorization.py); the values of an ARN's placeholders are the call's parameters
of the same name (FunctionName, LogGroupName, KeyId, ...), plus the few whose name differs
(NAMED_BY). SSM's use of KMS for a SecureString is AWS's documented one: a standard
parameter is encrypted with kms:Encrypt and read with kms:Decrypt, each with the parameter's
ARN as encryption context and with the caller's credentials (so kms:ViaService is SSM's).

`keys` answers what the call alone does not say: `keys.arn(key_id)` (an alias, id or ARN ->
the key's ARN) and `keys.of_parameter(name)` (the key of an existing SecureString, or None
if it is no SecureString), from moto in the tests and from the emulator's own state locally.
"""
from dataclasses import dataclass, field

from fargate_platform import service_authorization
from fargate_platform.iam_policy import Request

# Placeholders of an ARN format filled from a parameter of another name, by IAM prefix.
NAMED_BY = {
    "ssm": {"ParameterNameWithoutLeadingSlash": ("Name", "Names")},
    "s3": {"BucketName": ("Bucket",), "ObjectName": ("Key",)},
    "logs": {"LogGroupName": ("logGroupName",), "LogStreamName": ("logStreamName",)},
}


@dataclass(frozen=True)
class Call:
    service: str  # IAM prefix: botocore's signingName ("ssm", "elasticloadbalancing")
    operation: str  # "PutParameter"
    params: dict = field(default_factory=dict)


def _values(params, names):
    """Every value the parameters give for one placeholder (a list parameter gives many)."""
    for name in names:
        value = params.get(name)
        if value is None:
            continue
        return list(value) if isinstance(value, (list, tuple)) else [value]
    return []


def _placeholder_values(call, keys):
    """[{placeholder: value}], one per resource the call names (GetParameters names many)."""
    renamed = NAMED_BY.get(call.service, {})
    formats = [arn_format for _kind, arn_format, _required
               in service_authorization.resource_types(service_authorization.action_of(call.service, call.operation))]
    wanted = {name for arn_format in formats for name in service_authorization.placeholders(arn_format)}
    by_lower = {key.lower(): key for key in call.params}
    filled = [{}]
    for placeholder in sorted(wanted):
        names = renamed.get(placeholder) or (by_lower.get(placeholder.lower(), placeholder),)
        values = [_normalised(call.service, placeholder, value, keys) for value in _values(call.params, names)]
        if values:
            filled = [dict(entry, **{placeholder: value}) for entry in filled for value in values]
    return filled


def _normalised(service, placeholder, value, keys):
    if placeholder == "ParameterNameWithoutLeadingSlash":
        return value.lstrip("/")
    if placeholder == "FunctionName":  # a name, a partial or a full ARN
        return value.split(":function:", 1)[-1].split(":", 1)[0]
    if placeholder == "KeyId":
        return keys.arn(value).rsplit("/", 1)[-1]
    return value


def requests_of(call, account, region, keys, partition="aws"):
    action = service_authorization.action_of(call.service, call.operation)
    requests = []
    for names in _placeholder_values(call, keys):
        for arn in service_authorization.resource_arns(action, names, region, account, partition):
            requests.append(Request(action, arn))
    if call.service == "ssm":
        requests.extend(_ssm_key_requests(call, account, region, keys, partition))
    if call.service == "logs" and call.operation in ("GetLogEvents", "FilterLogEvents") and call.params.get("unmask"):
        # Seeing what a data protection policy masks takes logs:Unmask on the log group.
        group = call.params.get("logGroupName") or call.params.get("logGroupIdentifier", "").rsplit(":", 1)[-1]
        requests.extend(Request("logs:Unmask", arn) for arn in service_authorization.resource_arns(
            "logs:Unmask", {"LogGroupName": group}, region, account, partition))
    return requests


def parameter_arn(name, account, region, partition="aws"):
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def _ssm_key_requests(call, account, region, keys, partition):
    """SSM's kms:Encrypt / kms:Decrypt for a SecureString, with the caller's credentials."""
    params = call.params
    if call.operation == "PutParameter" and params.get("Type") == "SecureString":
        key = keys.arn(params.get("KeyId") or "alias/aws/ssm")
        names, action = [params["Name"]], "kms:Encrypt"
    elif call.operation in ("GetParameter", "GetParameters") and params.get("WithDecryption"):
        names = _values(params, ("Name", "Names"))
        action, key = "kms:Decrypt", None
    else:
        return []
    found = []
    for name in names:
        key_arn = key or keys.of_parameter(name)
        if key_arn is None:  # not a SecureString (or absent): nothing to decrypt
            continue
        found.append(Request(action, key_arn, {
            "kms:EncryptionContext:PARAMETER_ARN": parameter_arn(name, account, region, partition),
            "kms:ViaService": f"ssm.{region}.amazonaws.com",
            "kms:CallerAccount": account,
        }))
    return found


def lambda_service_requests(function_name, log_stream, in_vpc, account, region, partition="aws"):
    """What Lambda does with a function's execution role: write the function's log stream
    (in /aws/lambda/<function>) and, for a function in a VPC (`in_vpc`: {"SubnetId": ...,
    "SecurityGroupId": ...}), manage its network interfaces (the actions of AWS's
    AWSLambdaVPCAccessExecutionRole)."""
    stream = (f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
              f":log-stream:{log_stream}")
    found = [Request("logs:CreateLogStream", stream), Request("logs:PutLogEvents", stream)]
    if in_vpc:
        names = {"NetworkInterfaceId": "eni-0fa1", **in_vpc}
        for action in ("CreateNetworkInterface", "DescribeNetworkInterfaces", "DeleteNetworkInterface",
                       "AssignPrivateIpAddresses", "UnassignPrivateIpAddresses"):
            found += [Request(f"ec2:{action}", arn) for arn in
                      service_authorization.resource_arns(f"ec2:{action}", names, region, account, partition)]
    return found


def ecs_agent_requests(container, keys, account, region, partition="aws"):
    """What ECS does with a task's execution role to start one container (a container
    definition, intrinsic functions resolved): pull its image when it is in the account's
    ECR, create and write its awslogs stream, read its SSM secrets (and SSM decrypts them)."""
    found = []
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com/"
    if container["Image"].startswith(registry):
        repository = container["Image"][len(registry):].split("@", 1)[0].split(":", 1)[0]
        arn = f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"
        found += [Request("ecr:GetAuthorizationToken")]
        found += [Request(f"ecr:{action}", arn)
                  for action in ("BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage")]
    options = container.get("LogConfiguration", {}).get("Options", {})
    if container.get("LogConfiguration", {}).get("LogDriver") == "awslogs":
        stream = (f"arn:{partition}:logs:{region}:{account}:log-group:{options['awslogs-group']}"
                  f":log-stream:{options['awslogs-stream-prefix']}/{container['Name']}/task-id")
        found += [Request("logs:CreateLogStream", stream), Request("logs:PutLogEvents", stream)]
    names = [secret["ValueFrom"].split(":parameter", 1)[1] for secret in container.get("Secrets", [])]
    if names:
        found += requests_of(Call("ssm", "GetParameters", {"Names": names, "WithDecryption": True}),
                             account, region, keys, partition)
    return found
