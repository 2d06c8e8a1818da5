"""An update or a change set that changes nothing, as AWS decides it (template_changes.no_changes,
used by cloudformation_fixes.validate_different_update and change_sets): the template once parsed,
whatever its formatting, and the parameter values, an omitted one taking its Default."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv

NO_CHANGES = ("The submitted information didn't contain changes. "
              "Submit different information to create a change set.")

# The same template twice: Sceptre's YAML (document marker, comment, flow style) and JSON.
YAML_TEMPLATE = """---
# a comment, a document marker and flow style: formatting only
Parameters:
  Greeting: {Type: String, Default: hello}
  Size: {Type: Number, Default: 3}
Resources:
  Handle:
    Type: "AWS::CloudFormation::WaitConditionHandle"
"""
JSON_TEMPLATE = {
    "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    "Parameters": {"Size": {"Default": 3, "Type": "Number"},
                   "Greeting": {"Default": "hello", "Type": "String"}},
}


def update_events(emulator, name):
    return [e for e in emulator.events(name) if e["ResourceStatus"].startswith("UPDATE_")]


def test_a_reformatted_template_with_the_same_values_is_no_update(emulator, sceptre_project):
    # Created with Greeting given as its default; updated with it omitted: the same value.
    name = sceptre_project.stack("same", YAML_TEMPLATE, parameters={"Greeting": "hello"})
    assert sceptre_project.sceptre("create", "-y", "test/same.yaml")[0] == 0
    sceptre_project.stack("same", JSON_TEMPLATE)
    code, output = sceptre_project.sceptre("--no-colour", "update", "-y", "test/same.yaml")
    assert code == 0 and "No updates to perform." in output, output
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE" and update_events(emulator, name) == []
    # A value that differs is an update.
    sceptre_project.stack("same", JSON_TEMPLATE, parameters={"Greeting": "bye"})
    code, output = sceptre_project.sceptre("--no-colour", "update", "-y", "test/same.yaml")
    assert code == 0, output
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"


def test_an_unchanged_change_set_fails_with_aws_reason_and_sceptre_skips_it(emulator, sceptre_project):
    cfn = emulator.client("cloudformation")
    name = sceptre_project.stack("quiet", YAML_TEMPLATE)
    assert sceptre_project.sceptre("create", "-y", "test/quiet.yaml")[0] == 0
    sceptre_project.stack("quiet", JSON_TEMPLATE)
    code, output = sceptre_project.sceptre("--no-colour", "update", "--change-set", "-y", "test/quiet.yaml")
    assert code == 0 and "No changes detected" in output, output
    assert sceptre_project.sceptre("create", "-y", "test/quiet.yaml", "unchanged")[0] == 0
    change_set = cfn.describe_change_set(StackName=name, ChangeSetName="unchanged")
    assert (change_set["Status"], change_set["ExecutionStatus"], change_set["StatusReason"]) == \
        ("FAILED", "UNAVAILABLE", NO_CHANGES)
    code, output = sceptre_project.sceptre("--no-colour", "execute", "-y", "test/quiet.yaml", "unchanged")
    assert code == 0 and "there are no changes" in output, output
    with pytest.raises(ClientError) as refused:
        cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    assert refused.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    assert refused.value.response["Error"]["Message"] == (
        f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current status of [FAILED]")
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE" and update_events(emulator, name) == []


def refusal(call):
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_use_previous_value_is_the_default_the_stack_was_made_with(emulator):
    cfn, name = emulator.client("cloudformation"), emulator.unique("previous")
    cfn.create_stack(StackName=name, TemplateBody=YAML_TEMPLATE)  # Greeting and Size: Defaults
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    previous = [{"ParameterKey": "Greeting", "UsePreviousValue": True},
                {"ParameterKey": "Size", "UsePreviousValue": True}]
    # Their previous values are the Defaults (AWS keeps every parameter's): no change.
    assert refusal(lambda: cfn.update_stack(
        StackName=name, TemplateBody=json.dumps(JSON_TEMPLATE), Parameters=previous)) == (
        "ValidationError", "No updates are to be performed.")
    cfn.create_change_set(StackName=name, ChangeSetName="same", TemplateBody=json.dumps(JSON_TEMPLATE),
                          Parameters=previous)
    change_set = cfn.describe_change_set(StackName=name, ChangeSetName="same")
    assert (change_set["Status"], change_set["StatusReason"]) == ("FAILED", NO_CHANGES)
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE" and update_events(emulator, name) == []

    # A key the stack's template does not declare has no previous value: AWS refuses it.
    with_colour = {**JSON_TEMPLATE, "Parameters": {
        **JSON_TEMPLATE["Parameters"], "Colour": {"Type": "String", "Default": "red"}}}
    not_declared = ("ValidationError", "Cannot specify usePreviousValue as true for a parameter key "
                                       "not in the previous template")
    colour = [{"ParameterKey": "Colour", "UsePreviousValue": True}]
    assert refusal(lambda: cfn.update_stack(
        StackName=name, TemplateBody=json.dumps(with_colour), Parameters=colour)) == not_declared
    assert refusal(lambda: cfn.create_change_set(
        StackName=name, ChangeSetName="colour", TemplateBody=json.dumps(with_colour),
        Parameters=colour)) == not_declared
    # ...nor has a stack a CREATE change set makes.
    assert refusal(lambda: cfn.create_change_set(
        StackName=emulator.unique("new"), ChangeSetName="new", ChangeSetType="CREATE",
        TemplateBody=YAML_TEMPLATE, Parameters=previous)) == (
        "ValidationError", "Cannot specify UsePreviousValue on Parameters when ChangeSetType is CREATE")
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE" and update_events(emulator, name) == []

    # With a changed template, the update runs with those values (moto: KeyError 'Greeting').
    changed = {**JSON_TEMPLATE, "Resources": {**JSON_TEMPLATE["Resources"], "Added": {
        "Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(changed), Parameters=previous)
    deadline = time.monotonic() + 30
    while emulator.stack(name)["StackStatus"].endswith("IN_PROGRESS") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in emulator.stack(name)["Parameters"]} == {
        "Greeting": "hello", "Size": "3"}


def test_plain_moto_updates_a_stack_whose_template_is_only_reformatted():
    statuses = run_in_emulator_venv(
        "import json, boto3\n"
        "from moto import mock_aws\n"
        f"yaml_template = {YAML_TEMPLATE!r}\n"
        f"json_template = json.dumps({JSON_TEMPLATE!r})\n"
        "given = [{'ParameterKey': 'Greeting', 'ParameterValue': 'hello'}]\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    statuses = []\n"
        "    for name, update in (('reformatted', given), ('default-omitted', [])):\n"
        "        cfn.create_stack(StackName=name, TemplateBody=yaml_template, Parameters=given)\n"
        "        cfn.update_stack(StackName=name, TemplateBody=json_template, Parameters=update)\n"
        "        statuses.append(cfn.describe_stacks(StackName=name)['Stacks'][0]['StackStatus'])\n"
        "print(json.dumps(statuses))\n")
    assert statuses == ["UPDATE_COMPLETE", "UPDATE_COMPLETE"]
