"""Layer 5 with Lambda and CloudFormation: a function calls with its execution role's
credentials and is judged under the role as its stack last made it.

- lambda_runner gives each function the credentials of its role (moto's STS);
- Lambda's own use of the role is decided (logs; a VPC function's network interfaces);
- cloudformation_fixes applies a role's Policies / PermissionsBoundary / ManagedPolicyArns
  on a stack update (plain moto does not: shown below, in the emulator's virtualenv).
"""
import json
import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"
ACCOUNT = "123456789012"
REGION = "eu-west-1"

HANDLER = '''
import boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()["Arn"]
    try:
        boto3.client("ssm").put_parameter(Name=event["name"], Value="from-lambda",
                                          Type="String", Overwrite=True)
    except Exception as exc:
        error = getattr(exc, "response", {}).get("Error") or {"Message": str(exc)}
        return {"identity": identity, "error": error}
    return {"identity": identity, "error": None}
'''

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def role_template(role_name, statements, boundary=False, managed=False):
    """A stack with one role (its policy: `statements`), plus a boundary policy and a
    managed policy it may use."""
    resources = {
        "Boundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ssm:PutParameter", "logs:*"], "Resource": "*"}]}}},
        "Extra": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}}},
    }
    properties = {"RoleName": role_name, "AssumeRolePolicyDocument": LAMBDA_TRUST}
    if statements:
        properties["Policies"] = [{"PolicyName": "main", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": statements}}]
    if boundary:
        properties["PermissionsBoundary"] = {"Ref": "Boundary"}
    if managed:
        properties["ManagedPolicyArns"] = [{"Ref": "Extra"}]
    resources["Role"] = {"Type": "AWS::IAM::Role", "Properties": properties}
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources,
                       "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
                                   "Boundary": {"Value": {"Ref": "Boundary"}},
                                   "Extra": {"Value": {"Ref": "Extra"}}}})


LOGS = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}


def put_parameter(name):
    return {"Effect": "Allow", "Action": "ssm:PutParameter",
            "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"}


def launch(emulator, stack, template, update=False):
    cloudformation = emulator.client("cloudformation")
    if update:
        cloudformation.update_stack(StackName=stack, TemplateBody=template,
                                    Capabilities=["CAPABILITY_NAMED_IAM"])
        waiter = "stack_update_complete"
    else:
        cloudformation.create_stack(StackName=stack, TemplateBody=template,
                                    Capabilities=["CAPABILITY_NAMED_IAM"])
        waiter = "stack_create_complete"
    cloudformation.get_waiter(waiter).wait(StackName=stack, WaiterConfig={"Delay": 1})
    return emulator.outputs(stack)


def make_function(emulator, role_arn, **extra):
    name = emulator.unique("fn")
    key = emulator.upload_zip({"main.py": HANDLER})
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="main.handler",
        Code={"S3Bucket": emulator.code_bucket, "S3Key": key}, Timeout=20, **extra)
    return name


def invoke(emulator, name, event):
    response = emulator.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def log_streams(emulator, function_name):
    try:
        return emulator.client("logs").describe_log_streams(
            logGroupName=f"/aws/lambda/{function_name}")["logStreams"]
    except ClientError:
        return []


def test_a_function_calls_with_its_role_and_a_stack_update_changes_what_it_may(emulator):
    role_name, stack = emulator.unique("fn-role"), emulator.unique("roles")
    parameter = "/" + emulator.unique("written")
    role_arn = launch(emulator, stack, role_template(role_name, []))["RoleArn"]
    function = make_function(emulator, role_arn)

    result = invoke(emulator, function, {"name": parameter})
    assert result["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{function}"
    assert result["error"]["Code"] == "AccessDeniedException"
    assert result["error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{function} is not authorized to "
        f"perform: ssm:PutParameter on resource: arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
        f"{parameter} because no identity-based policy allows the ssm:PutParameter action")
    assert log_streams(emulator, function) == []  # the role may not write logs: none written

    # The relaunch gives the role the permissions (plain moto would ignore the update).
    launch(emulator, stack, role_template(role_name, [put_parameter(parameter), LOGS]),
           update=True)
    assert invoke(emulator, function, {"name": parameter})["error"] is None
    assert emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == "from-lambda"
    assert len(log_streams(emulator, function)) == 1

    # And a boundary added by a later update limits it again.
    launch(emulator, stack, role_template(role_name, [put_parameter(parameter), LOGS,
                                                      {"Effect": "Allow", "Action": "ssm:*",
                                                       "Resource": "*"}], boundary=True),
           update=True)
    other = "/" + emulator.unique("elsewhere")
    assert invoke(emulator, function, {"name": other})["error"] is None  # boundary allows Put
    launch(emulator, stack, role_template(role_name, [LOGS], boundary=True), update=True)
    assert invoke(emulator, function, {"name": other})["error"]["Code"] == "AccessDeniedException"


def test_a_vpc_function_whose_role_may_not_create_its_network_interfaces_fails_to_invoke(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=emulator.unique("sg"), Description="fn",
                                      VpcId=vpc)["GroupId"]
    role_name, stack = emulator.unique("vpc-role"), emulator.unique("vpc-roles")
    role_arn = launch(emulator, stack, role_template(role_name, [LOGS]))["RoleArn"]
    function = make_function(emulator, role_arn,
                             VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group]})
    with pytest.raises(ClientError) as raised:
        emulator.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == ("The provided execution role does not have permissions to call "
                                "CreateNetworkInterface on EC2")

    eni = {"Effect": "Allow", "Action": [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses"], "Resource": "*"}
    launch(emulator, stack, role_template(role_name, [LOGS, eni]), update=True)
    # Now it runs (its own SSM call is still its role's to allow).
    assert invoke(emulator, function, {"name": "/x"})["error"]["Code"] == "AccessDeniedException"


def test_a_stack_update_applies_a_roles_policies_boundary_and_managed_policies(emulator):
    role_name, stack = emulator.unique("upd-role"), emulator.unique("upd")
    iam = emulator.client("iam")
    outputs = launch(emulator, stack, role_template(role_name, [LOGS], managed=True))
    # On create, ManagedPolicyArns is applied too (plain moto ignores it).
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [outputs["Extra"]]

    launch(emulator, stack, role_template(role_name, [put_parameter("/a")], boundary=True),
           update=True)
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == outputs["Boundary"]
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role_name, PolicyName="main")["PolicyDocument"]
    assert document["Statement"] == [put_parameter("/a")]

    launch(emulator, stack, role_template(role_name, []), update=True)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role_name)["Role"]
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == []


def test_a_stack_update_of_a_managed_policy_makes_a_new_default_version(emulator):
    stack = emulator.unique("managed")

    def template(action):
        return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
            "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}}}},
            "Outputs": {"Arn": {"Value": {"Ref": "Policy"}}}})

    arn = launch(emulator, stack, template("ssm:GetParameter"))["Arn"]
    assert launch(emulator, stack, template("ssm:PutParameter"), update=True)["Arn"] == arn
    iam = emulator.client("iam")
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    assert document["Statement"][0]["Action"] == "ssm:PutParameter"


PLAIN_MOTO_ROLE_UPDATE = r'''
import json
import boto3
from moto import mock_aws

trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
def template(policies, boundary, managed):
    properties = {"RoleName": "r", "AssumeRolePolicyDocument": trust}
    if policies:
        properties["Policies"] = [{"PolicyName": "main", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*",
                                                    "Resource": "*"}]}}]
    if boundary:
        properties["PermissionsBoundary"] = {"Ref": "P"}
    if managed:
        properties["ManagedPolicyArns"] = [{"Ref": "P"}]
    return json.dumps({"Resources": {
        "P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                    "Resource": "*"}]}}},
        "R": {"Type": "AWS::IAM::Role", "Properties": properties}}})

with mock_aws():
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    iam = boto3.client("iam", region_name="eu-west-1")
    cfn.create_stack(StackName="s", TemplateBody=template(False, False, True))
    attached_on_create = iam.list_attached_role_policies(RoleName="r")["AttachedPolicies"]
    cfn.update_stack(StackName="s", TemplateBody=template(True, True, False))
    role = iam.get_role(RoleName="r")["Role"]
    print(json.dumps({"attached_on_create": attached_on_create,
                      "policies": iam.list_role_policies(RoleName="r")["PolicyNames"],
                      "boundary": role.get("PermissionsBoundary")}))
'''


def test_plain_moto_ignores_a_roles_permissions_in_cloudformation():
    # When this fails, moto applies them itself: cloudformation_fixes' role wrappers can go.
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", PLAIN_MOTO_ROLE_UPDATE], cwd=REPO,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO),
                                 "AWS_ACCESS_KEY_ID": "testing",
                                 "AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"attached_on_create": [], "policies": [], "boundary": None}
