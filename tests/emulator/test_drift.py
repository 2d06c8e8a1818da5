"""Issue 15 item 6 (drift.py, drift_properties.py): drift detection compares the template with
the live resources, as CloudFormation's DetectStackDrift and DescribeStackResourceDrifts do."""
import json
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv


def settings_template(prefix):
    return {"Resources": {
        "Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"{prefix}/setting", "Type": "String", "Value": "v1"}},
        "Untouched": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"{prefix}/untouched", "Type": "String", "Value": "same",
            "Description": "left alone"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": f"{prefix}/logs", "RetentionInDays": "7"}},
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
    }}


def first_json(output):
    """The JSON document Sceptre prints (its log lines share the output)."""
    return json.JSONDecoder().raw_decode(output[output.index("{"):])[0]


def drifts_by_id(cfn, stack_name, **filters):
    drifts = cfn.describe_stack_resource_drifts(StackName=stack_name, **filters)
    return {d["LogicalResourceId"]: d for d in drifts["StackResourceDrifts"]}


def test_sceptre_drift_reports_the_changed_values_and_in_sync_for_the_rest(emulator,
                                                                            sceptre_project):
    prefix = "/" + emulator.unique("drift")
    name = sceptre_project.stack("settings", settings_template(prefix))
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/settings.yaml")
    assert code == 0, output
    cfn = emulator.client("cloudformation")
    assert emulator.stack(name)["DriftInformation"] == {"StackDriftStatus": "NOT_CHECKED"}

    code, output = sceptre_project.sceptre("--no-colour", "--output", "json", "drift", "detect",
                                           "test/settings.yaml")
    assert code == 0, output
    assert '"StackDriftStatus": "IN_SYNC"' in output and '"DETECTION_COMPLETE"' in output

    emulator.client("ssm").put_parameter(Name=f"{prefix}/setting", Value="v2", Overwrite=True)
    emulator.client("logs").put_retention_policy(logGroupName=f"{prefix}/logs",
                                                 retentionInDays=14)
    code, output = sceptre_project.sceptre("--no-colour", "--output", "json", "drift", "detect",
                                           "test/settings.yaml")
    assert code == 0, output
    detection = first_json(output)[name]
    assert detection["DetectionStatus"] == "DETECTION_COMPLETE"
    assert detection["StackDriftStatus"] == "DRIFTED"
    assert detection["DriftedStackResourceCount"] == 2

    drifts = drifts_by_id(cfn, name)
    # The wait condition handle is a type drift does not check: not listed, as on AWS.
    assert set(drifts) == {"Setting", "Untouched", "Logs"}
    assert drifts["Setting"]["StackResourceDriftStatus"] == "MODIFIED"
    assert drifts["Setting"]["PropertyDifferences"] == [{
        "PropertyPath": "/Value", "ExpectedValue": "v1", "ActualValue": "v2",
        "DifferenceType": "NOT_EQUAL"}]
    assert json.loads(drifts["Setting"]["ExpectedProperties"])["Value"] == "v1"
    assert json.loads(drifts["Setting"]["ActualProperties"])["Value"] == "v2"
    assert drifts["Logs"]["StackResourceDriftStatus"] == "MODIFIED"
    assert drifts["Logs"]["PropertyDifferences"] == [{
        "PropertyPath": "/RetentionInDays", "ExpectedValue": "7", "ActualValue": "14",
        "DifferenceType": "NOT_EQUAL"}]
    assert json.loads(drifts["Logs"]["ExpectedProperties"]) == {
        "LogGroupName": f"{prefix}/logs", "RetentionInDays": 7}  # the schema's integer
    assert drifts["Untouched"]["StackResourceDriftStatus"] == "IN_SYNC"
    assert drifts["Untouched"]["PropertyDifferences"] == []
    assert drifts["Untouched"]["PhysicalResourceId"] == f"{prefix}/untouched"

    only_modified = drifts_by_id(cfn, name, StackResourceDriftStatusFilters=["MODIFIED"])
    assert set(only_modified) == {"Setting", "Logs"}
    assert emulator.stack(name)["DriftInformation"]["StackDriftStatus"] == "DRIFTED"
    handle = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Handle")
    assert handle["StackResourceDetail"]["DriftInformation"] == {
        "StackResourceDriftStatus": "NOT_CHECKED"}
    setting = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Setting")
    assert setting["StackResourceDetail"]["DriftInformation"]["StackResourceDriftStatus"] == \
        "MODIFIED"

    code, output = sceptre_project.sceptre("--no-colour", "--output", "json", "drift", "show",
                                           "--drifted", "test/settings.yaml")
    assert code == 0, output
    shown = first_json(output)[name]["StackResourceDrifts"]
    assert {d["LogicalResourceId"] for d in shown} == {"Setting", "Logs"}


def test_a_deleted_resource_is_deleted_and_one_resource_can_be_checked_alone(emulator):
    cfn, prefix, name = emulator.client("cloudformation"), "/" + emulator.unique("gone"), \
        emulator.unique("gone")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(settings_template(prefix)))
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    emulator.client("ssm").delete_parameter(Name=f"{prefix}/setting")

    drift = cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Setting")
    assert drift["StackResourceDrift"]["StackResourceDriftStatus"] == "DELETED"
    assert "ActualProperties" not in drift["StackResourceDrift"]
    handle = cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Handle")
    assert handle["StackResourceDrift"]["StackResourceDriftStatus"] == "NOT_CHECKED"
    assert set(drifts_by_id(cfn, name)) == {"Setting"}  # only what was checked

    detection_id = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    assert (status["StackId"], status["DetectionStatus"], status["StackDriftStatus"],
            status["DriftedStackResourceCount"]) == (
        emulator.stack(name)["StackId"], "DETECTION_COMPLETE", "DRIFTED", 1)

    with pytest.raises(ClientError) as unknown:
        cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Nothing")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
    assert unknown.value.response["Error"]["Message"] == \
        f"Resource Nothing does not exist for stack {name}"
    with pytest.raises(ClientError) as missing:
        cfn.detect_stack_drift(StackName=emulator.unique("no-such-stack"))
    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert "does not exist" in missing.value.response["Error"]["Message"]


FUNCTION = "def handler(event, context):\n    return {}\n"


def every_compared_type(emulator, prefix, key):
    """One resource of each type drift compares, with the compared properties set."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]}
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    name = prefix.strip("/").replace("/", "-")
    return {"Resources": {
        "Parameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"{prefix}/p", "Type": "String", "Value": "v", "Description": "d",
            "AllowedPattern": ".*", "DataType": "text", "Tier": "Standard"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": f"{prefix}/logs", "RetentionInDays": 30}},
        "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": f"{name}-policy", "Path": "/fp/", "Description": "d",
            "PolicyDocument": policy, "Roles": [{"Ref": "Role"}]}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": f"{name}-role", "Path": "/fp/", "Description": "d",
            "MaxSessionDuration": 7200, "AssumeRolePolicyDocument": trust,
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "Policies": [{"PolicyName": "inline", "PolicyDocument": policy}]}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            "Description": "d", "Enabled": True, "EnableKeyRotation": "true",
            "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": f"{name}-f", "Handler": "index.handler", "Runtime": "python3.12",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Timeout": "30", "MemorySize": 256,
            "Description": "d", "Environment": {"Variables": {"AA": "1"}},
            "Code": {"S3Bucket": emulator.code_bucket, "S3Key": key}}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": f"{name}-c"}},
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": "10.9.0.0/16", "InstanceTenancy": "default"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.1.0/24", "AvailabilityZone": "eu-west-1a"}},
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "d", "VpcId": {"Ref": "Vpc"}}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"{name}-b"}},
        "Targets": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Name": name[-20:] + "-tg", "Port": 8080, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"},
            "TargetType": "ip", "HealthCheckPath": "/health", "HealthCheckPort": "8080",
            "HealthCheckProtocol": "HTTP", "HealthCheckIntervalSeconds": 10,
            "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": "3"}},
    }}


def test_a_fresh_stack_of_every_compared_type_is_in_sync(emulator):
    # The guard against false drift: what the template set is what the emulator reads back.
    cfn, prefix, name = emulator.client("cloudformation"), "/" + emulator.unique("all"), \
        emulator.unique("all")
    key = emulator.upload_zip({"index.py": FUNCTION})
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(every_compared_type(emulator, prefix, key)),
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE", [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in emulator.events(name)]
    detection_id = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    drifts = drifts_by_id(cfn, name)
    assert {k: (d["StackResourceDriftStatus"], d["PropertyDifferences"]) for k, d in drifts.items()
            if d["StackResourceDriftStatus"] != "IN_SYNC"} == {}
    assert len(drifts) == 12
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)

    # ...and a change to a nested or listed value is found where it is.
    emulator.client("lambda").update_function_configuration(
        FunctionName=f"{prefix.strip('/').replace('/', '-')}-f",
        Environment={"Variables": {"AA": "2", "BB": "new"}})
    emulator.client("iam").detach_role_policy(
        RoleName=f"{prefix.strip('/').replace('/', '-')}-role",
        PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    cfn.detect_stack_drift(StackName=name)
    drifts = drifts_by_id(cfn, name, StackResourceDriftStatusFilters=["MODIFIED"])
    assert set(drifts) == {"Function", "Role"}
    assert drifts["Function"]["PropertyDifferences"] == [
        {"PropertyPath": "/Environment/Variables/AA", "ExpectedValue": "1", "ActualValue": "2",
         "DifferenceType": "NOT_EQUAL"},
        {"PropertyPath": "/Environment/Variables/BB", "ExpectedValue": "null",
         "ActualValue": "new", "DifferenceType": "ADD"}]
    # The stack's own ManagedPolicy stays attached to the role (through its Roles): only the
    # template's member counts, and it is gone.
    assert drifts["Role"]["PropertyDifferences"] == [
        {"PropertyPath": "/ManagedPolicyArns/0",
         "ExpectedValue": "arn:aws:iam::aws:policy/ReadOnlyAccess", "ActualValue": "null",
         "DifferenceType": "REMOVE"}]


def test_plain_moto_has_no_drift_detection():
    answer = run_in_emulator_venv(
        "import json, boto3\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    cfn.create_stack(StackName='s', TemplateBody=json.dumps({'Resources': {'P': {\n"
        "        'Type': 'AWS::SSM::Parameter', 'Properties': {'Name': 'p', 'Type': 'String',\n"
        "        'Value': 'v'}}}}))\n"
        "    try:\n"
        "        cfn.detect_stack_drift(StackName='s')\n"
        "        print(json.dumps('answered'))\n"
        "    except Exception as error:\n"
        "        print(json.dumps(type(error).__name__ + ': ' + str(error)))")
    assert answer.startswith("NotImplementedError") and "detect_stack_drift" in answer


def test_a_services_desired_count_changed_by_hand_is_drift(emulator):
    cfn, name = emulator.client("cloudformation"), emulator.unique("service")
    template = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.92.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.92.1.0/24"}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": name, "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
            "RequiresCompatibilities": ["FARGATE"], "ContainerDefinitions": [{
                "Name": "app", "Image": "app:1",
                "Command": ["python3", "-c", "import time; time.sleep(600)"]}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"},
            "ServiceName": "app", "LaunchType": "FARGATE", "DesiredCount": 1,
            "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [{"Ref": "Subnet"}]}}}},
    }}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
        cfn.detect_stack_drift(StackName=name)
        assert {d["LogicalResourceId"]: d["StackResourceDriftStatus"]
                for d in cfn.describe_stack_resource_drifts(StackName=name)["StackResourceDrifts"]} \
            == {"Vpc": "IN_SYNC", "Subnet": "IN_SYNC", "Cluster": "IN_SYNC", "Service": "IN_SYNC"}
        emulator.client("ecs").update_service(cluster=name, service="app", desiredCount=0)
        drift = cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Service")
        assert drift["StackResourceDrift"]["PropertyDifferences"] == [{
            "PropertyPath": "/DesiredCount", "ExpectedValue": "1", "ActualValue": "0",
            "DifferenceType": "NOT_EQUAL"}]
    finally:
        cfn.delete_stack(StackName=name)


def wait_until_done(emulator, name, timeout=60):
    deadline = time.monotonic() + timeout
    while emulator.stack(name)["StackStatus"].endswith("_IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.5)
    return emulator.stack(name)["StackStatus"]


def test_a_resource_an_update_removed_is_no_longer_drift(emulator):
    cfn, prefix, name = emulator.client("cloudformation"), "/" + emulator.unique("removed"), \
        emulator.unique("removed")
    template = settings_template(prefix)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert wait_until_done(emulator, name) == "CREATE_COMPLETE"
    emulator.client("ssm").put_parameter(Name=f"{prefix}/untouched", Value="changed", Overwrite=True)
    cfn.detect_stack_drift(StackName=name)
    assert drifts_by_id(cfn, name)["Untouched"]["StackResourceDriftStatus"] == "MODIFIED"
    assert emulator.stack(name)["DriftInformation"]["StackDriftStatus"] == "DRIFTED"

    del template["Resources"]["Untouched"]
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(template))
    assert wait_until_done(emulator, name) == "UPDATE_COMPLETE"
    # One resource checked: the removed one's old result goes, the stack is in sync.
    cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Setting")
    assert set(drifts_by_id(cfn, name)) == {"Setting", "Logs"}
    assert emulator.stack(name)["DriftInformation"]["StackDriftStatus"] == "IN_SYNC"
    # The whole stack checked: its records are this detection's.
    detection_id = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    assert set(drifts_by_id(cfn, name)) == {"Setting", "Logs"}


def signal_success(url):
    """PUTs a SUCCESS signal as curl -T does (AWS's presigned URL wants no Content-Type)."""
    document = {"Status": "SUCCESS", "UniqueId": "test", "Data": "done"}
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="PUT",
                                     headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_drift_detection_is_refused_while_the_stack_has_an_operation_in_progress(emulator):
    cfn, name, url_parameter = emulator.client("cloudformation"), emulator.unique("busy"), \
        "/" + emulator.unique("url")
    template = {"Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Url": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": url_parameter, "Type": "String", "Value": {"Ref": "Handle"}}},
        "Wait": {"Type": "AWS::CloudFormation::WaitCondition", "DependsOn": "Url", "Properties": {
            "Handle": {"Ref": "Handle"}, "Timeout": "120"}},
    }}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert emulator.stack(name)["StackStatus"] == "CREATE_IN_PROGRESS"  # waiting for a signal
    stack_id = emulator.stack(name)["StackId"]
    for detect in (lambda: cfn.detect_stack_drift(StackName=name),
                   lambda: cfn.detect_stack_resource_drift(StackName=name, LogicalResourceId="Url")):
        with pytest.raises(ClientError) as refused:
            detect()
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert refused.value.response["Error"]["Message"] == (
            f"Stack:{stack_id} is in CREATE_IN_PROGRESS state and can not be checked for drift.")

    url = emulator.client("ssm").get_parameter(Name=url_parameter)["Parameter"]["Value"]
    assert signal_success(url) == 200
    assert wait_until_done(emulator, name) == "CREATE_COMPLETE"
    detection_id = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
    assert cfn.describe_stack_drift_detection_status(
        StackDriftDetectionId=detection_id)["DetectionStatus"] == "DETECTION_COMPLETE"


def test_describe_stack_resource_drifts_pages_and_refuses_bad_paging_as_aws(emulator):
    cfn, prefix, name = emulator.client("cloudformation"), "/" + emulator.unique("pages"), \
        emulator.unique("pages")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(settings_template(prefix)))
    assert wait_until_done(emulator, name) == "CREATE_COMPLETE"
    cfn.detect_stack_drift(StackName=name)
    first = cfn.describe_stack_resource_drifts(StackName=name, MaxResults=2)
    rest = cfn.describe_stack_resource_drifts(StackName=name, NextToken=first["NextToken"])
    assert len(first["StackResourceDrifts"]) == 2 and "NextToken" not in rest
    assert {d["LogicalResourceId"] for d in first["StackResourceDrifts"] + rest["StackResourceDrifts"]} \
        == {"Setting", "Untouched", "Logs"}

    # botocore checks MaxResults' minimum itself: this client sends what it is given.
    unchecked = boto3.client("cloudformation", endpoint_url=emulator.url, region_name="eu-west-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing",
                             config=Config(parameter_validation=False))
    refusals = {
        "bogus is not a valid NextToken": dict(NextToken="bogus"),
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1": dict(MaxResults=0),
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100": dict(MaxResults=101),
    }
    for message, paging in refusals.items():
        with pytest.raises(ClientError) as refused:
            unchecked.describe_stack_resource_drifts(StackName=name, **paging)
        assert (refused.value.response["Error"]["Code"],
                refused.value.response["Error"]["Message"]) == ("ValidationError", message)


SNAPSHOT_CHECK = r'''
import json
from emulator import drift

class ResourceMap:
    _resource_json_map = {"A": {"Type": "AWS::SSM::Parameter"}, "B": {"Type": "AWS::SSM::Parameter"}}
    _parsed_resources = {"A": object(), "B": object()}

class Stack:
    stack_id, resource_map = "stack-1", ResourceMap()

def resource_drift(stack, logical_id, resource, definition, timestamp):
    # What a stack operation in another thread does meanwhile: moto's dicts grow.
    ResourceMap._resource_json_map[logical_id + "2"] = {"Type": "AWS::SSM::Parameter"}
    ResourceMap._parsed_resources[logical_id + "2"] = object()
    return {"LogicalResourceId": logical_id, "StackResourceDriftStatus": "IN_SYNC"}

drift.resource_drift = resource_drift
detection = drift.detect(Stack)
print(json.dumps([detection["DetectionStatus"], sorted(drift._resource_drifts["stack-1"])]))
'''


def test_detection_reads_a_snapshot_of_the_stacks_resources():
    # Before: "dictionary changed size during iteration" (HTTP 500) when an operation changed
    # the stack's resources during a detection.
    assert run_in_emulator_venv(SNAPSHOT_CHECK) == ["DETECTION_COMPLETE", ["A", "B"]]
