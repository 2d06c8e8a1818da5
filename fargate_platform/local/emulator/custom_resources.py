"""Patch 2: Lambda-backed custom resources answer, and a failed stack operation ends.

moto behaviour replaced:
- `moto.cloudformation.custom_model.CustomModel.create_from_cloudformation_json`
  starts the function in a thread through Docker (so without Docker nothing ever
  answers and the stack stays CREATE_IN_PROGRESS), with a ResponseURL on
  `http://host.docker.internal:<MOTO_PORT>` whose handler takes the region from
  the request host (us-east-1 for that URL) and ignores a FAILED status. moto has
  no Update or Delete for custom resources at all (an update replaces the
  resource by None; a delete does nothing).
- A resource that raises during create_stack/update_stack/delete_stack leaves
  moto's stack in *_IN_PROGRESS for ever (or drops it, on delete), because moto
  creates resources inside the API call and has no rollback.

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
  ServiceTimeout: nothing could answer any more.
- create_stack/update_stack/delete_stack of moto's CloudFormation backend are
  wrapped: a failing resource adds a *_FAILED event naming it and its reason, then
  a create is rolled back (the resources made so far are deleted, status
  ROLLBACK_COMPLETE, so that a relaunch deletes and recreates the stack as
  against AWS), an update is rolled back in moto's bookkeeping (the previous
  template is the stack's again, status UPDATE_ROLLBACK_COMPLETE, so that a rerun
  redoes the whole update), and a delete leaves the stack in DELETE_FAILED.
  Each resource's failure is remembered for the rest of that operation, because
  moto retries failing resources several times within one update or delete.
- `moto.cloudformation.parsing.ResourceMap.delete` deletes a stack's resources in
  set order (random between runs), so a custom resource could outlive the function
  that must answer its Delete. Replaced by delete_in_reverse_creation_order: the
  same passes and DeletionPolicy Retain handling, newest resource first (moto
  creates a resource's dependencies before it, so this is dependency order), and
  a refused delete stops there, keeping what the refusing resource depends on.
"""
import json
import threading
import uuid

from fargate_platform.local.emulator import context, lambda_runner

RESPONSE_PATH = "/_fargate_platform/cfn-response/"
DEFAULT_SERVICE_TIMEOUT = 3600  # CloudFormation's default when ServiceTimeout is absent


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted; the reason is shown in the events."""

    def __init__(self, logical_id, resource_type, reason):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


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
_operation = threading.local()  # failures already seen in the running stack operation


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
    failures = getattr(_operation, "failures", None)
    if failures is not None and resource.logical_id in failures:
        raise failures[resource.logical_id]
    try:
        return _call(resource, request_type, properties, old_properties, physical_id)
    except ResourceFailure as failure:
        if failures is not None:
            failures[resource.logical_id] = failure
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
    RESPONSES.expect(request_id)
    try:
        result = lambda_runner.runner().run(function, event, timeout=timeout)
    finally:
        answer = RESPONSES.take(request_id)
    if answer is None:
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


# -- stack operations that end ------------------------------------------------------------


class _Operation:
    """Remembers resource failures for one stack operation (moto retries failing resources)."""

    def __enter__(self):
        self.previous = getattr(_operation, "failures", None)
        _operation.failures = {}
        return self

    def __exit__(self, *exc_info):
        _operation.failures = self.previous


def _failure(exc):
    if isinstance(exc, ResourceFailure):
        return exc
    return ResourceFailure(None, None, f"{type(exc).__name__}: {exc}")


def _add_event(stack, status, reason=None, logical_id=None, resource_type=None):
    from moto.cloudformation.models import Event

    if logical_id is None:
        stack._add_stack_event(status, resource_status_reason=reason)
        return
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id="", resource_type=resource_type or "", resource_status=status,
        resource_status_reason=reason, resource_properties=None))


def _report(stack, failure, status, summary):
    if failure.logical_id:
        _add_event(stack, status, failure.reason, failure.logical_id, failure.resource_type)
        return f"The following resource(s) failed to {summary}: [{failure.logical_id}]. "
    return f"{failure.reason}. "


def _forget_deleted(stack):
    """Keep only the resources that still exist, and no outputs.

    moto creates resources lazily when anything (DescribeStacks' outputs,
    DescribeStackResources) looks them up: without this, reading a rolled-back or
    half-deleted stack would create its deleted resources again.
    """
    from moto.cloudformation.parsing import OutputMap

    resource_map = stack.resource_map
    resource_map._resource_json_map = {
        name: definition for name, definition in resource_map._resource_json_map.items()
        if name in resource_map._parsed_resources}
    stack.output_map = OutputMap(resource_map, {}, stack.stack_id)


def roll_back_create(stack, exc):
    failure = _failure(exc)
    prefix = _report(stack, failure, "CREATE_FAILED", "create")
    stack.status = "ROLLBACK_IN_PROGRESS"
    _add_event(stack, "ROLLBACK_IN_PROGRESS", prefix + "Rollback requested by user.")
    try:
        stack.resource_map.delete()
    except Exception as delete_error:  # noqa: BLE001 - reported in the stack's events
        _forget_deleted(stack)
        stack.status = "ROLLBACK_FAILED"
        _add_event(stack, "ROLLBACK_FAILED", f"{_failure(delete_error).reason}")
        return
    _forget_deleted(stack)
    stack.status = "ROLLBACK_COMPLETE"
    _add_event(stack, "ROLLBACK_COMPLETE")


def wrap_create_stack(original):
    def create_stack(self, *args, **kwargs):
        before = set(self.stacks)
        with _Operation():
            try:
                return original(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                new = [stack for key, stack in self.stacks.items() if key not in before]
                if not new:
                    raise  # rejected before the stack existed: an API error, as in AWS
                roll_back_create(new[0], exc)
                return new[0]

    create_stack.__wrapped__ = original
    return create_stack


def wrap_update_stack(original):
    def update_stack(self, name, *args, **kwargs):
        stack = self.get_stack(name)
        resource_map = stack.resource_map
        saved = (stack.template, stack.parameters, resource_map._template,
                 resource_map._resource_json_map, resource_map.input_parameters)
        with _Operation():
            try:
                return original(self, name, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                failure = _failure(exc)
                prefix = _report(stack, failure, "UPDATE_FAILED", "update")
                stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
                _add_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", prefix.strip())
                (stack.template, stack.parameters, resource_map._template,
                 resource_map._resource_json_map, resource_map.input_parameters) = saved
                stack._parse_template()
                stack.output_map = stack._create_output_map()
                stack.status = "UPDATE_ROLLBACK_COMPLETE"
                _add_event(stack, "UPDATE_ROLLBACK_COMPLETE")
                return stack

    update_stack.__wrapped__ = original
    return update_stack


def wrap_delete_stack(original):
    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        with _Operation():
            try:
                return original(self, name_or_stack_id)
            except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                if stack is None:
                    raise
                failure = _failure(exc)
                prefix = _report(stack, failure, "DELETE_FAILED", "delete")
                self.stacks[stack.stack_id] = stack  # moto had dropped it before deleting
                _forget_deleted(stack)
                stack.status = "DELETE_FAILED"
                _add_event(stack, "DELETE_FAILED", prefix.strip())

    delete_stack.__wrapped__ = original
    return delete_stack


def delete_in_reverse_creation_order(self):
    """ResourceMap.delete with a dependency-safe order (see the module docstring).

    A resource whose function refuses the delete (ResourceFailure) stops the
    deletion there, so what it depends on (its function, for a start) is kept,
    as CloudFormation keeps it; moto's own errors are retried in later passes.
    """
    created = [name for name in reversed(list(self._parsed_resources))
               if name in self._resource_json_map]
    remaining = [name for name in created
                 if self._resource_json_map[name].get("DeletionPolicy") != "Retain"]
    last_error = None
    while remaining:
        progressed = False
        for name in list(remaining):
            resource = self._parsed_resources.get(name)
            try:
                if resource is not None and not isinstance(resource, str):
                    self._delete_resource(resource, self._resource_json_map[name])
                    self._parsed_resources.pop(name, None)
            except ResourceFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - retried in the next pass, like moto
                last_error = exc
            else:
                remaining.remove(name)
                progressed = True
        if not progressed:
            raise last_error


def wrap_resource_step(original):
    """Names the resource in any error of its create/update (moto's own errors too)."""

    def step(logical_id, resource_json, *args, **kwargs):
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except ResourceFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the resource's failure reason
            raise ResourceFailure(logical_id, resource_json.get("Type"),
                                  f"{type(exc).__name__}: {exc}") from exc

    step.__wrapped__ = original
    return step


def apply():
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import CloudFormationBackend

    CustomModel.create_from_cloudformation_json = classmethod(create_custom_resource)
    CustomModel.update_from_cloudformation_json = classmethod(update_custom_resource)
    CustomModel.delete = delete_custom_resource
    CloudFormationBackend.create_stack = wrap_create_stack(CloudFormationBackend.create_stack)
    CloudFormationBackend.update_stack = wrap_update_stack(CloudFormationBackend.update_stack)
    CloudFormationBackend.delete_stack = wrap_delete_stack(CloudFormationBackend.delete_stack)
    parsing.ResourceMap.delete = delete_in_reverse_creation_order
    parsing.parse_and_create_resource = wrap_resource_step(parsing.parse_and_create_resource)
    parsing.parse_and_update_resource = wrap_resource_step(parsing.parse_and_update_resource)


def record_response(request_id, body):
    """The ResponseURL handler's work: parse and store; returns an HTTP status."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return 400
    if not isinstance(answer, dict):
        return 400
    return 200 if RESPONSES.record(request_id, answer) else 404
