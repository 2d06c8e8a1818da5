"""Patch 7 (log_masking.py): a log group's data protection policy masks what it names, on
the events ingested while it is set, unless a reader allowed logs:Unmask asks to unmask."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"
sys.path.insert(0, str(REPO))  # `emulator` is a top-level package of the repository

from emulator import log_masking  # noqa: E402


def policy(*identifiers):
    arns = [f"arn:aws:dataprotection::aws:data-identifier/{name}" for name in identifiers]
    return {"Name": "mask", "Version": "2021-06-01", "Statement": [
        {"Sid": "audit", "DataIdentifier": arns, "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"Sid": "mask", "DataIdentifier": arns, "Operation": {"Deidentify": {"MaskConfig": {}}}}]}


@pytest.mark.parametrize("identifier, text, shown", [
    ("EmailAddress", 'user="ops@example.com" ok', 'user="***************" ok'),
    ("IpAddress", "from 10.1.2.3:80", "from ********:80"),
    ("CreditCardNumber", "card 4111 1111 1111 1111 paid", "card ******************* paid"),
    ("CreditCardNumber", "order 1234 5678 9012 3456", "order 1234 5678 9012 3456"),  # no Luhn checksum
    ("AwsSecretKey", "aws_secret_access_key=" + "A" * 40, "aws_secret_access_key=" + "*" * 40),
    ("PkcsPrivateKey", "k=-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----;",
     "k=" + "*" * 58 + ";"),
])

def test_each_identifier_is_masked_where_it_matches(identifier, text, shown):
    assert log_masking.mask(text, [identifier]) == shown


def test_every_identifier_the_platforms_policies_name_can_be_masked():
    from fargate_platform.templates.common import PERSONAL_DATA_IDENTIFIERS

    assert set(PERSONAL_DATA_IDENTIFIERS) <= set(log_masking.IDENTIFIERS)


def test_an_identifier_the_emulator_cannot_mask_is_refused():
    with pytest.raises(log_masking.UnknownDataIdentifier, match="DriversLicense-US"):
        log_masking.masked_identifiers(policy("DriversLicense-US"))


def stack_with_group(emulator):
    group = emulator.unique("/test/masked")
    cfn, name = emulator.client("cloudformation"), emulator.unique("logs")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Logs": {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": group, "DataProtectionPolicy": policy("EmailAddress")}}}}))
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    logs = emulator.client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="app/app/1")
    logs.put_log_events(logGroupName=group, logStreamName="app/app/1", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": '{"message": "started", "contact": "ops@example.com"}'}])
    return group


def test_readers_see_the_masked_text_and_unmask_shows_it(emulator):
    group = stack_with_group(emulator)
    logs = emulator.client("logs")
    [event] = logs.get_log_events(logGroupName=group, logStreamName="app/app/1")["events"]
    assert "ops@example.com" not in event["message"] and '"contact": "***************"' in event["message"]
    [filtered] = logs.filter_log_events(logGroupName=group)["events"]
    assert filtered["message"] == event["message"]
    [unmasked] = logs.get_log_events(logGroupName=group, logStreamName="app/app/1", unmask=True)["events"]
    assert "ops@example.com" in unmasked["message"]


def test_a_role_without_logs_unmask_is_denied_the_unmasked_text(emulator):
    import boto3

    group = stack_with_group(emulator)
    iam, name = emulator.client("iam"), emulator.unique("reader")
    account = emulator.client("sts").get_caller_identity()["Account"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}]}))
    credentials = emulator.client("sts").assume_role(RoleArn=arn, RoleSessionName="reader")["Credentials"]
    logs = boto3.client("logs", endpoint_url=emulator.url, region_name="eu-west-1",
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])
    [event] = logs.get_log_events(logGroupName=group, logStreamName="app/app/1")["events"]
    assert "ops@example.com" not in event["message"]
    with pytest.raises(ClientError) as denied:
        logs.get_log_events(logGroupName=group, logStreamName="app/app/1", unmask=True)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "logs:Unmask" in denied.value.response["Error"]["Message"]


def test_plain_moto_keeps_no_data_protection_policy():
    script = (
        "import json, time, boto3\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        f"    cfn.create_stack(StackName='s', TemplateBody=json.dumps({{'Resources': {{'L': {{"
        f"'Type': 'AWS::Logs::LogGroup', 'Properties': {{'LogGroupName': 'g', "
        f"'DataProtectionPolicy': {policy('EmailAddress')!r}}}}}}}}}))\n"
        "    logs = boto3.client('logs', region_name='eu-west-1')\n"
        "    logs.create_log_stream(logGroupName='g', logStreamName='s')\n"
        "    logs.put_log_events(logGroupName='g', logStreamName='s', logEvents=[{'timestamp': int(time.time()*1000),"
        " 'message': 'ops@example.com'}])\n"
        "    print(logs.get_log_events(logGroupName='g', logStreamName='s')['events'][0]['message'])\n"
    )
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", script], capture_output=True, text=True, timeout=120,
                            env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ops@example.com"
