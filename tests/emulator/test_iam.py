"""Layer 5: the emulator enforces IAM on requests signed by roles' credentials (iam_enforcement.py).

Each test makes its own role through the operator's key ("testing", allowed), assumes it
through the emulator's STS and calls with those credentials, as a Lambda function does.
"""
import json

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"


def parameter_arn(name):
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources="*", **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


TRUST = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole"})


class Role:
    """A role made by the operator, and clients signed with its assumed credentials."""

    def __init__(self, emulator, statements, boundary=None):
        iam = emulator.client("iam")
        self.name = emulator.unique("role")
        extra = {}
        if boundary is not None:
            arn = iam.create_policy(PolicyName=emulator.unique("boundary"),
                                    PolicyDocument=json.dumps(policy(*boundary)))["Policy"]["Arn"]
            extra["PermissionsBoundary"] = arn
        self.arn = iam.create_role(RoleName=self.name, AssumeRolePolicyDocument=json.dumps(TRUST),
                                   **extra)["Role"]["Arn"]
        if statements:
            iam.put_role_policy(RoleName=self.name, PolicyName="main",
                                PolicyDocument=json.dumps(policy(*statements)))
        self.session = "session-1"
        credentials = emulator.client("sts").assume_role(
            RoleArn=self.arn, RoleSessionName=self.session)["Credentials"]
        self.url = emulator.url
        self.credentials = dict(aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])

    @property
    def session_arn(self):
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.name}/{self.session}"

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **self.credentials)


def denied(call, *args, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response


def test_a_role_gets_what_its_policy_allows_and_is_denied_the_rest(emulator):
    ssm = emulator.client("ssm")
    allowed, other = "/" + emulator.unique("app") + "/allowed", "/" + emulator.unique("other")
    for name in (allowed, other):
        ssm.put_parameter(Name=name, Value="v", Type="String")
    role = Role(emulator, [allow("ssm:GetParameter", parameter_arn(allowed))])

    assert role.client("ssm").get_parameter(Name=allowed)["Parameter"]["Value"] == "v"
    response = denied(role.client("ssm").get_parameter, Name=other)
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == (
        f"User: {role.session_arn} is not authorized to perform: ssm:GetParameter on resource: "
        f"{parameter_arn(other)} because no identity-based policy allows the ssm:GetParameter "
        "action")
    # The operator's key is not judged.
    assert ssm.get_parameter(Name=other)["Parameter"]["Value"] == "v"
    # Each decision is told by role and action; the operator's calls are not among them.
    assert emulator.control("iam-decisions")[role.name] == {"ssm:GetParameter": {"allowed": 1, "denied": 1}}


def test_the_permissions_boundary_limits_what_the_policy_allows(emulator):
    role = Role(emulator, [allow(["ssm:GetParameter", "ssm:DescribeParameters"])],
                boundary=[allow("ssm:GetParameter")])
    response = denied(role.client("ssm").describe_parameters)
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["Error"]["Message"].endswith(
        "because no permissions boundary allows the ssm:DescribeParameters action")
    assert "ssm:DescribeParameters" in response["Error"]["Message"]
    assert role.session_arn in response["Error"]["Message"]


def test_an_explicit_deny_wins(emulator):
    role = Role(emulator, [allow("ssm:*"), {"Effect": "Deny", "Action": "ssm:DescribeParameters",
                                            "Resource": "*"}])
    response = denied(role.client("ssm").describe_parameters)
    assert response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")


def test_securestring_decryption_is_decided_with_the_kms_condition(emulator):
    key = emulator.client("kms").create_key()["KeyMetadata"]["Arn"]  # default policy: IAM decides
    path = "/" + emulator.unique("secrets")
    ssm = emulator.client("ssm")
    for name in ("open", "closed"):
        ssm.put_parameter(Name=f"{path}/{name}", Value="s3cret", Type="SecureString", KeyId=key)
    role = Role(emulator, [
        allow("ssm:GetParameter", parameter_arn(path) + "/*"),
        allow("kms:Decrypt", key, Condition={
            "StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameter_arn(path + "/open")}}),
    ])
    client = role.client("ssm")
    assert client.get_parameter(Name=f"{path}/open", WithDecryption=True)["Parameter"]["Value"]
    response = denied(client.get_parameter, Name=f"{path}/closed", WithDecryption=True)
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["Error"]["Message"] == (
        f"User: {role.session_arn} is not authorized to perform: kms:Decrypt on resource: {key} "
        "because no identity-based policy allows the kms:Decrypt action")
    # Without decryption, no KMS request: the parameter's own permission suffices.
    assert client.get_parameter(Name=f"{path}/closed")["Parameter"]["Name"] == f"{path}/closed"


def test_a_key_policy_that_does_not_delegate_to_iam_denies(emulator):
    role = Role(emulator, [allow("kms:DescribeKey")])
    other = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    key = emulator.client("kms").create_key(Policy=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:*", "Resource": "*"})),
        BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["Arn"]
    response = denied(role.client("kms").describe_key, KeyId=key)
    assert response["Error"]["Code"] == "AccessDeniedException"
    assert response["Error"]["Message"].endswith(
        "because no resource-based policy allows the kms:DescribeKey action")


def test_an_unknown_key_is_refused_as_aws_refuses_it(emulator):
    def client(service):
        return boto3.client(service, endpoint_url=emulator.url, region_name=REGION,
                            aws_access_key_id="AKIANOTISSUEDBYSTS00", aws_secret_access_key="x")

    response = denied(client("sts").get_caller_identity)
    assert response["Error"]["Code"] == "InvalidClientTokenId"
    assert response["Error"]["Message"] == "The security token included in the request is invalid."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    response = denied(client("iam").list_roles)
    assert response["Error"]["Code"] == "InvalidClientTokenId"
    response = denied(client("ssm").describe_parameters)  # JSON protocols: AWS's own code
    assert response["Error"]["Code"] == "UnrecognizedClientException"
    assert response["Error"]["Message"] == "The security token included in the request is invalid."


def test_a_wrong_session_token_is_refused(emulator):
    role = Role(emulator, [allow("ssm:*")])
    client = boto3.client("ssm", endpoint_url=emulator.url, region_name=REGION,
                          aws_access_key_id=role.credentials["aws_access_key_id"],
                          aws_secret_access_key=role.credentials["aws_secret_access_key"],
                          aws_session_token="not-the-token")
    assert denied(client.describe_parameters)["Error"]["Code"] == "UnrecognizedClientException"


def test_each_protocol_answers_its_own_access_denied(emulator):
    bucket = emulator.unique("bucket")
    emulator.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    emulator.client("s3").put_object(Bucket=bucket, Key="a/b.txt", Body=b"x")
    role = Role(emulator, [allow("s3:GetObject", f"arn:aws:s3:::{bucket}/a/*")])

    assert role.client("s3").get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"x"
    s3 = denied(role.client("s3").list_objects_v2, Bucket=bucket)
    assert (s3["Error"]["Code"], s3["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert s3["Error"]["Message"] == (
        f"User: {role.session_arn} is not authorized to perform: s3:ListBucket on resource: "
        f"arn:aws:s3:::{bucket} because no identity-based policy allows the s3:ListBucket action")
    put = denied(role.client("s3").put_object, Bucket=bucket, Key="a/c.txt", Body=b"y")
    assert put["Error"]["Code"] == "AccessDenied"

    ec2 = denied(role.client("ec2").describe_vpcs)
    assert ec2["Error"]["Code"] == "UnauthorizedOperation"
    assert ec2["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert ec2["Error"]["Message"].startswith("You are not authorized to perform this operation. "
                                              f"User: {role.session_arn} is not authorized to "
                                              "perform: ec2:DescribeVpcs on resource: *")

    iam = denied(role.client("iam").get_role, RoleName=role.name)
    assert (iam["Error"]["Code"], iam["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert f"iam:GetRole on resource: {role.arn} because" in iam["Error"]["Message"]

    cloudformation = denied(role.client("cloudformation").describe_stacks)
    assert cloudformation["Error"]["Code"] == "AccessDenied"

    logs = denied(role.client("logs").describe_log_groups)
    assert logs["Error"]["Code"] == "AccessDeniedException"

    lam = denied(role.client("lambda").get_function, FunctionName="nope")
    assert lam["Error"]["Code"] == "AccessDeniedException"
    assert lam["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (f"lambda:GetFunction on resource: arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope"
            in lam["Error"]["Message"])

    # sts:GetCallerIdentity needs no permission, on AWS as here.
    identity = role.client("sts").get_caller_identity()
    assert identity["Arn"] == role.session_arn


def test_an_operation_the_reference_does_not_know_is_denied_loudly(emulator):
    bucket = emulator.unique("bucket")
    emulator.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    emulator.client("s3").put_object(Bucket=bucket, Key="a", Body=b"x")
    role = Role(emulator, [allow("s3:*")])
    # CopyObject has no action of its own in the reference: never allowed silently.
    response = denied(role.client("s3").copy_object, Bucket=bucket, Key="b",
                      CopySource={"Bucket": bucket, "Key": "a"})
    assert response["Error"]["Code"] == "AccessDenied"
    assert "the emulator cannot judge this request" in response["Error"]["Message"]
    assert "IAM enforcement: denied s3:" in emulator.log()


def test_the_api_call_counter_still_counts_role_calls(emulator):
    role = Role(emulator, [])
    before = emulator.control("api-calls")["calls"].get("ssm:DescribeParameters", 0)
    denied(role.client("ssm").describe_parameters)
    assert emulator.control("api-calls")["calls"]["ssm:DescribeParameters"] == before + 1


def test_the_aws_managed_ssm_key_lets_ssm_decrypt_for_the_account(emulator):
    # alias/aws/ssm's policy (AWS's) grants use through SSM to the account's callers: a
    # role allowed the parameter needs no kms:Decrypt of its own, but may not use the key
    # directly.
    name = "/" + emulator.unique("default-key")
    emulator.client("ssm").put_parameter(Name=name, Value="s3cret", Type="SecureString")
    role = Role(emulator, [allow(["ssm:GetParameter", "ssm:PutParameter"], parameter_arn(name))])
    client = role.client("ssm")
    assert client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    client.put_parameter(Name=name, Value="other", Type="SecureString", Overwrite=True)
    response = denied(role.client("kms").describe_key, KeyId="alias/aws/ssm")
    assert response["Error"]["Code"] == "AccessDeniedException"
