"""Patch 2: Lambda-backed custom resources answer, and a failed stack operation ends.

moto behaviour replaced:
- `moto.cloudformation.custom_model.CustomModel.create_from_cloudformation_json`
  starts the function in a thread through Docker (so without Docker nothing ever
  answers and the stack stays CREATE_IN_PROGRESS), with a ResponseURL on
  `http://host.docker.internal:<MOTO_PORT>` whose handler takes the region from
  the request host (us-east-1 for that URL) and ignores a FAILED status. moto has
  no Update or Delete for custom resources at all (an update replaces the
  resource by None; a delete does nothing).

What runs instead:
- Create, Update (with OldResourceProperties; a new PhysicalResourceId is
  followed by a Delete of the old one, as CloudFormation's cleanup does) and
  Delete invoke the ServiceToken's function synchronously through the Lambda
  runner (patch 1) with an event shaped like CloudFormation's (property values as
  strings, as CloudFormation sends them) and a ResponseURL on this emulator
  (/_fargate_platform/cfn-response/<RequestId>, served by server.py). moto creates
  resources inside the API call and reads GetAtt values right away, so the
  answer must be there before the next resource is created: a synchronous call is
  what makes Data usable by GetAtt. SUCCESS gives the PhysicalResourceId and Data
  (GetAtt); FAILED fails the resource with the function's Reason. A function that
  ends without answering (an exception before the answer, the Lambda timeout)
  fails the resource as soon as its process has ended, instead of waiting out
  ServiceTimeout: nothing could answer any more. The wait ends at the stack's timeout
  too (TimeoutInMinutes, stack_timeouts.py): the function is stopped there and the
  resource cancelled (on AWS the function would run on, unheard); a function that ended
  before the timeout without answering is reported as such.

A failing custom resource raises resource_steps.ResourceFailure, which ends the stack
operation (stack_endings.py).
"""
import json
import threading
import uuid

from emulator import context, lambda_runner
from emulator.resource_steps import ResourceFailure, remember_failure, seen_failure
from emulator.stack_timeouts import check_deadline, seconds_left

RESPONSE_PATH = "/_fargate_platform/cfn-response/"
DEFAULT_SERVICE_TIMEOUT = 3600  # CloudFormation's default when ServiceTimeout is absent


class CustomResourceResponses:
    """Answers sent to ResponseURL, kept until the invoking thread reads them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._expected = set()
        self._answers = {}

    def expect(self, request_id):
        with self._lock:
            self._expected.add(request_id)

    def record(self, request_id, body):
        """Store an answer; False when no request with this id is waiting (so: 404)."""
        with self._lock:
            if request_id not in self._expected:
                return False
            self._answers[request_id] = body
            return True

    def take(self, request_id):
        with self._lock:
            self._expected.discard(request_id)
            return self._answers.pop(request_id, None)


RESPONSES = CustomResourceResponses()


def _aws_strings(value):
    """CloudFormation sends every scalar property of a custom resource as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {key: _aws_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_aws_strings(item) for item in value]
    return value


def _service_timeout(properties, logical_id, resource_type):
    raw = properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ResourceFailure(logical_id, resource_type,
                              f"ServiceTimeout must be a number of seconds, got {raw!r}") from None


def call_custom_resource(resource, request_type, properties, old_properties=None,
                         physical_id=None):
    """Run the resource's function for one request; returns the SUCCESS answer or raises."""
    seen = seen_failure(resource.logical_id)
    if seen is not None:
        raise seen
    try:
        return _call(resource, request_type, properties, old_properties, physical_id)
    except ResourceFailure as failure:
        remember_failure(failure)
        raise


def _call(resource, request_type, properties, old_properties, physical_id):
    from moto.awslambda.utils import get_backend as get_lambda_backend

    logical_id, resource_type = resource.logical_id, resource.cf_type
    token = properties.get("ServiceToken")
    if not token:
        raise ResourceFailure(logical_id, resource_type, "ServiceToken is missing")
    try:
        function = get_lambda_backend(resource.account_id, resource.region_name).get_function(token)
    except Exception as exc:  # noqa: BLE001 - moto raises several kinds for unknown functions
        raise ResourceFailure(
            logical_id, resource_type,
            f"ServiceToken {token} is not a Lambda function of this emulator ({exc})") from None
    request_id = str(uuid.uuid4())
    emulator = context.current()
    event = {
        "RequestType": request_type,
        "ServiceToken": token,
        "ResponseURL": f"{emulator.endpoint_url}{RESPONSE_PATH}{request_id}",
        "StackId": resource.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": _aws_strings(properties),
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = _aws_strings(old_properties)
    timeout = min(float(function.timeout), _service_timeout(properties, logical_id, resource_type))
    check_deadline(logical_id, resource_type)
    stack_left = seconds_left()  # the stack's timeout bounds the wait too
    cut_by_stack_timeout = stack_left is not None and stack_left < timeout
    RESPONSES.expect(request_id)
    try:
        result = lambda_runner.runner().run(
            function, event, timeout=stack_left if cut_by_stack_timeout else timeout)
    finally:
        answer = RESPONSES.take(request_id)
    if answer is None:
        check_deadline(logical_id, resource_type)  # the stack's timeout cut the wait, or a cancel
        detail = f": {result.error_message}" if result.error else ""
        raise ResourceFailure(
            logical_id, resource_type,
            f"Custom resource function {function.function_name} ended without sending a "
            f"response to CloudFormation{detail} (RequestId: {request_id})")
    status = answer.get("Status")
    if status == "FAILED":
        raise ResourceFailure(
            logical_id, resource_type,
            "Received response status [FAILED] from custom resource. Message returned: "
            f"{answer.get('Reason') or 'See the details in CloudWatch Log Stream'} "
            f"(RequestId: {request_id})")
    if status != "SUCCESS":
        raise ResourceFailure(logical_id, resource_type,
                              f"Invalid response status {status!r} from custom resource "
                              f"(RequestId: {request_id})")
    data = answer.get("Data") or {}
    if not isinstance(data, dict):
        raise ResourceFailure(logical_id, resource_type,
                              "Custom resource response Data must be an object")
    return {"PhysicalResourceId": answer.get("PhysicalResourceId"), "Data": data}


# -- the CustomModel methods ---------------------------------------------------------------


def create_custom_resource(cls, resource_name, cloudformation_json, account_id, region_name,
                           **kwargs):
    properties = cloudformation_json["Properties"]
    resource = cls(region_name, None, kwargs["LogicalId"], resource_name)
    resource.account_id = account_id
    resource.stack_id = kwargs["StackId"]
    resource.cf_type = kwargs["ResourceType"]
    resource.properties = properties
    answer = call_custom_resource(resource, "Create", properties)
    resource.resource_name = answer["PhysicalResourceId"] or resource_name
    resource.set_data(answer["Data"])
    return resource


def update_custom_resource(cls, original_resource, new_resource_name, cloudformation_json,
                           account_id, region_name):
    resource = original_resource
    properties = cloudformation_json["Properties"]
    old_properties, old_physical_id = resource.properties, resource.resource_name
    answer = call_custom_resource(resource, "Update", properties, old_properties=old_properties,
                                  physical_id=old_physical_id)
    new_physical_id = answer["PhysicalResourceId"] or old_physical_id
    if new_physical_id != old_physical_id:
        # CloudFormation's cleanup phase: the replaced resource gets a Delete, and a
        # failure there does not fail the update.
        try:
            call_custom_resource(resource, "Delete", old_properties, physical_id=old_physical_id)
        except ResourceFailure:
            pass
    resource.properties = properties
    resource.resource_name = new_physical_id
    resource.set_data(answer["Data"])
    return resource


def delete_custom_resource(self, account_id, region_name):
    call_custom_resource(self, "Delete", self.properties, physical_id=self.resource_name)


def apply():
    from moto.cloudformation.custom_model import CustomModel

    CustomModel.create_from_cloudformation_json = classmethod(create_custom_resource)
    CustomModel.update_from_cloudformation_json = classmethod(update_custom_resource)
    CustomModel.delete = delete_custom_resource


def record_response(request_id, body):
    """The ResponseURL handler's work: parse and store; returns an HTTP status."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return 400
    if not isinstance(answer, dict):
        return 400
    return 200 if RESPONSES.record(request_id, answer) else 404
