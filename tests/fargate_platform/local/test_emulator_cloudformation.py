"""Patch 4: moto CloudFormation differences the platform's launches meet (KMS tags, no-op updates)."""
import json

import botocore.exceptions
import pytest

LIST_TEMPLATE = json.dumps({
    "Parameters": {"Names": {"Type": "CommaDelimitedList"}, "Size": {"Type": "Number"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
})
BARE_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def test_a_kms_key_with_cloudformation_tags_is_created_with_them(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("kms-stack")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
            "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
            "Tags": [{"Key": "Project", "Value": "fargate-platform"}]}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }))
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    key_id = emulator.outputs(name)["KeyArn"].rsplit("/", 1)[1]
    tags = emulator.client("kms").list_resource_tags(KeyId=key_id)["Tags"]
    assert tags == [{"TagKey": "Project", "TagValue": "fargate-platform"}]


@pytest.mark.parametrize("template, parameters", [
    (LIST_TEMPLATE, [{"ParameterKey": "Names", "ParameterValue": "a,b"},
                     {"ParameterKey": "Size", "ParameterValue": "3"}]),
    (BARE_TEMPLATE, []),
])
def test_an_unchanged_update_is_refused_like_aws(emulator, template, parameters):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("noop-stack")
    cfn.create_stack(StackName=name, TemplateBody=template, Parameters=parameters)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cfn.update_stack(StackName=name, TemplateBody=template, Parameters=parameters)
    assert refused.value.response["Error"]["Message"] == "No updates are to be performed."
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"


def test_previous_values_count_as_unchanged_and_a_new_value_updates(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("noop-stack")
    given = [{"ParameterKey": "Names", "ParameterValue": "a,b"},
             {"ParameterKey": "Size", "ParameterValue": "3"}]
    cfn.create_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=given)
    previous = [{"ParameterKey": "Names", "UsePreviousValue": True},
                {"ParameterKey": "Size", "UsePreviousValue": True}]
    with pytest.raises(botocore.exceptions.ClientError):
        cfn.update_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=previous)
    changed = [{"ParameterKey": "Names", "ParameterValue": "a,b,c"},
               {"ParameterKey": "Size", "UsePreviousValue": True}]
    cfn.update_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=changed)
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"
