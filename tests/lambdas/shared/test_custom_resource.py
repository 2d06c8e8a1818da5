"""The custom-resource runtime, answering a local HTTP server that stands in for the
ResponseURL: every path answers exactly once, with the right status and reason, before
the Lambda's deadline."""
import json
import threading
import time

import pytest

from fargate_platform.lambdas.shared.custom_resource import (
    FAILED_CREATE_PREFIX,
    CustomResource,
    InvalidProperties,
    Result,
    check_properties,
    pattern_validator,
)
from fargate_platform.lambdas.shared.structured_log import StructuredLog

SIGNATURE_VALUE = "5ec7e75ea1d0c0ffee"


class Probe(CustomResource):
    """A resource whose operations do what the test says, and record that they ran."""

    name = "probe"

    def __init__(self, behaviour=None, sleep=0.0):
        self.behaviour = behaviour or {}
        self.sleep = sleep
        self.calls = []

    def validate(self, properties):
        return check_properties(
            properties,
            required={"Name": pattern_validator(r"[a-z]+", "lowercase letters", 20)},
            optional={"Password": str, "Secret": str},
        )

    def _run(self, operation, properties, request):
        self.calls.append(operation)
        if self.sleep:
            time.sleep(self.sleep)
        outcome = self.behaviour.get(operation)
        if isinstance(outcome, Exception):
            raise outcome
        if properties.get("Password"):
            request.log.register_secret(properties["Password"])
            request.log.info("working", detail=f"using {properties['Password']}")
        return outcome or Result(f"id-{properties['Name']}", {"Name": properties["Name"]})

    def create(self, properties, request):
        return self._run("create", properties, request)

    def update(self, properties, request):
        return self._run("update", properties, request)

    def delete(self, properties, request):
        self._run("delete", properties, request)


def test_success_answers_once_with_data_and_stable_id(response_server, cfn_event, lambda_context):
    resource = Probe()
    context = lambda_context(10)
    resource.handle(cfn_event("Create", {"Name": "alpha"}), context)
    resource.handle(cfn_event("Update", {"Name": "alpha"}, physical_id="id-alpha", old_properties={"Name": "alpha"}),
                    context)
    create, update = response_server.answers
    assert response_server.attempts == 2
    assert create.body["Status"] == "SUCCESS" and create.body["PhysicalResourceId"] == "id-alpha"
    assert create.body["Data"] == {"Name": "alpha"} and create.body["NoEcho"] is False
    assert update.body["PhysicalResourceId"] == create.body["PhysicalResourceId"]
    assert create.headers.get("Content-Type", "") == ""  # the presigned URL is signed without one
    assert resource.calls == ["create", "update"]


def test_exception_answers_failed_with_the_reason(response_server, cfn_event, lambda_context):
    resource = Probe({"create": RuntimeError("the disk is on fire")})
    context = lambda_context(10)
    resource.handle(cfn_event("Create", {"Name": "alpha"}), context)
    [answer] = response_server.answers
    assert answer.body["Status"] == "FAILED"
    assert "RuntimeError: the disk is on fire" in answer.body["Reason"]
    assert answer.body["PhysicalResourceId"].startswith(FAILED_CREATE_PREFIX)
    assert answer.at - context.started < context.seconds


def test_failed_update_keeps_the_physical_id(response_server, cfn_event, lambda_context):
    resource = Probe({"update": ValueError("nope")})
    resource.handle(
        cfn_event("Update", {"Name": "beta"}, physical_id="id-alpha", old_properties={"Name": "alpha"}),
        lambda_context(10),
    )
    [answer] = response_server.answers
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("FAILED", "id-alpha")


@pytest.mark.parametrize(
    "properties, reason",
    [
        ({"Name": "UPPER"}, "invalid property Name: expected lowercase letters"),
        ({}, "missing property Name"),
        ({"Name": "alpha", "Host": "evil.example"}, "unknown property Host"),
        ({"Name": ["alpha"]}, "invalid property Name: expected a string"),
        ({"Name": "a" * 21}, "invalid property Name: longer than 20 characters"),
    ],
)
def test_invalid_property_answers_failed_and_does_nothing(response_server, cfn_event, lambda_context, properties,
                                                          reason):
    resource = Probe()
    context = lambda_context(10)
    resource.handle(cfn_event("Create", properties), context)
    [answer] = response_server.answers
    assert answer.body["Status"] == "FAILED"
    assert reason in answer.body["Reason"]
    assert resource.calls == []
    assert answer.at - context.started < context.seconds


def test_timeout_guard_answers_failed_before_the_deadline(response_server, cfn_event, lambda_context, capsys):
    resource = Probe(sleep=2.5)
    context = lambda_context(2.0)
    resource.handle(cfn_event("Create", {"Name": "slow"}), context)  # returns once the work ends
    [answer] = response_server.answers  # the late SUCCESS was never sent
    assert response_server.attempts == 1
    assert answer.body["Status"] == "FAILED"
    assert "timed out" in answer.body["Reason"]
    assert answer.at - context.started < context.seconds
    assert answer.at - context.started >= 1.0  # the guard waits for most of the time
    assert "result arrived after the timeout answer" in capsys.readouterr().out


def test_handler_returns_only_after_the_timers_answer_is_delivered(response_server, cfn_event, lambda_context):
    # Lambda freezes the process once the handler returns: a FAILED answer the timer is
    # still sending would never arrive. The work ends while that PUT is in flight.
    response_server.delay = 0.45
    resource = Probe(sleep=2.3)
    context = lambda_context(3.0)  # the timer fires at 2.25 s (margin: a quarter)
    resource.handle(cfn_event("Create", {"Name": "slow"}), context)
    [answer] = response_server.answers
    assert answer.body["Status"] == "FAILED" and "timed out" in answer.body["Reason"]
    assert answer.at - context.started < context.seconds


def test_delete_after_failed_create_is_a_successful_no_op(response_server, cfn_event, lambda_context):
    resource = Probe()
    resource.handle(cfn_event("Create", {"Name": "BAD NAME"}), lambda_context(10))
    failed_id = response_server.answers[0].body["PhysicalResourceId"]
    resource.handle(cfn_event("Delete", {"Name": "BAD NAME"}, physical_id=failed_id), lambda_context(10))
    created, deleted = response_server.answers
    assert created.body["Status"] == "FAILED"
    assert (deleted.body["Status"], deleted.body["PhysicalResourceId"]) == ("SUCCESS", failed_id)
    assert resource.calls == []


def test_delete_of_a_created_resource_runs_delete(response_server, cfn_event, lambda_context):
    resource = Probe()
    resource.handle(cfn_event("Delete", {"Name": "alpha"}, physical_id="id-alpha"), lambda_context(10))
    [answer] = response_server.answers
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("SUCCESS", "id-alpha")
    assert resource.calls == ["delete"]


def test_delete_with_properties_that_no_longer_validate_succeeds_and_does_nothing(response_server, cfn_event,
                                                                                 lambda_context, capsys):
    # The rules (or the function's configuration) changed since Create: a FAILED Delete
    # would block the stack's deletion for good.
    resource = Probe()
    resource.handle(cfn_event("Delete", {"Name": "NOW INVALID"}, physical_id="id-old"), lambda_context(10))
    [answer] = response_server.answers
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("SUCCESS", "id-old")
    assert resource.calls == []
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any("no longer validate" in line["message"] and "invalid property Name" in line["error"]
               for line in lines if "error" in line)


def test_put_failing_once_is_retried_and_answers_once(response_server, cfn_event, lambda_context):
    response_server.fail_first = 1
    context = lambda_context(10)
    Probe().handle(cfn_event("Create", {"Name": "alpha"}), context)
    assert response_server.attempts == 2
    [answer] = response_server.answers
    assert answer.body["Status"] == "SUCCESS"
    assert answer.at - context.started < context.seconds


def test_unknown_request_type_answers_failed(response_server, cfn_event, lambda_context):
    Probe().handle(cfn_event("Replace", {"Name": "alpha"}), lambda_context(10))
    [answer] = response_server.answers
    assert answer.body["Status"] == "FAILED" and "unknown RequestType" in answer.body["Reason"]


def test_not_a_custom_resource_event_is_refused(lambda_context, capsys):
    with pytest.raises(ValueError, match="not a CloudFormation custom-resource event"):
        Probe().handle({"RequestType": "Create", "Secret": "s3cr3t-value"}, lambda_context(10))
    assert "s3cr3t-value" not in capsys.readouterr().out


def test_logs_are_json_without_secrets_or_the_url_signature(response_server, cfn_event, lambda_context, capsys):
    password = "Pa55-word-not-for-logs"
    resource = Probe()
    resource.handle(cfn_event("Create", {"Name": "alpha", "Password": password, "Secret": "other-secret"}),
                    lambda_context(10))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all({"time", "level", "message", "function", "request_id"} <= set(line) for line in lines)
    text = json.dumps(lines)
    assert password not in text and "other-secret" not in text and SIGNATURE_VALUE not in text
    received = next(line for line in lines if line["message"] == "request received")
    assert received["properties"]["Name"] == "alpha" and received["properties"]["Password"] == "****"
    assert received["response_url"].endswith("/response")
    assert any(line.get("detail") == "using ****" for line in lines)


def test_no_echo_result_masks_data_in_the_log(response_server, cfn_event, lambda_context, capsys):
    resource = Probe({"create": Result("id-x", {"Token": "tok-123456", "Plain": "v"}, no_echo=True)})
    resource.handle(cfn_event("Create", {"Name": "alpha"}), lambda_context(10))
    [answer] = response_server.answers
    assert answer.body["NoEcho"] is True and answer.body["Data"]["Token"] == "tok-123456"
    assert "tok-123456" not in capsys.readouterr().out


def test_reason_is_truncated_to_fit_the_response_limit(response_server, cfn_event, lambda_context):
    Probe({"create": RuntimeError("x" * 10000)}).handle(cfn_event("Create", {"Name": "alpha"}), lambda_context(10))
    [answer] = response_server.answers
    assert len(json.dumps(answer.body)) <= 4096 and answer.body["Reason"].endswith("[truncated]")


def test_concurrent_answers_send_only_one(response_server, cfn_event, lambda_context):
    """The guard and the work racing: one answer goes out, whichever comes first."""
    from fargate_platform.lambdas.shared.custom_resource import Request, Responder

    event = cfn_event("Create", {"Name": "alpha"})
    request = Request(event, StructuredLog(), time.monotonic() + 10)
    responder = Responder(request)
    threads = [threading.Thread(target=responder.send, args=("SUCCESS", "ok", f"id-{i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert response_server.attempts == 1 and len(response_server.answers) == 1


def test_invalid_properties_is_a_value_error():
    with pytest.raises(InvalidProperties):
        check_properties("not a mapping", required={})


def test_sdk_debug_logging_is_off_during_a_request_and_restored_after(response_server, cfn_event, lambda_context):
    import logging

    seen = {}

    class Observer(Probe):
        def create(self, properties, request):
            seen["level"] = logging.getLogger("botocore").getEffectiveLevel()
            return super().create(properties, request)

    botocore_logger = logging.getLogger("botocore")
    before = botocore_logger.level
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        Observer().handle(cfn_event("Create", {"Name": "alpha"}), lambda_context(10))
    finally:
        logging.getLogger().setLevel(root_level)
    assert seen["level"] == logging.WARNING
    assert botocore_logger.level == before
