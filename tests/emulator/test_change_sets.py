"""Patch 15a (change_sets.py): change sets as AWS keeps them: scoped to their stack, UPDATE by
default, executed as a stack operation (background, rollback), then found by ARN only."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv


def handles(*names):
    """A template of WaitConditionHandles (free to create and delete)."""
    return {"Resources": {name: {"Type": "AWS::CloudFormation::WaitConditionHandle"}
                          for name in names}}


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    response = refused.value.response
    return response["Error"]["Code"], response["Error"]["Message"], \
        response["ResponseMetadata"]["HTTPStatusCode"]


def wait_until_settled(emulator, name, timeout=60):
    deadline = time.monotonic() + timeout
    while emulator.stack(name)["StackStatus"].endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.5)
    return emulator.stack(name)


def test_a_sceptre_change_set_updates_its_stack_and_is_then_found_by_arn_only(emulator, sceptre_project):
    cfn = emulator.client("cloudformation")
    name = sceptre_project.stack("app", handles("Handle"))
    assert sceptre_project.sceptre("--no-colour", "create", "-y", "test/app.yaml")[0] == 0
    sceptre_project.stack("app", handles("Handle", "Added"))
    code, output = sceptre_project.sceptre("--no-colour", "create", "-y", "test/app.yaml", "cs1")
    assert code == 0 and "Successfully initiated creation of Change Set 'cs1'" in output, output
    # An UPDATE of the stack: no second stack of the same name.
    assert [s["StackStatus"] for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == name] == \
        ["CREATE_COMPLETE"]
    code, output = sceptre_project.sceptre("--no-colour", "--output", "json", "describe",
                                           "change-set", "test/app.yaml", "cs1")
    described = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [c["ResourceChange"]["Action"] + " " + c["ResourceChange"]["LogicalResourceId"]
            for c in described["Changes"]] == ["Add Added"]
    change_set_id = cfn.describe_change_set(StackName=name, ChangeSetName="cs1")["ChangeSetId"]

    code, output = sceptre_project.sceptre("--no-colour", "execute", "-y", "test/app.yaml", "cs1")
    assert code == 0, output
    stack = wait_until_settled(emulator, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE" and stack["ChangeSetId"] == change_set_id
    assert [e["ResourceStatus"] for e in emulator.events(name)
            if e["LogicalResourceId"] == name][:2] == ["UPDATE_COMPLETE", "UPDATE_IN_PROGRESS"]
    assert {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName=name)["StackResources"]} \
        == {"Handle", "Added"}
    executed = cfn.describe_change_set(ChangeSetName=change_set_id)
    assert (executed["Status"], executed["ExecutionStatus"]) == ("CREATE_COMPLETE", "EXECUTE_COMPLETE")
    assert error_of(cfn.describe_change_set, StackName=name, ChangeSetName="cs1") == \
        ("ChangeSetNotFound", "ChangeSet [cs1] does not exist", 404)
    assert cfn.list_change_sets(StackName=name)["Summaries"] == []


def test_names_are_scoped_to_their_stack_and_unknown_change_sets_are_answered_as_aws(
        emulator, sceptre_project):
    cfn = emulator.client("cloudformation")
    one = sceptre_project.stack("one", handles("Handle"))
    two = sceptre_project.stack("two", handles("Handle"))
    assert sceptre_project.sceptre("create", "-y", "test/one.yaml")[0] == 0
    assert sceptre_project.sceptre("create", "-y", "test/two.yaml")[0] == 0
    for name in (one, two):
        cfn.create_change_set(StackName=name, ChangeSetName="shared",
                              TemplateBody=json.dumps(handles("Handle", "More")))
    code, output = sceptre_project.sceptre("--no-colour", "delete", "-y", "test/one.yaml", "shared")
    assert code == 0 and "Successfully deleted Change Set 'shared'" in output, output
    assert cfn.describe_change_set(StackName=two, ChangeSetName="shared")["StackName"] == two
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName=two)["Summaries"]] == ["shared"]
    assert cfn.list_change_sets(StackName=one)["Summaries"] == []

    not_found = ("ChangeSetNotFound", "ChangeSet [shared] does not exist", 404)
    assert error_of(cfn.describe_change_set, StackName=one, ChangeSetName="shared") == not_found
    assert error_of(cfn.execute_change_set, StackName=one, ChangeSetName="shared") == not_found
    cfn.delete_change_set(StackName=one, ChangeSetName="shared")  # AWS: succeeds, nothing to delete
    assert error_of(cfn.describe_change_set, StackName="no-such-stack", ChangeSetName="shared") == \
        ("ValidationError", "Stack [no-such-stack] does not exist", 400)
    assert error_of(cfn.delete_change_set, ChangeSetName="shared") == (
        "ValidationError", "StackName must be specified if ChangeSetName is not specified as an ARN.", 400)


def test_the_change_set_type_defaults_to_update_and_a_create_refuses_an_existing_stack(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("typed")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(handles("Handle")))["StackId"]
    made = cfn.create_change_set(StackName=name, ChangeSetName="untyped",
                                 TemplateBody=json.dumps(handles("Handle", "More")))
    assert made["StackId"] == stack_id
    assert [s["StackStatus"] for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == name] == \
        ["CREATE_COMPLETE"]
    assert error_of(cfn.create_change_set, StackName=name, ChangeSetName="again", ChangeSetType="CREATE",
                    TemplateBody=json.dumps(handles("Handle"))) == (
        "ValidationError",
        f"Stack [{name}] already exists and cannot be created again with the changeSet [again].", 400)
    missing = emulator.unique("missing")
    assert error_of(cfn.create_change_set, StackName=missing, ChangeSetName="untyped",
                    TemplateBody=json.dumps(handles("Handle"))) == \
        ("ValidationError", f"Stack [{missing}] does not exist", 400)


def test_a_create_change_set_makes_a_review_stack_that_executing_creates(emulator, sceptre_project):
    cfn = emulator.client("cloudformation")
    name = sceptre_project.stack("fresh", handles("Handle"))
    assert sceptre_project.sceptre("create", "-y", "test/fresh.yaml", "first")[0] == 0
    review = emulator.stack(name)
    assert review["StackStatus"] == "REVIEW_IN_PROGRESS"
    change_set = cfn.describe_change_set(StackName=name, ChangeSetName="first")
    assert change_set["StackId"] == review["StackId"]
    code, output = sceptre_project.sceptre("--no-colour", "execute", "-y", "test/fresh.yaml", "first")
    assert code == 0, output
    stack = wait_until_settled(emulator, name)
    assert (stack["StackStatus"], stack["StackId"], stack["ChangeSetId"]) == \
        ("CREATE_COMPLETE", review["StackId"], change_set["ChangeSetId"])
    assert [e["ResourceStatus"] for e in reversed(emulator.events(name)) if e["LogicalResourceId"] == name] \
        == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]


def parameter_template(parameter_name, value, broken=False):
    resources = {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": parameter_name, "Type": "String", "Value": value}}}
    if broken:  # SSM refuses an empty value: the update fails
        resources["Broken"] = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": ""}}
    return json.dumps({"Resources": resources})


def test_a_failing_change_set_is_rolled_back_and_execute_failed(emulator):
    cfn, ssm = emulator.client("cloudformation"), emulator.client("ssm")
    name, parameter = emulator.unique("failing"), "/" + emulator.unique("setting")
    cfn.create_stack(StackName=name, TemplateBody=parameter_template(parameter, "v1"))
    change_set_id = cfn.create_change_set(
        StackName=name, ChangeSetName="broken", TemplateBody=parameter_template(parameter, "v2", True))["Id"]
    cfn.execute_change_set(ChangeSetName=change_set_id)
    assert wait_until_settled(emulator, name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert [e["LogicalResourceId"] for e in emulator.events(name)
            if e["ResourceStatus"].endswith("_FAILED")] == ["Broken"]
    assert ssm.get_parameter(Name=parameter)["Parameter"]["Value"] == "v1"
    assert cfn.describe_change_set(ChangeSetName=change_set_id)["ExecutionStatus"] == "EXECUTE_FAILED"


def test_a_change_set_made_before_another_update_is_obsolete(emulator):
    cfn = emulator.client("cloudformation")
    name, parameter = emulator.unique("stale"), "/" + emulator.unique("setting")
    cfn.create_stack(StackName=name, TemplateBody=parameter_template(parameter, "v1"))
    stale = cfn.create_change_set(StackName=name, ChangeSetName="stale",
                                  TemplateBody=parameter_template(parameter, "v2"))["Id"]
    cfn.update_stack(StackName=name, TemplateBody=parameter_template(parameter, "v3"))
    assert wait_until_settled(emulator, name)["StackStatus"] == "UPDATE_COMPLETE"
    assert cfn.describe_change_set(ChangeSetName=stale)["ExecutionStatus"] == "OBSOLETE"
    code, message, status = error_of(cfn.execute_change_set, ChangeSetName=stale)
    assert (code, status) == ("InvalidChangeSetStatus", 400) and "[OBSOLETE]" in message


def test_plain_moto_mixes_up_change_sets_and_executes_them_inside_the_call():
    found = run_in_emulator_venv(
        "import json, boto3\n"
        "from botocore.exceptions import ClientError\n"
        "from moto import mock_aws\n"
        "one = json.dumps({'Resources': {'H': {'Type': 'AWS::CloudFormation::WaitConditionHandle'}}})\n"
        "two = json.dumps({'Resources': {'H': {'Type': 'AWS::CloudFormation::WaitConditionHandle'},\n"
        "                                'G': {'Type': 'AWS::CloudFormation::WaitConditionHandle'}}})\n"
        "def answer(call, **kwargs):\n"
        "    try:\n"
        "        call(**kwargs)\n"
        "    except ClientError as error:\n"
        "        return error.response['Error']['Message']\n"
        "    except Exception as error:\n"
        "        return type(error).__name__\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    for name in ('a', 'b'):\n"
        "        cfn.create_stack(StackName=name, TemplateBody=one)\n"
        "    cfn.create_change_set(StackName='a', ChangeSetName='A', TemplateBody=two)  # no type\n"
        "    cfn.create_change_set(StackName='b', ChangeSetName='A', TemplateBody=two,\n"
        "                          ChangeSetType='UPDATE')\n"
        "    statuses = [s['StackStatus'] for s in cfn.describe_stacks()['Stacks'] if s['StackName'] == 'a']\n"
        "    cfn.delete_change_set(StackName='b', ChangeSetName='A')\n"
        "    left = [(c['StackName'], c['ChangeSetName']) for c in cfn.list_change_sets(StackName='b')['Summaries']]\n"
        "    cfn.execute_change_set(StackName='b', ChangeSetName='A')\n"
        "    stack = cfn.describe_stacks(StackName='b')['Stacks'][0]\n"
        "    print(json.dumps({'statuses': statuses, 'left': left,\n"
        "        'executed': [stack['StackStatus'], stack.get('ChangeSetId')],\n"
        "        'describe': answer(cfn.describe_change_set, StackName='b', ChangeSetName='X'),\n"
        "        'execute': answer(cfn.execute_change_set, StackName='b', ChangeSetName='X'),\n"
        "        'delete': answer(cfn.delete_change_set, StackName='b', ChangeSetName='X')}))\n")
    assert found["statuses"] == ["CREATE_COMPLETE", "REVIEW_IN_PROGRESS"]  # a second stack "a"
    assert found["left"] == [["b", "A"]]  # deleting b's "A" deleted the other stack's "A"
    assert found["executed"] == ["UPDATE_COMPLETE", None]  # done inside the call, no ChangeSetId
    assert found["describe"] == "Stack with id X does not exist"
    assert found["execute"] == found["delete"] == "UnboundLocalError"  # HTTP 500 from moto's server
