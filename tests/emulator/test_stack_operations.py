"""Patch 2b (stack_operations.py): stack operations run in the background, as CloudFormation's,
a busy stack refuses another operation, an update's template is checked in the call, and a
failed update's rollback really reverts the resources it changed."""
import json
import time

import pytest
from botocore.exceptions import ClientError

# A custom resource that answers after Seconds seconds, or FAILED when Fail is "yes".
HANDLER = '''
import json, time, urllib.request
import boto3

def handler(event, context):
    props = event["ResourceProperties"]
    if event["RequestType"] != "Delete":
        time.sleep(float(props.get("Seconds", "0")))
    status = "FAILED" if props.get("Fail") == "yes" and event["RequestType"] != "Delete" else "SUCCESS"
    reason = "refused by the test"
    if status == "FAILED":  # what the update had changed by then
        reason += "; the setting is " + boto3.client("ssm").get_parameter(Name=props["Parameter"])["Parameter"]["Value"]
    body = json.dumps({"Status": status, "Reason": reason, "StackId": event["StackId"],
                       "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
                       "PhysicalResourceId": "slow", "Data": {}}).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()
'''


def template(emulator, key, parameter_name, value, seconds=0, fail="no"):
    return json.dumps({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": "*",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter"]}]}}]}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "slow.handler", "Timeout": 60,
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": emulator.code_bucket, "S3Key": key}}},
        "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": parameter_name, "Type": "String", "Value": value}},
        "Slow": {"Type": "Custom::Slow", "DependsOn": ["Setting"], "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, "ServiceTimeout": 120,
            "Seconds": str(seconds), "Fail": fail, "Value": value, "Parameter": parameter_name}},
    }})


@pytest.fixture
def key(emulator):
    return emulator.upload_zip({"slow.py": HANDLER})


def test_a_long_create_answers_in_progress_refuses_an_update_and_completes(emulator, key):
    cfn, name, parameter = emulator.client("cloudformation"), emulator.unique("slow"), "/" + emulator.unique("p")
    started = time.monotonic()
    cfn.create_stack(StackName=name, TemplateBody=template(emulator, key, parameter, "v1", seconds=25))
    assert time.monotonic() - started < 24  # answered before the work ended, well under 60 s
    assert emulator.stack(name)["StackStatus"] == "CREATE_IN_PROGRESS"
    with pytest.raises(ClientError) as refused:
        cfn.update_stack(StackName=name, TemplateBody=template(emulator, key, parameter, "v2"))
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"].endswith(
        "is in CREATE_IN_PROGRESS state and can not be updated.")
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 30})
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"


def test_an_update_with_a_malformed_template_is_refused_in_the_call(emulator, key):
    cfn, name, parameter = emulator.client("cloudformation"), emulator.unique("bad"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=template(emulator, key, parameter, "v1"))
    with pytest.raises(ClientError) as refused:
        cfn.update_stack(StackName=name, TemplateBody="Resources: [unclosed")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"].startswith("Template format error:")
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"


def test_a_failed_update_really_reverts_what_it_changed(emulator, key):
    cfn, name, parameter = emulator.client("cloudformation"), emulator.unique("revert"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=template(emulator, key, parameter, "v1"))
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_stack(StackName=name, TemplateBody=template(emulator, key, parameter, "v2", fail="yes"))
    deadline = time.monotonic() + 60
    while emulator.stack(name)["StackStatus"].endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(1)
    assert emulator.stack(name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in emulator.events(name)]
    [failed] = [e for e in emulator.events(name) if e["ResourceStatus"] == "UPDATE_FAILED"]
    # The update had changed the setting when the custom resource failed...
    assert failed["LogicalResourceId"] == "Slow" and "the setting is v2" in failed["ResourceStatusReason"]
    # ...and the rollback put it back (moto's bookkeeping alone would leave v2).
    assert emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == "v1"
