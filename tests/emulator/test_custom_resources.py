"""Patch 2: custom resources answer through the emulator; FAILED and timeouts end the stack."""
import json
import time

# A custom resource function: answers as its properties say, and records each request
# (type, properties) in SSM so that the tests can see what CloudFormation sent.
HANDLER = '''
import json, time, urllib.request
import boto3

def answer(event, status, reason=None, data=None, physical_id=None):
    body = json.dumps({
        "Status": status, "Reason": reason or "", "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or "none",
        "Data": data or {},
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=10).read()

def handler(event, context):
    props = event["ResourceProperties"]
    boto3.client("ssm").put_parameter(
        Name=props["Journal"], Type="String", Overwrite=True,
        Value=json.dumps({"type": event["RequestType"], "props": props,
                          "old": event.get("OldResourceProperties"),
                          "physical": event.get("PhysicalResourceId")}))
    mode = props.get("Mode", "ok")
    if event["RequestType"] == "Delete":
        mode = props.get("DeleteMode", "ok")
    if mode == "fail":
        answer(event, "FAILED", reason="the thing cannot be made: " + props.get("Name", ""))
    elif mode == "raise":
        raise RuntimeError("crashed before answering")
    elif mode == "sleep":
        time.sleep(60)
    else:
        answer(event, "SUCCESS", data={"Greeting": "hello " + props["Name"], "Count": "3"},
               physical_id="thing-" + props["Name"])
'''


def template(function_key, bucket, journal, timeout=5, **props):
    properties = {"ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, "Journal": journal,
                  "Name": "first", "ServiceTimeout": 120, "Number": 7, "Flag": True}
    properties.update(props)
    return json.dumps({
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "journal", "PolicyDocument": {
                    "Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Resource": "*", "Action": [
                            "ssm:PutParameter", "logs:CreateLogStream", "logs:PutLogEvents"]}]}}]}},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "cr.handler", "Timeout": timeout,
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"S3Bucket": bucket, "S3Key": function_key}}},
            "Thing": {"Type": "Custom::Thing", "Properties": properties},
        },
        "Outputs": {
            "Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}},
            "ThingId": {"Value": {"Ref": "Thing"}},
        },
    })


class Stack:
    def __init__(self, emulator):
        self.emulator = emulator
        self.cfn = emulator.client("cloudformation")
        self.name = emulator.unique("cr-stack")
        self.journal = "/" + emulator.unique("journal")
        self.key = emulator.upload_zip({"cr.py": HANDLER})

    def body(self, **props):
        return template(self.key, self.emulator.code_bucket, self.journal, **props)

    def create(self, **props):
        started = time.time()
        self.cfn.create_stack(StackName=self.name, TemplateBody=self.body(**props))
        return self.emulator.stack(self.name), time.time() - started

    def update(self, **props):
        self.cfn.update_stack(StackName=self.name, TemplateBody=self.body(**props))
        return self.emulator.stack(self.name)

    def requests(self):
        """Every request the function got, oldest first (the journal's versions)."""
        history = self.emulator.client("ssm").get_parameter_history(Name=self.journal)
        return [json.loads(version["Value"]) for version in history["Parameters"]]

    def last_request(self):
        return self.requests()[-1]

    def failure_reasons(self, status):
        return [e.get("ResourceStatusReason", "") for e in self.emulator.events(self.name)
                if e["ResourceStatus"] == status and e["LogicalResourceId"] == "Thing"]


def test_create_gets_the_answer_and_its_data(emulator):
    stack = Stack(emulator)
    status, elapsed = stack.create()
    assert status["StackStatus"] == "CREATE_COMPLETE"
    assert elapsed < 15
    outputs = emulator.outputs(stack.name)
    assert outputs == {"Greeting": "hello first", "ThingId": "thing-first"}
    request = stack.last_request()
    assert request["type"] == "Create"
    # CloudFormation sends property values as strings.
    assert request["props"]["Number"] == "7"
    assert request["props"]["Flag"] == "true"
    assert request["props"]["ServiceTimeout"] == "120"


def test_update_sends_old_properties_and_delete_sends_delete(emulator):
    stack = Stack(emulator)
    stack.create()
    assert stack.update(Name="second")["StackStatus"] == "UPDATE_COMPLETE"
    create, update, cleanup = stack.requests()
    assert update["type"] == "Update"
    assert update["old"]["Name"] == "first"
    assert update["props"]["Name"] == "second"
    assert update["physical"] == "thing-first"
    # A new PhysicalResourceId means a replacement: the old one gets a Delete.
    assert cleanup["type"] == "Delete"
    assert cleanup["physical"] == "thing-first"
    assert emulator.outputs(stack.name) == {"Greeting": "hello second", "ThingId": "thing-second"}
    emulator.client("cloudformation").delete_stack(StackName=stack.name)
    request = stack.last_request()
    assert request["type"] == "Delete"
    assert request["physical"] == "thing-second"
    names = [s["StackName"] for s in emulator.client("cloudformation").describe_stacks()["Stacks"]]
    assert stack.name not in names


def test_a_failed_answer_rolls_the_stack_back_with_the_reason(emulator):
    stack = Stack(emulator)
    status, elapsed = stack.create(Mode="fail")
    assert status["StackStatus"] == "ROLLBACK_COMPLETE"
    assert elapsed < 15
    reasons = stack.failure_reasons("CREATE_FAILED")
    assert reasons and "the thing cannot be made: first" in reasons[0]
    assert "[FAILED]" in reasons[0]
    # Rolled back: the function made before the custom resource is gone again.
    names = [f["FunctionName"] for f in emulator.client("lambda").list_functions()["Functions"]]
    assert not any(name.startswith(stack.name) for name in names)
    # As against AWS, a ROLLBACK_COMPLETE stack is deleted and created again.
    emulator.client("cloudformation").delete_stack(StackName=stack.name)
    status, _ = stack.create()
    assert status["StackStatus"] == "CREATE_COMPLETE"


def test_a_function_that_raises_without_answering_fails_at_once(emulator):
    stack = Stack(emulator)
    status, elapsed = stack.create(Mode="raise")
    assert status["StackStatus"] == "ROLLBACK_COMPLETE"
    assert elapsed < 15
    reason = stack.failure_reasons("CREATE_FAILED")[0]
    assert "ended without sending a response" in reason
    assert "crashed before answering" in reason


def test_a_crash_within_the_stack_timeout_is_reported_as_the_crash(emulator):
    # The stack's timeout (1 minute) bounds the wait, shorter than the function's 120 s: a
    # function that crashes at once is still a crash, not "Resource creation cancelled".
    stack = Stack(emulator)
    emulator.client("cloudformation").create_stack(
        StackName=stack.name, TimeoutInMinutes=1, TemplateBody=template(
            stack.key, emulator.code_bucket, stack.journal, timeout=120, Mode="raise"))
    assert emulator.stack(stack.name)["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = stack.failure_reasons("CREATE_FAILED")[0]
    assert "ended without sending a response" in reason and "crashed before answering" in reason


def test_a_function_past_its_timeout_fails_in_seconds_not_an_hour(emulator):
    stack = Stack(emulator)
    started = time.time()
    emulator.client("cloudformation").create_stack(
        StackName=stack.name, TemplateBody=template(
            stack.key, emulator.code_bucket, stack.journal, timeout=2, Mode="sleep"))
    assert emulator.stack(stack.name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert time.time() - started < 15
    assert "Task timed out after 2.00 seconds" in stack.failure_reasons("CREATE_FAILED")[0]


def test_a_failed_update_rolls_back_and_a_rerun_redoes_it(emulator):
    stack = Stack(emulator)
    stack.create()
    status = stack.update(Name="second", Mode="fail")
    assert status["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "the thing cannot be made: second" in stack.failure_reasons("UPDATE_FAILED")[0]
    assert emulator.outputs(stack.name)["Greeting"] == "hello first"
    # Exactly one attempt, although moto retries failing resources within an update.
    assert sum(1 for e in emulator.events(stack.name)
               if e["ResourceStatus"] == "UPDATE_FAILED") == 1
    assert stack.update(Name="second")["StackStatus"] == "UPDATE_COMPLETE"
    # The failed update, its rollback (CloudFormation updates the resource back, with the old
    # properties), the rerun, then the Delete of the old physical id the rerun replaced.
    assert [r["type"] for r in stack.requests()] == ["Create", "Update", "Update", "Update", "Delete"]
    assert stack.requests()[2]["props"]["Name"] == "first"
    assert stack.requests()[3]["old"]["Name"] == "first"
    assert emulator.outputs(stack.name)["Greeting"] == "hello second"


def test_a_failed_delete_leaves_the_stack_in_delete_failed(emulator):
    stack = Stack(emulator)
    stack.create(DeleteMode="fail")
    emulator.client("cloudformation").delete_stack(StackName=stack.name)
    assert emulator.stack(stack.name)["StackStatus"] == "DELETE_FAILED"
    assert "the thing cannot be made" in stack.failure_reasons("DELETE_FAILED")[0]
    # Once the function agrees, deleting again succeeds.
    stack.update(DeleteMode="ok")
    emulator.client("cloudformation").delete_stack(StackName=stack.name)
    names = [s["StackName"] for s in emulator.client("cloudformation").describe_stacks()["Stacks"]]
    assert stack.name not in names


def test_responses_for_unknown_requests_are_refused(emulator):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.url}/_fargate_platform/cfn-response/not-a-request", method="PUT",
        data=json.dumps({"Status": "SUCCESS"}).encode())
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        raise AssertionError("an answer for no pending request was accepted")
