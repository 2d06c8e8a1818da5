"""Patch 2c (rollback_modes.py): a failed stack operation ends as OnFailure / DisableRollback
ask (through Sceptre's `on_failure:`, `disable_rollback:` and --disable-rollback), and
RollbackStack takes a failed stack back to its last stable state, as on AWS."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv

TIMED_OUT = "WaitCondition timed out. Received 0 conditions when expecting 1"


def template(parameter, *, value="made", failing=False, added=False):
    """An SSM parameter; `added`: a second one; `failing`: an unsignalled 3 s wait condition."""
    resources = {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": parameter, "Type": "String", "Value": value}}}
    if added:
        resources["Added"] = {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": parameter + "-added", "Type": "String", "Value": "new"}}
    if failing:
        resources["Handle"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
        resources["Wait"] = {"Type": "AWS::CloudFormation::WaitCondition", "DependsOn": "Setting",
                             "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "3"}}
    return {"Resources": resources}


def parameter_value(emulator, name):
    try:
        return emulator.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ParameterNotFound"
        return None


def stack_events(emulator, name):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(emulator.events(name))]


def refusal(call):
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_on_failure_do_nothing_keeps_what_was_made_and_the_stack_create_failed(
        emulator, sceptre_project):
    parameter = "/" + emulator.unique("kept")
    name = sceptre_project.stack("kept", template(parameter, failing=True), on_failure="DO_NOTHING")
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/kept.yaml")
    assert code == 1, output
    assert TIMED_OUT in output  # Sceptre prints the stack's events
    stack = emulator.stack(name)
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Wait]."
    assert stack["DisableRollback"] is True
    assert ("Wait", "CREATE_FAILED", TIMED_OUT) in stack_events(emulator, name)
    assert parameter_value(emulator, parameter) == "made"  # not rolled back
    # AWS: a stack created with OnFailure=DO_NOTHING cannot be updated from CREATE_FAILED.
    cfn = emulator.client("cloudformation")
    assert refusal(lambda: cfn.update_stack(
        StackName=name, TemplateBody=json.dumps(template(parameter)), DisableRollback=True)) == (
        "ValidationError", "This stack cannot be updated from [CREATE_FAILED] state because it "
        "contains [on-failure: DO_NOTHING]. Please use disable-rollback option instead during "
        "stack creation.")


def test_disable_rollback_keeps_a_failed_create_that_an_update_then_completes(
        emulator, sceptre_project):
    parameter = "/" + emulator.unique("retry")
    name = sceptre_project.stack("retry", template(parameter, failing=True), disable_rollback=True)
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/retry.yaml")
    assert code == 1, output
    assert emulator.stack(name)["StackStatus"] == "CREATE_FAILED"
    assert parameter_value(emulator, parameter) == "made"
    cfn = emulator.client("cloudformation")
    fixed = json.dumps(template(parameter, value="fixed"))
    assert refusal(lambda: cfn.update_stack(StackName=name, TemplateBody=fixed)) == (
        "ValidationError", "This stack is currently in a non-terminal [CREATE_FAILED] state. To "
        "update the stack from this state, please use the disable-rollback parameter with "
        "update-stack API. To rollback to the last known good state, use the rollback-stack API")
    # The fix, through Sceptre's update (disable_rollback: true passes DisableRollback=true).
    sceptre_project.stack("retry", template(parameter, value="fixed"), disable_rollback=True)
    code, output = sceptre_project.sceptre("--no-colour", "update", "-y", "test/retry.yaml")
    assert code == 0, output
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"
    assert parameter_value(emulator, parameter) == "fixed"


def test_on_failure_delete_deletes_the_failed_stack(emulator, sceptre_project):
    parameter = "/" + emulator.unique("gone")
    name = sceptre_project.stack("gone", template(parameter, failing=True), on_failure="DELETE")
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/gone.yaml")
    assert code == 1 and "does not exist" in output, output  # Sceptre's poll, as against AWS
    cfn = emulator.client("cloudformation")
    assert refusal(lambda: cfn.describe_stacks(StackName=name)) == (
        "ValidationError", f"Stack with id {name} does not exist")
    [summary] = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
    assert summary["StackStatus"] == "DELETE_COMPLETE"
    assert emulator.stack(summary["StackId"])["StackStatus"] == "DELETE_COMPLETE"  # by id: kept
    assert stack_events(emulator, summary["StackId"])[-3:] == [
        ("Wait", "CREATE_FAILED", TIMED_OUT),
        (name, "DELETE_IN_PROGRESS",
         "The following resource(s) failed to create: [Wait]. Delete requested by user."),
        (name, "DELETE_COMPLETE", None)]
    assert parameter_value(emulator, parameter) is None


def test_an_update_with_disable_rollback_stays_update_failed_until_rolled_back(
        emulator, sceptre_project):
    parameter = "/" + emulator.unique("upd")
    name = sceptre_project.stack("upd", template(parameter))
    assert sceptre_project.sceptre("--no-colour", "launch", "-y", "test/upd.yaml")[0] == 0
    sceptre_project.stack("upd", template(parameter, added=True, failing=True))
    code, output = sceptre_project.sceptre(
        "--no-colour", "update", "-y", "--disable-rollback", "test/upd.yaml")
    assert code == 1, output
    stack = emulator.stack(name)
    assert stack["StackStatus"] == "UPDATE_FAILED"
    # The wait condition is new in this update: it failed to create, as AWS words it.
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Wait]."
    assert parameter_value(emulator, parameter + "-added") == "new"  # what the update did stays
    cfn = emulator.client("cloudformation")
    assert refusal(lambda: cfn.update_stack(
        StackName=name, TemplateBody=json.dumps(template(parameter))))[1].startswith(
        "This stack is currently in a non-terminal [UPDATE_FAILED] state.")
    # Sceptre has no rollback command: RollbackStack through boto3.
    assert cfn.rollback_stack(StackName=name)["StackId"] == stack["StackId"]
    assert emulator.stack(name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_events(emulator, name)[-2:] == [
        (name, "UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated"),
        (name, "UPDATE_ROLLBACK_COMPLETE", None)]
    assert parameter_value(emulator, parameter + "-added") is None
    assert parameter_value(emulator, parameter) == "made"
    assert refusal(lambda: cfn.rollback_stack(StackName=name))[1].endswith(
        "is in UPDATE_ROLLBACK_COMPLETE state and can not be rolled back.")


def test_on_failure_and_disable_rollback_together_are_refused(emulator):
    cfn = emulator.client("cloudformation")
    body = json.dumps(template("/" + emulator.unique("both")))
    assert refusal(lambda: cfn.create_stack(
        StackName=emulator.unique("both"), TemplateBody=body, OnFailure="DELETE",
        DisableRollback=False)) == (
        "ValidationError", "Either DisableRollback or OnFailure can be specified, not both.")


def test_an_on_failure_outside_its_values_is_refused(emulator):
    cfn, name = emulator.client("cloudformation"), emulator.unique("odd")
    body = json.dumps(template("/" + emulator.unique("odd")))
    assert refusal(lambda: cfn.create_stack(StackName=name, TemplateBody=body,
                                            OnFailure="KEEP")) == (
        "ValidationError", "1 validation error detected: Value 'KEEP' at 'onFailure' failed to "
        "satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]")
    assert refusal(lambda: cfn.describe_stacks(StackName=name))[0] == "ValidationError"  # none made


def test_rollback_stack_from_create_failed_deletes_what_was_made(emulator):
    cfn, name, parameter = emulator.client("cloudformation"), emulator.unique("back"), "/" + emulator.unique("back")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template(parameter, failing=True)),
                     DisableRollback=True)
    deadline = time.monotonic() + 60
    while emulator.stack(name)["StackStatus"] == "CREATE_IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.5)  # the wait condition's 3 s
    assert emulator.stack(name)["StackStatus"] == "CREATE_FAILED"
    assert parameter_value(emulator, parameter) == "made"
    cfn.rollback_stack(StackName=name)
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_events(emulator, name)[-2:] == [
        (name, "ROLLBACK_IN_PROGRESS", "User Initiated"), (name, "ROLLBACK_COMPLETE", None)]
    assert parameter_value(emulator, parameter) is None


def test_plain_moto_drops_on_failure_and_disable_rollback_and_has_no_rollback_stack():
    found = run_in_emulator_venv(
        "import inspect, json\n"
        "import boto3\n"
        "from moto import mock_aws\n"
        "from moto.cloudformation.models import CloudFormationBackend\n"
        "from moto.cloudformation.responses import CloudFormationResponse\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    body = json.dumps({'Resources': {'P': {'Type': 'AWS::SSM::Parameter',\n"
        "        'Properties': {'Name': '/p', 'Type': 'String', 'Value': 'v'}}}})\n"
        "    cfn.create_stack(StackName='s', TemplateBody=body, DisableRollback=True,\n"
        "                     OnFailure='DELETE')\n"
        "    stack = cfn.describe_stacks(StackName='s')['Stacks'][0]\n"
        "    try:\n"
        "        cfn.rollback_stack(StackName='s')\n"
        "        rollback = 'answered'\n"
        "    except NotImplementedError as error:\n"
        "        rollback = str(error)\n"
        "print(json.dumps({'disable_rollback': stack['DisableRollback'], 'rollback': rollback,\n"
        "    'backend_takes': list(inspect.signature(CloudFormationBackend.create_stack).parameters),\n"
        "    'reads': [p for p in ('OnFailure', 'DisableRollback')\n"
        "              if p in inspect.getsource(CloudFormationResponse.create_stack)]}))")
    assert found["disable_rollback"] is False  # both options accepted together, and dropped
    assert found["rollback"] == "The rollback_stack action has not been implemented"
    assert "on_failure" not in found["backend_takes"] and found["reads"] == []
