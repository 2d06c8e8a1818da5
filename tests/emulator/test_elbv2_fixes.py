"""moto ELBv2 patches of the data plane (emulator/elbv2_fixes.py): each test shows plain
moto lacking the feature (in process, mock_aws), then the patch supplying it; the last ones
go through the emulator itself (the `emulator` fixture)."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emulator import elbv2_fixes, targets  # noqa: E402

REGION = "us-east-1"  # the mocked_aws fixture's region
REPO = Path(__file__).resolve().parents[2]
EMULATOR_PYTHON = REPO / ".venvs" / "emulator" / "bin" / "python"
IP, PORT = "10.90.1.17", 8080


@pytest.fixture
def patched(monkeypatch):
    """Applies the patches for one test (moto plain again afterwards)."""
    def apply():
        for owner, attribute, replacement in elbv2_fixes.patches():
            monkeypatch.setattr(owner, attribute, replacement)
    return apply


@pytest.fixture
def group(mocked_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    elb = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    arn = elb.create_target_group(Name="described", Protocol="HTTP", Port=PORT, VpcId=vpc,
                                  TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    yield elb, arn
    for target in targets.TABLE.targets(arn):  # the emulator's one table: leave it as found
        targets.TABLE.remove(arn, target.ip, target.port)


def health(elb, arn, **kwargs):
    return elb.describe_target_health(TargetGroupArn=arn, **kwargs)["TargetHealthDescriptions"]


def test_describe_target_health_answers_from_the_target_table(group, patched):
    elb, arn = group
    targets.TABLE.register(arn, IP, PORT, local_port=41234, task_arn="task-1")
    asked = [{"Id": IP, "Port": PORT}]
    # plain moto: it knows nothing of the table's target
    (plain,) = health(elb, arn, Targets=asked)
    assert plain["TargetHealth"]["State"] == "unavailable"
    assert plain["TargetHealth"]["Reason"] == "Target.NotRegistered"

    patched()
    (initial,) = health(elb, arn, Targets=asked)
    assert initial["Target"] == {"Id": IP, "Port": PORT}
    assert initial["TargetHealth"] == {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                                       "Description": "Target registration is in progress"}
    assert initial["HealthCheckPort"] == str(PORT)
    targets.TABLE.set_health(arn, IP, PORT, "healthy")
    assert [d["TargetHealth"] for d in health(elb, arn)] == [{"State": "healthy"}]
    targets.TABLE.set_health(arn, IP, PORT, "unhealthy", "Target.ResponseCodeMismatch",
                             "Health checks failed with these codes: [500]")
    assert health(elb, arn)[0]["TargetHealth"] == {
        "State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
        "Description": "Health checks failed with these codes: [500]"}
    targets.TABLE.deregister(arn, IP, PORT)
    assert health(elb, arn, Targets=asked)[0]["TargetHealth"] == {
        "State": "draining", "Reason": "Target.DeregistrationInProgress",
        "Description": "Target deregistration is in progress"}
    targets.TABLE.remove(arn, IP, PORT)
    assert health(elb, arn, Targets=asked)[0]["TargetHealth"]["State"] == "unavailable"  # moto's


def test_targets_registered_through_the_api_only_keep_moto_s_answer(group, patched):
    elb, arn = group
    patched()
    targets.TABLE.register(arn, IP, PORT, local_port=41234, task_arn="task-1")
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.90.2.5", "Port": 9000}])
    described = {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health(elb, arn)}
    assert described == {IP: "initial", "10.90.2.5": "healthy"}


def stack_template(delay="30", health_check=None):
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.91.0.0/16"}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.91.1.0/24", "AvailabilityZone": f"{REGION}a"}},
        "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.91.2.0/24", "AvailabilityZone": f"{REGION}b"}},
        "Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "LoadBalancerAttributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "5"}]}},
        "Group": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "Protocol": "HTTP", "Port": 8080, "TargetType": "ip",
            **(health_check or {}),
            "TargetGroupAttributes": [
                {"Key": "deregistration_delay.timeout_seconds", "Value": delay}]}},
    }, "Outputs": {"Group": {"Value": {"Ref": "Group"}},
                   "Balancer": {"Value": {"Ref": "Balancer"}}}})


def launch(cfn, name):
    cfn.create_stack(StackName=name, TemplateBody=stack_template())
    deadline = time.monotonic() + 30
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def attributes(elb, outputs):
    group = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=outputs["Group"])["Attributes"]}
    balancer = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=outputs["Balancer"])["Attributes"]}
    return group, balancer


CLOUDFORMATION_IN_MOTO = """
import json, os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
import boto3
from moto import mock_aws
sys.path.insert(0, os.getcwd())
from emulator import elbv2_fixes
template, updated = sys.argv[1], sys.argv[2]

def launch(name):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    elb = boto3.client("elbv2", region_name="us-east-1")
    cfn.create_stack(StackName=name, TemplateBody=template)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    group = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=outputs["Group"])["Attributes"]}
    balancer = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=outputs["Balancer"])["Attributes"]}
    found = {"status": stack["StackStatus"], "group": group, "balancer": balancer}
    cfn.update_stack(StackName=name, TemplateBody=updated)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    found["update_status"] = stack["StackStatus"]
    found["updated_output"] = {o["OutputKey"]: o.get("OutputValue")
                               for o in stack.get("Outputs", [])}.get("Group")
    model = elb.describe_target_groups(TargetGroupArns=[outputs["Group"]])["TargetGroups"][0]
    found["updated_group"] = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=outputs["Group"])["Attributes"]}
    found["updated_health_check"] = [model["HealthCheckIntervalSeconds"], model["HealthCheckPath"],
                                     model["Matcher"]["HttpCode"]]
    found["arn"] = outputs["Group"]
    return found

with mock_aws():
    plain = launch("plain")
    elbv2_fixes.apply()
    patched = launch("patched")
print(json.dumps({"plain": plain, "patched": patched}))
"""

UPDATED_HEALTH_CHECK = {"HealthCheckIntervalSeconds": 7, "HealthCheckPath": "/ready",
                        "Matcher": {"HttpCode": "200-299"}}


def test_cloudformation_keeps_target_group_and_load_balancer_attributes():
    # moto's CloudFormation needs the emulator's virtualenv (moto[cloudformation])
    updated = stack_template("45", UPDATED_HEALTH_CHECK)
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", CLOUDFORMATION_IN_MOTO, stack_template(),
                             updated],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    plain, patched = found["plain"], found["patched"]
    # plain moto: the template's attributes are dropped
    assert plain["status"] == "CREATE_COMPLETE"
    assert plain["group"]["deregistration_delay.timeout_seconds"] == "300"
    assert "idle_timeout.timeout_seconds" not in plain["balancer"]
    # ... and a target group's update is lost (moto then holds None for the resource)
    assert plain["updated_group"]["deregistration_delay.timeout_seconds"] == "300"
    assert plain["updated_health_check"][1] != "/ready"
    assert plain["updated_output"] != plain["arn"]
    assert patched["status"] == "CREATE_COMPLETE"
    assert patched["group"]["deregistration_delay.timeout_seconds"] == "30"
    assert patched["balancer"]["idle_timeout.timeout_seconds"] == "5"
    assert patched["update_status"] == "UPDATE_COMPLETE"
    assert patched["updated_output"] == patched["arn"]  # updated in place, as on AWS
    assert patched["updated_group"]["deregistration_delay.timeout_seconds"] == "45"
    assert patched["updated_health_check"] == [7, "/ready", "200-299"]


# -- through the emulator ------------------------------------------------------------------

def test_the_emulator_keeps_the_attributes_and_answers_target_health(emulator):
    cfn, elb = emulator.client("cloudformation"), emulator.client("elbv2")
    name = emulator.unique("attrs")
    outputs = launch(cfn, name)
    group, balancer = attributes(elb, outputs)
    assert group["deregistration_delay.timeout_seconds"] == "30"
    assert balancer["idle_timeout.timeout_seconds"] == "5"
    # no task registered: the table has none of this group's targets, moto answers as ever
    asked = [{"Id": IP, "Port": PORT}]
    described = elb.describe_target_health(TargetGroupArn=outputs["Group"], Targets=asked)
    assert described["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unavailable"
    cfn.delete_stack(StackName=name)


def test_the_emulator_serves_a_new_listener(emulator):
    ec2, elb = emulator.client("ec2"), emulator.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.92.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.92.{i}.0/24",
                                 AvailabilityZone=f"eu-west-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    name = emulator.unique("front")
    arn = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    marker = emulator.unique("served")
    elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[{
        "Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "200", "ContentType": "text/plain", "MessageBody": marker}}])
    base = int(os.environ.get("FARGATE_PLATFORM_ALB_PORT_BASE") or 4780)
    found = None
    deadline = time.monotonic() + 3
    while found is None and time.monotonic() < deadline:  # the control route comes later
        for port in range(base, base + 40):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.read().decode() == marker:
                        found = port
                        break
            except (OSError, urllib.error.URLError):
                continue
        time.sleep(0.1)
    assert found is not None, "the emulator's ALB front did not serve the listener"
    elb.delete_load_balancer(LoadBalancerArn=arn)
