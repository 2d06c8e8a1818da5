"""Patch 2b (stack_operations.py, resource_steps.py, stack_endings.py): stack operations run in
the background, as CloudFormation's, one at a time per stack (a busy stack refuses another, a
DeleteStack cancels a create), an update's template is checked in the call, a failed update's
rollback really reverts the resources it changed, and a reader of a stack in progress makes
nothing."""
import json
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv


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


# -- one operation at a time, and what readers see -----------------------------------------


def parameter(name, value, depends_on=None):
    resource = {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String",
                                                              "Value": value}}
    if depends_on:
        resource["DependsOn"] = depends_on
    return resource


def waiting(name, value="v1", timeout=60, later=False):
    """A parameter `name`, then a wait condition whose handle's URL is the parameter
    `name`-url (for the test to signal); `later`: a parameter `name`-later made after it."""
    resources = {
        "Setting": parameter(name, value),
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Url": parameter(name + "-url", {"Ref": "Handle"}, depends_on="Setting"),
        "Wait": {"Type": "AWS::CloudFormation::WaitCondition", "DependsOn": "Url",
                 "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": str(timeout)}},
    }
    if later:
        resources["Later"] = parameter(name + "-later", "after the wait", depends_on="Wait")
    return json.dumps({"Resources": resources})


def ssm_value(emulator, name):
    try:
        return emulator.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ParameterNotFound"
        return None


def eventually(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"not within {seconds} s: {check}")


def signal_wait(emulator, name):
    """PUTs a SUCCESS signal to the handle whose URL the parameter `name`-url holds."""
    url = eventually(lambda: ssm_value(emulator, name + "-url"))
    body = json.dumps({"Status": "SUCCESS", "UniqueId": "test", "Data": "done"}).encode()
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def in_thread(call):
    """Starts `call`; the returned function waits for it and gives ("ok", result) or
    ("refused", error code, message)."""
    outcome = []

    def run():
        try:
            outcome.append(("ok", call()))
        except ClientError as error:
            outcome.append(("refused", error.response["Error"]["Code"], error.response["Error"]["Message"]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lambda: (thread.join(120), outcome[0])[1]


def final_status(emulator, name_or_id):
    return eventually(lambda: (lambda status: None if status.endswith("_IN_PROGRESS") else status)(
        emulator.stack(name_or_id)["StackStatus"]))


def statuses(emulator, name_or_id):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(emulator.events(name_or_id))]


def test_a_delete_during_a_create_cancels_it_and_deletes_what_was_made(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("cancel"), "/" + emulator.unique("p")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=waiting(setting))["StackId"]
    eventually(lambda: ssm_value(emulator, setting + "-url"))  # the wait has begun
    assert emulator.stack(name)["StackStatus"] == "CREATE_IN_PROGRESS"
    cfn.delete_stack(StackName=name)  # AWS: accepted, the create is cancelled
    assert final_status(emulator, stack_id) == "DELETE_COMPLETE"
    events = statuses(emulator, stack_id)
    assert ("Wait", "CREATE_FAILED", "Resource creation cancelled") in events
    assert events[-1] == (name, "DELETE_COMPLETE", None)
    assert not [event for event in events if "ROLLBACK" in event[1]]  # deleted, not rolled back
    assert ssm_value(emulator, setting) is None and ssm_value(emulator, setting + "-url") is None


def test_a_delete_during_an_update_is_refused(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("busy"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Setting": parameter(setting, "v1")}}))
    update = in_thread(lambda: cfn.update_stack(StackName=name, TemplateBody=waiting(setting, "v2")))
    eventually(lambda: ssm_value(emulator, setting + "-url"))
    with pytest.raises(ClientError) as refused:
        cfn.delete_stack(StackName=name)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"] == \
        f"Stack [{name}] cannot be deleted while in status UPDATE_IN_PROGRESS"
    signal_wait(emulator, setting)
    assert update()[0] == "ok"
    assert final_status(emulator, name) == "UPDATE_COMPLETE"


def test_concurrent_updates_start_one_operation_and_refuse_the_other(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("twice"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Setting": parameter(setting, "v1")}}))
    start = threading.Barrier(2)
    updates = [in_thread(lambda value=value: (start.wait(), cfn.update_stack(
        StackName=name, TemplateBody=waiting(setting, value)))) for value in ("v2", "v3")]
    signal_wait(emulator, setting)
    outcomes = sorted(update() for update in updates)
    assert [outcome[0] for outcome in outcomes] == ["ok", "refused"]
    assert outcomes[1][1:] == ("ValidationError", f"Stack:{emulator.stack(name)['StackId']} is in "
                               "UPDATE_IN_PROGRESS state and can not be updated.")
    assert final_status(emulator, name) == "UPDATE_COMPLETE"
    assert [e[1] for e in statuses(emulator, name) if e[0] == name].count("UPDATE_IN_PROGRESS") == 1


def test_concurrent_executions_of_a_change_set_start_one(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("exec"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Setting": parameter(setting, "v1")}}))
    change_set = cfn.create_change_set(StackName=name, ChangeSetName="grow",
                                       TemplateBody=waiting(setting, "v2"))["Id"]
    start = threading.Barrier(2)
    executions = [in_thread(lambda: (start.wait(), cfn.execute_change_set(ChangeSetName=change_set)))
                  for _ in range(2)]
    signal_wait(emulator, setting)
    outcomes = sorted(execution() for execution in executions)  # "ok" first
    assert [outcome[0] for outcome in outcomes] == ["ok", "refused"]
    assert outcomes[1][1] == "InvalidChangeSetStatus"  # the other found it executing
    assert final_status(emulator, name) == "UPDATE_COMPLETE"
    assert cfn.describe_change_set(ChangeSetName=change_set)["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_a_read_during_a_create_makes_nothing_and_lists_only_what_was_made(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("read"), "/" + emulator.unique("p")
    create = in_thread(lambda: cfn.create_stack(StackName=name, TemplateBody=waiting(setting, later=True)))
    eventually(lambda: ssm_value(emulator, setting + "-url"))
    listed = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert sorted(resource["LogicalResourceId"] for resource in listed) == ["Handle", "Setting", "Url"]
    assert cfn.describe_stack_resource(StackName=name, LogicalResourceId="Setting")[
        "StackResourceDetail"]["LogicalResourceId"] == "Setting"
    assert ssm_value(emulator, setting + "-later") is None  # the read made nothing
    signal_wait(emulator, setting)
    assert create()[0] == "ok"
    assert final_status(emulator, name) == "CREATE_COMPLETE"
    assert ssm_value(emulator, setting + "-later") == "after the wait"


def test_a_deleted_stack_read_by_its_id_makes_nothing_again(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("gone"), "/" + emulator.unique("p")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(
        {"Resources": {"Setting": parameter(setting, "v1")}}))["StackId"]
    cfn.delete_stack(StackName=name)
    assert final_status(emulator, stack_id) == "DELETE_COMPLETE"
    assert cfn.describe_stack_resources(StackName=stack_id)["StackResources"] == []
    assert ssm_value(emulator, setting) is None  # moto would have made it again for the read


def test_an_execution_refused_in_the_call_leaves_the_review_stack_as_it_was(emulator):
    cfn, name = emulator.client("cloudformation"), emulator.unique("review")
    template = json.dumps({"Description": "made by the change set",
                           "Parameters": {"Value": {"Type": "String"}},
                           "Resources": {"Setting": parameter("/" + name, {"Ref": "Value"})}})
    change_set = cfn.create_change_set(StackName=name, ChangeSetName="first", ChangeSetType="CREATE",
                                       TemplateBody=template)["Id"]
    with pytest.raises(ClientError) as refused:
        cfn.execute_change_set(ChangeSetName=change_set)
    assert refused.value.response["Error"]["Message"] == "Missing parameter Value"
    stack = emulator.stack(name)
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS" and "Description" not in stack
    assert cfn.describe_change_set(ChangeSetName=change_set)["ExecutionStatus"] == "AVAILABLE"


def nested(emulator, child):
    """A parent template whose one resource is the stack `child` (a template), from S3."""
    key = emulator.unique("child") + ".json"
    emulator.client("s3").put_object(Bucket=emulator.code_bucket, Key=key, Body=json.dumps(child).encode())
    return json.dumps({"Resources": {"Nested": {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": f"https://s3.amazonaws.com/{emulator.code_bucket}/{key}"}}}})


def test_nested_stacks_are_made_and_deleted_by_their_parents_operation(emulator):
    cfn, name, setting = emulator.client("cloudformation"), emulator.unique("parent"), "/" + emulator.unique("p")
    cfn.create_stack(StackName=name, TemplateBody=nested(emulator, {"Resources": {
        "Setting": parameter(setting, "v1")}}))
    assert final_status(emulator, name) == "CREATE_COMPLETE"
    [child] = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"].startswith(name + "-")]
    assert child["StackStatus"] == "CREATE_COMPLETE" and ssm_value(emulator, setting) == "v1"
    cfn.delete_stack(StackName=name)
    assert final_status(emulator, child["StackId"]) == "DELETE_COMPLETE"
    assert ssm_value(emulator, setting) is None


def test_a_failed_nested_stack_fails_its_parents_resource(emulator):
    cfn, name = emulator.client("cloudformation"), emulator.unique("parent")
    cfn.create_stack(StackName=name, TemplateBody=nested(emulator, {"Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Wait": {"Type": "AWS::CloudFormation::WaitCondition",
                 "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "2"}}}}))
    assert final_status(emulator, name) == "ROLLBACK_COMPLETE"
    [failed] = [e for e in statuses(emulator, name) if e[:2] == ("Nested", "CREATE_FAILED")]
    assert failed[2].startswith("Embedded stack arn:aws:cloudformation:") and failed[2].endswith(
        " was not successfully created: The following resource(s) failed to create: [Wait].")


def test_an_operation_that_breaks_off_ends_failed_not_in_progress():
    # In the layer's own process (moto in-process, the patches applied): work that raises
    # past its ending, as a bug of the layer's would.
    found = run_in_emulator_venv(
        "import json\n"
        "import boto3\n"
        "from moto import mock_aws\n"
        "from moto.cloudformation.models import cloudformation_backends\n"
        "from emulator import patches, stack_operations\n"
        "patches.apply_all()\n"
        "with mock_aws():\n"
        "    boto3.client('cloudformation', region_name='eu-west-1').create_stack(\n"
        "        StackName='s', TemplateBody=json.dumps({'Resources': {'H': {\n"
        "            'Type': 'AWS::CloudFormation::WaitConditionHandle'}}}))\n"
        "    stack = cloudformation_backends['123456789012']['eu-west-1'].get_stack('s')\n"
        "    operation = stack_operations.start_operation(stack, 'UPDATE_IN_PROGRESS', 'updated')\n"
        "    stack_operations.run_in_background(operation, 'broken', lambda: 1 / 0)\n"
        "    print(json.dumps([stack.status, stack.events[-1].resource_status_reason]))")
    assert found == ["UPDATE_FAILED", "ZeroDivisionError: division by zero"]
