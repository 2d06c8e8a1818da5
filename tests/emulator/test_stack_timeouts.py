"""Patches 2d and 2e (stack_timeouts.py, wait_conditions.py): a WaitCondition waits for the
signals PUT to its handle's URL and fails at its Timeout, and a stack's TimeoutInMinutes
(Sceptre's `stack_timeout:`) bounds its creation, as on AWS."""
import json
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from plain_moto import run_in_emulator_venv


def wait_template(url_parameter, timeout, count=1):
    """A handle, its URL in an SSM parameter (for the test to read), and a wait condition."""
    return {"Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Url": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": url_parameter, "Type": "String", "Value": {"Ref": "Handle"}}},
        "Wait": {"Type": "AWS::CloudFormation::WaitCondition", "DependsOn": "Url", "Properties": {
            "Handle": {"Ref": "Handle"}, "Timeout": str(timeout), "Count": count}},
    }, "Outputs": {"Data": {"Value": {"Fn::GetAtt": ["Wait", "Data"]}}}}


def stack_events(emulator, name):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(emulator.events(name))]


def in_background(call):
    """Starts `call` in a thread; the returned function joins it and gives its result."""
    results = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    return lambda: (thread.join(300), results[0])[1]


def handle_url(emulator, url_parameter):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return emulator.client("ssm").get_parameter(Name=url_parameter)["Parameter"]["Value"]
        except ClientError:
            time.sleep(0.3)
    raise AssertionError("the handle's URL was not published")


def signal(url, document, content_type=""):
    """PUTs a signal as curl -T does (AWS's signature wants an empty Content-Type); the status."""
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="PUT",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_unsignalled_wait_condition_times_out_and_the_create_rolls_back(
        emulator, sceptre_project):
    name = sceptre_project.stack("late", wait_template("/" + emulator.unique("url"), timeout=3))
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/late.yaml")
    assert code == 1, output
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_events(emulator, name)[-3:] == [
        ("Wait", "CREATE_FAILED", "WaitCondition timed out. Received 0 conditions when expecting 1"),
        (name, "ROLLBACK_IN_PROGRESS",
         "The following resource(s) failed to create: [Wait]. Rollback requested by user."),
        (name, "ROLLBACK_COMPLETE", None)]
    # It waited its Timeout: from the stack's CREATE_IN_PROGRESS to the wait's CREATE_FAILED.
    events = emulator.events(name)
    [started] = [e["Timestamp"] for e in events
                 if e["LogicalResourceId"] == name and e["ResourceStatus"] == "CREATE_IN_PROGRESS"]
    [failed] = [e["Timestamp"] for e in events
                if e["LogicalResourceId"] == "Wait" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert (failed - started).total_seconds() >= 3


def test_count_success_signals_complete_the_wait_and_data_is_theirs_by_unique_id(
        emulator, sceptre_project):
    url_parameter = "/" + emulator.unique("url")
    name = sceptre_project.stack("signalled", wait_template(url_parameter, timeout=60, count=2))
    launch = in_background(lambda: sceptre_project.sceptre(
        "--no-colour", "launch", "-y", "test/signalled.yaml"))
    url = handle_url(emulator, url_parameter)
    assert url.startswith(f"{emulator.url}/_fargate_platform/wait-condition/")
    # AWS's presigned URL is signed without a Content-Type: a signal with one is refused.
    assert signal(url, {"Status": "SUCCESS", "UniqueId": "a", "Data": "x"}, "application/json") == 403
    assert signal(url, {"Status": "SUCCESS", "UniqueId": "a", "Data": "first"}) == 200
    # The same UniqueId again is a retransmission: ignored, even as a FAILURE.
    assert signal(url, {"Status": "FAILURE", "UniqueId": "a", "Reason": "late"}) == 200
    time.sleep(1)
    assert emulator.stack(name)["StackStatus"] == "CREATE_IN_PROGRESS"  # 1 of Count 2
    assert "Outputs" not in emulator.stack(name)  # as on AWS, none before the create ends
    assert signal(url, {"Status": "SUCCESS", "UniqueId": "b", "Data": "second"}) == 200
    code, output = launch()
    assert code == 0, output
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    assert emulator.outputs(name) == {"Data": '{"a":"first","b":"second"}'}
    assert signal(url.rsplit("/", 1)[0] + "/unknown", {"Status": "SUCCESS", "UniqueId": "c"}) == 404


def test_a_failure_signal_fails_the_wait_with_its_reason(emulator, sceptre_project):
    url_parameter = "/" + emulator.unique("url")
    name = sceptre_project.stack("refused", wait_template(url_parameter, timeout=60))
    launch = in_background(lambda: sceptre_project.sceptre(
        "--no-colour", "launch", "-y", "test/refused.yaml"))
    url = handle_url(emulator, url_parameter)
    assert signal(url, {"Status": "FAILURE", "UniqueId": "i-1", "Reason": "disk full"}) == 200
    code, output = launch()
    assert code == 1, output
    assert emulator.stack(name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("Wait", "CREATE_FAILED", "WaitCondition received failed message: 'disk full' for "
            "uniqueId: i-1") in stack_events(emulator, name)
    assert signal(url, {"Status": "SUCCESS", "UniqueId": "i-2"}) == 404  # the handle is deleted


def test_a_wait_condition_an_update_adds_times_out_and_the_update_rolls_back(
        emulator, sceptre_project):
    parameter = "/" + emulator.unique("kept")
    before = {"Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": parameter, "Type": "String", "Value": "v1"}}}}
    name = sceptre_project.stack("grow", before)
    assert sceptre_project.sceptre("--no-colour", "launch", "-y", "test/grow.yaml")[0] == 0
    after = wait_template("/" + emulator.unique("url"), timeout=3)
    after["Resources"] = {**before["Resources"], **after["Resources"]}
    sceptre_project.stack("grow", after)
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/grow.yaml")
    assert code == 1, output
    assert emulator.stack(name)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_events(emulator, name)[-3:] == [
        ("Wait", "CREATE_FAILED", "WaitCondition timed out. Received 0 conditions when expecting 1"),
        (name, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Wait]."),
        (name, "UPDATE_ROLLBACK_COMPLETE", None)]
    ssm = emulator.client("ssm")
    assert ssm.get_parameter(Name=parameter)["Parameter"]["Value"] == "v1"
    assert ssm.get_parameters(Names=[after["Resources"]["Url"]["Properties"]["Name"]])[
        "InvalidParameters"]  # what the update added is deleted again


def test_the_stack_timeout_cancels_the_wait_and_rolls_the_create_back(emulator, sceptre_project):
    # The one TimeoutInMinutes test (a minute at least): the wait would last 5 minutes.
    name = sceptre_project.stack("slow", wait_template("/" + emulator.unique("url"), timeout=300),
                                 stack_timeout=1)
    started = time.monotonic()
    code, output = sceptre_project.sceptre("--no-colour", "launch", "-y", "test/slow.yaml")
    took = time.monotonic() - started
    assert code == 1, output
    stack = emulator.stack(name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and stack["TimeoutInMinutes"] == 1
    assert stack_events(emulator, name)[-3:] == [
        ("Wait", "CREATE_FAILED", "Resource creation cancelled"),
        (name, "ROLLBACK_IN_PROGRESS",
         "Stack creation time exceeded the specified timeout. Rollback requested by user."),
        (name, "ROLLBACK_COMPLETE", None)]
    assert 60 <= took < 90, took


def test_seconds_left_is_the_running_creates_time_before_its_stack_timeout():
    # In the layer's own process (moto in-process, the patches applied): a resource type
    # that reads seconds_left() when it is created, in stacks created with and without a
    # TimeoutInMinutes, and check_deadline() once the deadline passed.
    found = run_in_emulator_venv(
        "import json, time\n"
        "import boto3\n"
        "from moto import mock_aws\n"
        "from moto.cloudformation import parsing\n"
        "from moto.core.common_models import CloudFormationModel\n"
        "from emulator import patches, resource_steps, stack_timeouts\n"
        "seen = []\n"
        "class Probe(CloudFormationModel):\n"
        "    __module__ = 'tests.probe'  # moto's models are tracked by their module's 2nd part\n"
        "    physical_resource_id = 'probe'\n"
        "    @staticmethod\n"
        "    def cloudformation_type():\n"
        "        return 'Test::Probe'\n"
        "    @classmethod\n"
        "    def create_from_cloudformation_json(cls, name, json_, account_id, region, **kwargs):\n"
        "        seen.append(stack_timeouts.seconds_left())\n"
        "        return cls()\n"
        "patches.apply_all()\n"
        "parsing.get_model_map()['Test::Probe'] = Probe\n"
        "body = json.dumps({'Resources': {'P': {'Type': 'Test::Probe'}}})\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    cfn.create_stack(StackName='bounded', TemplateBody=body, TimeoutInMinutes=2)\n"
        "    cfn.create_stack(StackName='unbounded', TemplateBody=body)\n"
        "    statuses = [cfn.describe_stacks(StackName=n)['Stacks'][0]['StackStatus']\n"
        "                for n in ('bounded', 'unbounded')]\n"
        "outside = stack_timeouts.seconds_left()\n"
        "with stack_timeouts.bounded(time.monotonic() - 1):\n"
        "    try:\n"
        "        stack_timeouts.check_deadline('Service', 'AWS::ECS::Service')\n"
        "        raised = None\n"
        "    except resource_steps.StackTimedOut as timed_out:\n"
        "        raised = [timed_out.logical_id, timed_out.reason]\n"
        "print(json.dumps([seen, statuses, outside, raised]))")
    (bounded, unbounded), statuses, outside, raised = found
    assert statuses == ["CREATE_COMPLETE", "CREATE_COMPLETE"]
    assert 110 < bounded <= 120 and unbounded is None and outside is None
    assert raised == ["Service", "Resource creation cancelled"]


def test_timeout_in_minutes_must_be_a_whole_number_from_1(emulator):
    # botocore checks the value itself: sent unchecked, as a hand-made request would send it.
    cfn = boto3.client("cloudformation", endpoint_url=emulator.url, region_name="eu-west-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(parameter_validation=False))
    body = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
    name = emulator.unique("timeout")
    with pytest.raises(ClientError) as refused:
        cfn.create_stack(StackName=name, TemplateBody=body, TimeoutInMinutes=0)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '0' at 'timeoutInMinutes' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1")
    with pytest.raises(ClientError):  # refused before the stack was registered
        cfn.describe_stacks(StackName=name)
    # Not a number: moto's own request parsing refuses that (HTTP 500) before the backend;
    # the backend refuses it too, before it registers the stack.
    found = run_in_emulator_venv(
        "import json\n"
        "from moto import mock_aws\n"
        "from moto.cloudformation.models import cloudformation_backends\n"
        "from emulator import patches\n"
        "patches.apply_all()\n"
        "with mock_aws():\n"
        "    backend = cloudformation_backends['123456789012']['eu-west-1']\n"
        "    try:\n"
        f"        backend.create_stack(name='s', template={body!r}, parameters={{}},\n"
        "                             timeout_in_mins='x')\n"
        "        refused = None\n"
        "    except Exception as error:\n"
        "        refused = error.message\n"
        "    print(json.dumps([refused, [stack.name for stack in backend.stacks.values()]]))")
    assert found == ["1 validation error detected: Value 'x' at 'timeoutInMinutes' failed to "
                     "satisfy constraint: Member must be a whole number", []]


def test_a_signal_that_comes_before_the_wait_ends_it_at_once():
    # The race a wait condition's loop had: the signal lands after it read the signals and
    # before it waits (in the layer's process: wait_conditions' signal store).
    found = run_in_emulator_venv(
        "import json, time\n"
        "from emulator.wait_conditions import HandleSignals\n"
        "signals = HandleSignals()\n"
        "signals.open('t')\n"
        "seen = signals.received('t')\n"
        "signals.record('t', b'{}')\n"
        "started = time.monotonic()\n"
        "bodies = signals.wait_for_more('t', len(seen), 5)\n"
        "print(json.dumps([bodies == [b'{}'], time.monotonic() - started]))")
    assert found[0] is True and found[1] < 1


def test_plain_moto_completes_a_wait_condition_at_once_with_no_handle_url():
    found = run_in_emulator_venv(
        "import json, time\n"
        "import boto3\n"
        "from moto import mock_aws\n"
        "from moto.cloudformation import parsing\n"
        "with mock_aws():\n"
        "    cfn = boto3.client('cloudformation', region_name='eu-west-1')\n"
        "    started = time.monotonic()\n"
        "    cfn.create_stack(StackName='s', TimeoutInMinutes=1, TemplateBody=json.dumps({\n"
        "        'Resources': {'H': {'Type': 'AWS::CloudFormation::WaitConditionHandle'},\n"
        "                      'W': {'Type': 'AWS::CloudFormation::WaitCondition',\n"
        "                            'Properties': {'Handle': {'Ref': 'H'}, 'Timeout': '30'}}},\n"
        "        'Outputs': {'Url': {'Value': {'Ref': 'H'}}}}))\n"
        "    took = time.monotonic() - started\n"
        "    stack = cfn.describe_stacks(StackName='s')['Stacks'][0]\n"
        "print(json.dumps({'status': stack['StackStatus'], 'took': took,\n"
        "    'outputs': stack.get('Outputs'), 'null_models': parsing.NULL_MODELS}))")
    assert found["status"] == "CREATE_COMPLETE" and found["took"] < 10  # no wait, no signal
    assert not found["outputs"]  # the handle's Ref is nothing: no URL to signal
    assert {"AWS::CloudFormation::WaitCondition",
            "AWS::CloudFormation::WaitConditionHandle"} <= set(found["null_models"])
