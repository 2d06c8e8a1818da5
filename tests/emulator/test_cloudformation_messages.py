"""Patch 15a (cloudformation_messages.py): AWS's "Template format error" for a malformed template, in
the call; a stack whose notification topic is gone is deleted all the same."""
import json

import pytest
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv

NO_RESOURCES = "Template format error: At least one Resources member must be defined."
HANDLE = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}


def refusal(call, **kwargs):
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    response = refused.value.response
    return response["Error"]["Code"], response["Error"]["Message"], \
        response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_template_without_resources_is_refused_with_aws_template_format_error(emulator, sceptre_project):
    cfn = emulator.client("cloudformation")
    sceptre_project.stack("outputs", {"Outputs": {"Greeting": {"Value": "hello"}}})
    code, output = sceptre_project.sceptre("--no-colour", "validate", "test/outputs.yaml")
    assert code != 0 and NO_RESOURCES in output and "Stack with id" not in output, output
    name = sceptre_project.stack("empty", "---\nResources: {}\n")
    code, output = sceptre_project.sceptre("--no-colour", "create", "-y", "test/empty.yaml")
    assert code == 1 and NO_RESOURCES in output, output
    assert refusal(cfn.describe_stacks, StackName=name)[0] == "ValidationError"  # never created


def test_malformed_templates_are_refused_in_the_call(emulator):
    cfn = emulator.client("cloudformation")
    code, message, status = refusal(cfn.create_stack, StackName=emulator.unique("bad"),
                                    TemplateBody="Resources: [unclosed")
    assert (code, status) == ("ValidationError", 400) and message.startswith("Template format error:")
    assert refusal(cfn.create_stack, StackName=emulator.unique("list"), TemplateBody="[1, 2]") == \
        ("ValidationError", "Template format error: unsupported structure.", 400)
    assert refusal(cfn.create_stack, StackName=emulator.unique("none")) == \
        ("ValidationError", "Either Template URL or Template Body must be specified.", 400)
    name = emulator.unique("kept")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(HANDLE))
    assert refusal(cfn.update_stack, StackName=name, TemplateBody="Description: nothing\n") == \
        ("ValidationError", NO_RESOURCES, 400)
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"


def test_a_stack_whose_notification_topic_is_gone_is_deleted(emulator, sceptre_project):
    sns = emulator.client("sns")
    topic = sns.create_topic(Name=emulator.unique("stack-events"))["TopicArn"]
    name = sceptre_project.stack("notified", HANDLE, notifications=[topic])
    assert sceptre_project.sceptre("create", "-y", "test/notified.yaml")[0] == 0
    stack = emulator.stack(name)
    assert stack["NotificationARNs"] == [topic]
    sns.delete_topic(TopicArn=topic)
    code, output = sceptre_project.sceptre("--no-colour", "delete", "-y", "test/notified.yaml")
    assert code == 0, output
    assert emulator.stack(stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"


def test_plain_moto_answers_malformed_templates_and_gone_topics_otherwise():
    found = run_in_emulator_venv(
        "import json, boto3\n"
        "from botocore.exceptions import ClientError\n"
        "from moto import mock_aws\n"
        "def answer(call, **kwargs):\n"
        "    try:\n"
        "        call(**kwargs)\n"
        "    except ClientError as error:\n"
        "        return error.response['Error']['Message']\n"
        "    except Exception as error:\n"
        "        return type(error).__name__\n"
        f"handle = json.dumps({HANDLE!r})\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    sns = boto3.client('sns', region_name='eu-west-1')\n"
        "    validate = answer(cfn.validate_template, TemplateBody=json.dumps({'Outputs': {}}))\n"
        "    cfn.create_stack(StackName='empty', TemplateBody='Resources: {}')\n"
        "    empty = cfn.describe_stacks(StackName='empty')['Stacks'][0]['StackStatus']\n"
        "    unparseable = answer(cfn.create_stack, StackName='bad', TemplateBody='Resources: [unclosed')\n"
        "    topic = sns.create_topic(Name='events')['TopicArn']\n"
        "    cfn.create_stack(StackName='notified', TemplateBody=handle, NotificationARNs=[topic])\n"
        "    sns.delete_topic(TopicArn=topic)\n"
        "    delete = answer(cfn.delete_stack, StackName='notified')\n"
        "print(json.dumps([validate, empty, unparseable, delete]))\n")
    assert found == ["Stack with id 'Resources' is a required property does not exist",
                     "CREATE_COMPLETE", "JSONDecodeError", "Endpoint does not exist"]
