"""The admin-secret custom resource against moto (SSM, KMS), answering a local
ResponseURL server, through its Lambda handler."""
import json

import boto3
import pytest

from fargate_platform.lambdas.admin_secret import handler as admin_handler
from fargate_platform.lambdas.admin_secret.secret import PASSWORD_LENGTH, generate_password

NAME = "/fargate-platform/test/rds/admin-password"
RDS_FORBIDDEN = set('/"@ ')


@pytest.fixture
def kms_keys(mocked_aws):
    kms = boto3.client("kms")
    return [kms.create_key(Description=f"key {i}")["KeyMetadata"]["Arn"] for i in range(2)]


@pytest.fixture
def kms_key(mocked_aws):
    return boto3.client("kms").create_key(Description="data key")["KeyMetadata"]["Arn"]


@pytest.fixture
def invoke(cfn_event, lambda_context, response_server):
    """Runs the handler once and returns the body CloudFormation received."""

    def run(request_type, properties, physical_id=None, old_properties=None):
        before = len(response_server.answers)
        context = lambda_context(30)
        admin_handler.handler(cfn_event(request_type, properties, physical_id, old_properties), context)
        assert len(response_server.answers) == before + 1  # exactly one answer
        answer = response_server.answers[-1]
        assert answer.at - context.started < context.seconds
        return answer.body

    return run


def stored(name=NAME):
    return boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]


def key_of(name=NAME):
    [described] = boto3.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}]
    )["Parameters"]
    return described["KeyId"]


def test_create_generates_a_secure_string_and_returns_name_and_version(kms_key, invoke, capsys):
    body = invoke("Create", {"ParameterName": NAME, "KeyId": kms_key, "RotationToken": "initial"})
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == NAME
    assert body["Data"] == {"ParameterName": NAME, "Version": "1"}
    parameter = stored()
    assert parameter["Type"] == "SecureString" and key_of() == kms_key
    password = parameter["Value"]
    assert len(password) == PASSWORD_LENGTH and not RDS_FORBIDDEN & set(password)
    assert password not in json.dumps(body) and password not in capsys.readouterr().out


def test_create_keeps_an_existing_password(kms_key, invoke):
    boto3.client("ssm").put_parameter(Name=NAME, Value="Existing-Passw0rd", Type="SecureString", KeyId=kms_key)
    body = invoke("Create", {"ParameterName": NAME, "KeyId": kms_key})
    assert (body["Status"], body["Data"]["Version"]) == ("SUCCESS", "1")
    assert stored()["Value"] == "Existing-Passw0rd"


def test_create_re_encrypts_an_existing_password_under_the_configured_key(kms_keys, invoke, capsys):
    # The rds stack's data key is retained on delete: after delete and launch the kept
    # parameter is still encrypted with the old key while the stack has a new one.
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=NAME, Value="Kept-Passw0rd-1", Type="SecureString", KeyId=kms_keys[0])
    body = invoke("Create", {"ParameterName": NAME, "KeyId": kms_keys[1]})
    assert (body["Status"], body["Data"]["Version"]) == ("SUCCESS", "2"), body["Reason"]
    assert stored()["Value"] == "Kept-Passw0rd-1" and key_of() == kms_keys[1]
    out = capsys.readouterr().out
    assert "re-encrypted with the current data key" in out and "Kept-Passw0rd-1" not in out
    again = invoke("Create", {"ParameterName": NAME, "KeyId": kms_keys[1].split("/")[-1]})  # id form: same key
    assert (again["Status"], again["Data"]["Version"]) == ("SUCCESS", "2")


def test_update_keeps_the_password_until_the_rotation_token_changes(kms_key, invoke):
    first = {"ParameterName": NAME, "KeyId": kms_key, "RotationToken": "initial"}
    invoke("Create", first)
    original = stored()["Value"]

    same = invoke("Update", dict(first), physical_id=NAME, old_properties=dict(first))
    assert (same["Status"], same["PhysicalResourceId"], same["Data"]["Version"]) == ("SUCCESS", NAME, "1")
    assert stored()["Value"] == original

    rotated = {**first, "RotationToken": "2024-rotation"}
    body = invoke("Update", rotated, physical_id=NAME, old_properties=first)
    assert (body["Status"], body["PhysicalResourceId"], body["Data"]["Version"]) == ("SUCCESS", NAME, "2")
    assert stored()["Value"] != original


def test_key_change_re_encrypts_the_same_password(kms_keys, invoke):
    first = {"ParameterName": NAME, "KeyId": kms_keys[0]}
    invoke("Create", first)
    original = stored()["Value"]
    body = invoke("Update", {**first, "KeyId": kms_keys[1]}, physical_id=NAME, old_properties=first)
    assert (body["Status"], body["Data"]["Version"]) == ("SUCCESS", "2")
    assert stored()["Value"] == original and key_of() == kms_keys[1]


def test_new_name_is_a_new_resource_and_delete_keeps_the_parameter(kms_key, invoke):
    first = {"ParameterName": NAME, "KeyId": kms_key}
    invoke("Create", first)
    other = NAME + "-2"
    body = invoke("Update", {**first, "ParameterName": other}, physical_id=NAME, old_properties=first)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", other)
    deleted = invoke("Delete", first, physical_id=NAME)
    assert deleted["Status"] == "SUCCESS"
    assert stored(NAME)["Value"] and stored(other)["Value"]  # both kept


@pytest.mark.parametrize(
    "properties, reason",
    [
        ({"ParameterName": "no-leading-slash", "KeyId": "KEY"}, "invalid property ParameterName"),
        ({"ParameterName": "/a//b", "KeyId": "KEY"}, "invalid property ParameterName"),
        ({"ParameterName": "/a/b;rm -rf", "KeyId": "KEY"}, "invalid property ParameterName"),
        ({"ParameterName": "/aws/reserved", "KeyId": "KEY"}, "prefix AWS reserves"),
        ({"ParameterName": NAME, "KeyId": "key' OR 1=1"}, "invalid property KeyId"),
        ({"ParameterName": NAME}, "missing property KeyId"),
        ({"ParameterName": NAME, "KeyId": "KEY", "Value": "chosen-password"}, "unknown property Value"),
        ({"ParameterName": NAME, "KeyId": "KEY", "RotationToken": "a b"}, "invalid property RotationToken"),
    ],
)
def test_invalid_properties_fail_without_touching_ssm(kms_key, invoke, properties, reason):
    properties = {key: kms_key if value == "KEY" else value for key, value in properties.items()}
    body = invoke("Create", properties)
    assert body["Status"] == "FAILED" and reason in body["Reason"]
    assert boto3.client("ssm").describe_parameters()["Parameters"] == []


def test_parameter_root_restricts_the_names(kms_key, invoke, monkeypatch):
    monkeypatch.setenv("PARAMETER_ROOT", "/fargate-platform/other")
    body = invoke("Create", {"ParameterName": NAME, "KeyId": kms_key})
    assert body["Status"] == "FAILED" and "outside /fargate-platform/other/" in body["Reason"]


def test_a_plain_string_parameter_is_not_adopted(kms_key, invoke):
    boto3.client("ssm").put_parameter(Name=NAME, Value="visible", Type="String")
    body = invoke("Create", {"ParameterName": NAME, "KeyId": kms_key})
    assert body["Status"] == "FAILED" and "not a SecureString" in body["Reason"]


def test_delete_after_a_failed_create_succeeds_and_keeps_everything(kms_key, invoke):
    boto3.client("ssm").put_parameter(Name=NAME, Value="visible", Type="String")
    properties = {"ParameterName": NAME, "KeyId": kms_key}
    body = invoke("Create", properties)
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"].startswith("failed-create:")
    delete = invoke("Delete", properties, physical_id=body["PhysicalResourceId"])
    assert (delete["Status"], delete["PhysicalResourceId"]) == ("SUCCESS", body["PhysicalResourceId"])
    assert stored()["Value"] == "visible"


def test_delete_succeeds_when_the_properties_no_longer_validate(kms_key, invoke, monkeypatch):
    properties = {"ParameterName": NAME, "KeyId": kms_key}
    invoke("Create", properties)
    monkeypatch.setenv("PARAMETER_ROOT", "/fargate-platform/moved")  # NAME is now outside it
    body = invoke("Delete", properties, physical_id=NAME)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", NAME)
    assert stored()["Value"]  # kept


def test_update_compares_raw_old_values_when_the_old_properties_no_longer_validate(kms_keys, invoke):
    legacy = {"ParameterName": NAME, "KeyId": kms_keys[0], "RotationToken": "old token!"}  # now invalid
    boto3.client("ssm").put_parameter(Name=NAME, Value="Legacy-Passw0rd", Type="SecureString", KeyId=kms_keys[0])
    unchanged = invoke("Update", {**legacy, "RotationToken": "old-token"}, physical_id=NAME,
                       old_properties={**legacy, "RotationToken": "old-token", "Retired": "x"})
    assert (unchanged["Status"], unchanged["Data"]["Version"]) == ("SUCCESS", "1")
    assert stored()["Value"] == "Legacy-Passw0rd"
    rotated = invoke("Update", {**legacy, "RotationToken": "new-token"}, physical_id=NAME, old_properties=legacy)
    assert (rotated["Status"], rotated["Data"]["Version"]) == ("SUCCESS", "2")
    assert stored()["Value"] != "Legacy-Passw0rd"
    rekeyed = invoke("Update", {**legacy, "RotationToken": "new-token", "KeyId": kms_keys[1]}, physical_id=NAME,
                     old_properties={**legacy, "RotationToken": "new-token", "Retired": "x"})
    assert (rekeyed["Status"], rekeyed["Data"]["Version"]) == ("SUCCESS", "3")
    assert key_of() == kms_keys[1]


def test_generated_passwords_meet_rds_rules():
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert not RDS_FORBIDDEN & set(password) and password.isascii() and password.isprintable()
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
