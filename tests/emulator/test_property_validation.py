"""Issue 15 item 2 (property_validation.py): a resource's properties are validated against its
type's registry schema, and a violation fails the resource with AWS's reason and rolls back."""
import json

from plain_moto import run_in_emulator_venv


def failures(emulator, stack_name):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in emulator.events(stack_name) if e["ResourceStatus"].endswith("_FAILED")]


HANDLE = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle",
                                   "Properties": {"Invalid": "x"}}}}


def test_an_unknown_property_fails_the_resource_and_the_stack_rolls_back(emulator, sceptre_project):
    name = sceptre_project.stack("handle", HANDLE)
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/handle.yaml")
    assert code != 0, output
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failures(emulator, name) == [(
        "Handle", "CREATE_FAILED",
        "Properties validation failed for resource Handle with message: "
        "#: extraneous key [Invalid] is not permitted")]


def test_several_violations_are_listed_one_a_line(emulator, sceptre_project):
    name = sceptre_project.stack("parameter", {"Resources": {"Setting": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Value": "v", "Tags": [{"Key": "a", "Value": "b"}]}}}})
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/parameter.yaml")
    assert code != 0, output
    assert failures(emulator, name) == [(
        "Setting", "CREATE_FAILED",
        "Properties validation failed for resource Setting with message:\n"
        "#: required key [Type] not found\n"
        "#/Tags: expected type: JSONObject, found: JSONArray")]
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"


def test_values_are_checked_once_intrinsic_functions_are_resolved(emulator):
    cfn = emulator.client("cloudformation")
    prefix = "/" + emulator.unique("p")  # moto needs a parameter's Name (AWS would make one)
    template = {
        "Parameters": {"Names": {"Type": "CommaDelimitedList"}, "Days": {"Type": "Number"}},
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            # A number given as text, a parameter's number, an unknown key only under a
            # false condition: AWS accepts them all.
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
                "RetentionInDays": {"Ref": "Days"},
                "Unknown": {"Fn::If": ["Never", "x", {"Ref": "AWS::NoValue"}]}}},
            "Text": {"Type": "AWS::SSM::Parameter", "DependsOn": "Logs", "Properties": {
                "Name": prefix + "/text", "Type": "String", "Value": "5",
                "Description": {"Fn::Join": [",", {"Ref": "Names"}]}}},
            # A list where the schema wants a string: fails once the Ref is resolved.
            "Listed": {"Type": "AWS::SSM::Parameter", "DependsOn": "Text", "Properties": {
                "Name": prefix + "/listed", "Type": "StringList", "Value": {"Ref": "Names"}}},
        }}
    name = emulator.unique("resolved")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "Names", "ParameterValue": "a,b"},
        {"ParameterKey": "Days", "ParameterValue": "7"}])
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    # Logs and Text (created first, DependsOn) passed; only Listed failed.
    assert failures(emulator, name) == [(
        "Listed", "CREATE_FAILED",
        "Properties validation failed for resource Listed with message: "
        "#/Value: expected type: String, found: JSONArray")]


def test_an_update_with_an_invalid_property_fails_and_rolls_back(emulator, sceptre_project):
    valid = {"Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": "/" + emulator.unique("p"), "Type": "String", "Value": "v1"}}}}
    name = sceptre_project.stack("update", valid)
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/update.yaml")
    assert code == 0, output
    invalid = json.loads(json.dumps(valid))
    invalid["Resources"]["Setting"]["Properties"].update(Value="v2", Valu="typo")
    sceptre_project.stack("update", invalid)
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/update.yaml")
    assert code != 0, output
    assert emulator.stack(name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert failures(emulator, name) == [(
        "Setting", "UPDATE_FAILED",
        "Properties validation failed for resource Setting with message: "
        "#: extraneous key [Valu] is not permitted")]
    parameter = valid["Resources"]["Setting"]["Properties"]["Name"]
    assert emulator.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"] == "v1"


GOLDEN_CHECK = r'''
import glob, json
from emulator import property_validation as pv
templates = {path: json.load(open(path)) for path in sorted(glob.glob(
    "tests/templates/golden/**/*.json", recursive=True))}
local = [path for path in templates if path.startswith("tests/templates/golden/local/")]
problems, checked = {}, 0
for path, template in templates.items():
    for logical_id, resource in template["Resources"].items():
        checked += 1
        errors = pv.property_errors(resource["Type"], resource.get("Properties", {}), "eu-west-1")
        if errors:
            problems[f"{path}:{logical_id}"] = errors
# The checker itself finds what it should, so a clean result above means something.
samples = {
    "unknown": pv.property_errors("AWS::CloudFormation::WaitConditionHandle", {"Invalid": "x"}, "eu-west-1"),
    "nested": pv.property_errors("AWS::Logs::LogGroup", {"Tags": [{"Key": "a"}]}, "eu-west-1"),
    "scalars": pv.property_errors("AWS::Logs::LogGroup", {"RetentionInDays": "7"}, "eu-west-1"),
    "custom": pv.property_errors("Custom::Anything", {"Whatever": [1]}, "eu-west-1"),
    "custom_type": pv.property_errors("AWS::CloudFormation::CustomResource", {"Free": 1}, "eu-west-1"),
    "unknown_type": pv.property_errors("AWS::Nothing::Here", {"A": 1}, "eu-west-1"),
}
print(json.dumps({"problems": problems, "checked": checked, "local_files": len(local),
                  "samples": samples}))
'''


def test_every_resource_of_the_platforms_rendered_templates_validates_clean():
    result = run_in_emulator_venv(GOLDEN_CHECK)
    assert result["problems"] == {}
    assert result["checked"] > 200 and result["local_files"] >= 7
    assert result["samples"] == {
        "unknown": ["#: extraneous key [Invalid] is not permitted"],
        "nested": ["#/Tags/0: required key [Value] not found"],
        "scalars": [], "custom": [], "custom_type": [], "unknown_type": []}
    # The time this takes: benchmarks/property_validation.py prints it (tests do not time).


def test_plain_moto_accepts_a_property_the_type_does_not_have():
    status = run_in_emulator_venv(
        "import json, boto3\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        f"    cfn.create_stack(StackName='s', TemplateBody=json.dumps({HANDLE!r}))\n"
        "    print(json.dumps(cfn.describe_stacks(StackName='s')['Stacks'][0]['StackStatus']))")
    assert status == "CREATE_COMPLETE"
