"""Patch 2b: stack operations run as CloudFormation's: in the background, and a failed one
ends (rolled back).

Create/Update/DeleteStack answer as soon as the operation has started (moto builds the
resources inside the API call: an ECS service waiting for healthy tasks, or a function
near its timeout, would outlast botocore's 60 s read timeout, and Sceptre's client would
send the call again). The operation runs in a thread of its own; a call returns its
stack already COMPLETE when the work takes under SYNC_GRACE_SECONDS (so fast stacks cost
no extra poll), else *_IN_PROGRESS, as on AWS. A stack with an operation in progress
refuses another (ValidationError, AWS's text); an update's template is checked before it
starts ("Template format error"), as AWS checks it in the call. A failed update's
rollback really reverts: the resources are updated back to the previous template and
parameters (ResourceMap.update), not only moto's bookkeeping. What a failed operation
does instead of rolling back (OnFailure, DisableRollback) is rollback_modes.py's.

moto behaviour replaced:
- A resource that raises during create_stack/update_stack/delete_stack leaves
  moto's stack in *_IN_PROGRESS for ever (or drops it, on delete), because moto
  creates resources inside the API call and has no rollback.
- `moto.cloudformation.parsing.ResourceMap.delete` deletes a stack's resources in
  set order (random between runs), so a custom resource could outlive the function
  that must answer its Delete.
- A stack's TimeoutInMinutes is stored and never enforced.
- moto creates a stack's resources lazily, when anything looks them up: reading a
  stack in progress (DescribeStacks' outputs, DescribeStackResources) from another
  request created its not-yet-created resources in that request, a second time.

What runs instead:
- create_stack/update_stack/delete_stack of moto's CloudFormation backend are
  wrapped: a failing resource adds a *_FAILED event naming it and its reason, then
  a create is rolled back (the resources made so far are deleted, status
  ROLLBACK_COMPLETE, so that a relaunch deletes and recreates the stack as
  against AWS), an update is rolled back in moto's bookkeeping (the previous
  template is the stack's again, status UPDATE_ROLLBACK_COMPLETE, so that a rerun
  redoes the whole update), and a delete leaves the stack in DELETE_FAILED.
  Each resource's failure is remembered for the rest of that operation, because
  moto retries failing resources several times within one update or delete.
- delete_in_reverse_creation_order: the
  same passes and DeletionPolicy Retain handling, newest resource first (moto
  creates a resource's dependencies before it, so this is dependency order), and
  a refused delete stops there, keeping what the refusing resource depends on.
- TimeoutInMinutes bounds a create (stack_timeouts.py): checked before each resource
  step and by the long waits, which raise StackTimedOut: the resource in progress
  fails with "Resource creation cancelled", the stack with "Stack creation time
  exceeded the specified timeout." (then rolled back, or as OnFailure asks).
- While an operation runs, a lookup from another thread creates nothing (the
  resource reads as absent), and a creating stack shows no outputs until its
  resources are made, as on AWS.
"""
import threading
import time

from emulator import stack_timeouts
from emulator.stack_timeouts import check_deadline

# For long resource waits (wait conditions, custom resources, ECS services): the running
# operation's seconds left before its stack's timeout, or None (stack_timeouts.py).
seconds_left = stack_timeouts.seconds_left

_operation = threading.local()  # failures already seen in the running stack operation


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted; the reason is shown in the events."""

    def __init__(self, logical_id, resource_type, reason, action=None):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action  # "create" or "update": the resource's step (wrap_resource_step)


class StackTimedOut(ResourceFailure):
    """The stack's TimeoutInMinutes passed (stack_timeouts.py); logical_id names the resource
    it cancelled, if any."""

    def __init__(self, logical_id=None, resource_type=None):
        super().__init__(logical_id, resource_type, "Resource creation cancelled", "create")


def seen_failure(logical_id):
    """The failure of `logical_id` already seen in the running operation (moto retries a
    failing resource several times within one update or delete), or None."""
    failures = getattr(_operation, "failures", None)
    return failures.get(logical_id) if failures is not None else None


def remember_failure(failure):
    failures = getattr(_operation, "failures", None)
    if failures is not None:
        failures[failure.logical_id] = failure


# -- stack operations that end ------------------------------------------------------------


class _Operation:
    """Remembers resource failures for one stack operation (moto retries failing resources)."""

    def __enter__(self):
        self.previous = getattr(_operation, "failures", None)
        _operation.failures = {}
        return self

    def __exit__(self, *exc_info):
        _operation.failures = self.previous


def _operation_elsewhere(stack_id):
    """True in a thread that is not running `stack_id`'s operation while one runs (a reader)."""
    return stack_id in _running and getattr(_operation, "failures", None) is None


def _failure(exc):
    if isinstance(exc, ResourceFailure):
        return exc
    return ResourceFailure(None, None, f"{type(exc).__name__}: {exc}")


def _add_event(stack, status, reason=None, logical_id=None, resource_type=None):
    from moto.cloudformation.models import Event

    if logical_id is None:
        stack._add_stack_event(status, resource_status_reason=reason)
        stack.stack_status_reason = reason  # DescribeStacks' StackStatusReason
        return
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id="", resource_type=resource_type or "", resource_status=status,
        resource_status_reason=reason, resource_properties=None))


def _report(stack, failure, status, summary):
    """Adds the failed resource's event; returns the start of the stack event's reason."""
    if isinstance(failure, StackTimedOut):
        if failure.logical_id:
            _add_event(stack, "CREATE_FAILED", failure.reason, failure.logical_id,
                       failure.resource_type)
        return "Stack creation time exceeded the specified timeout. "
    if failure.logical_id:
        if failure.action and failure.action != summary:  # a resource an update adds: created
            status, summary = f"{failure.action.upper()}_FAILED", failure.action
        _add_event(stack, status, failure.reason, failure.logical_id, failure.resource_type)
        return f"The following resource(s) failed to {summary}: [{failure.logical_id}]. "
    return f"{failure.reason}. "


def _forget_deleted(stack):
    """Keep only the resources that still exist, and no outputs.

    moto creates resources lazily when anything (DescribeStacks' outputs,
    DescribeStackResources) looks them up: without this, reading a rolled-back or
    half-deleted stack would create its deleted resources again.
    """
    resource_map = stack.resource_map
    resource_map._resource_json_map = {
        name: definition for name, definition in resource_map._resource_json_map.items()
        if name in resource_map._parsed_resources}
    stack.output_map = _no_outputs(stack)


def _no_outputs(stack):
    from moto.cloudformation.parsing import OutputMap

    return OutputMap(stack.resource_map, {}, stack.stack_id)


def roll_back_create(stack, exc):
    prefix = _report(stack, _failure(exc), "CREATE_FAILED", "create")
    delete_created(stack, "ROLLBACK", prefix + "Rollback requested by user.")


def delete_created(stack, phase, reason):
    """Deletes what a create made: <phase>_IN_PROGRESS (with `reason`), then <phase>_COMPLETE,
    or <phase>_FAILED when a delete fails. `phase`: ROLLBACK, or DELETE (OnFailure=DELETE)."""
    stack.status = f"{phase}_IN_PROGRESS"
    _add_event(stack, f"{phase}_IN_PROGRESS", reason)
    try:
        stack.resource_map.delete()
    except Exception as delete_error:  # noqa: BLE001 - reported in the stack's events
        _forget_deleted(stack)
        stack.status = f"{phase}_FAILED"
        _add_event(stack, f"{phase}_FAILED", f"{_failure(delete_error).reason}")
        return
    _forget_deleted(stack)
    stack.status = f"{phase}_COMPLETE"
    _add_event(stack, f"{phase}_COMPLETE")


SYNC_GRACE_SECONDS = 20.0  # well under botocore's 60 s read timeout
_deferred = threading.local()  # .steps: the resource work of the CreateStack call being served
_running = set()  # ids of the stacks whose operation thread runs


def _in_background(stack, name, work):
    """Runs `work` in a thread; returns once it ended or SYNC_GRACE_SECONDS passed."""
    def run():
        try:
            work()
        finally:
            _running.discard(stack.stack_id)

    _running.add(stack.stack_id)
    thread = threading.Thread(target=run, name=f"stack-{name}-{stack.name}", daemon=True)
    thread.start()
    thread.join(SYNC_GRACE_SECONDS)


def _refuse_if_busy(stack, verb):
    from moto.cloudformation.exceptions import ValidationError

    if stack.status.endswith("_IN_PROGRESS"):
        raise ValidationError(stack.stack_id,
                              message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be {verb}.")


def _check_template_format(template):
    """AWS refuses a template that does not parse in the UpdateStack call itself."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack

    try:
        parsed = Stack.parse_template(template)  # moto's own reading: YAML (CloudFormation's tags) or JSON
    except Exception as error:  # noqa: BLE001 - every parse error is the caller's
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValidationError(message=f"Template format error: {first}") from None
    if not isinstance(parsed, dict):
        raise ValidationError(message="Template format error: unsupported structure.")


def wrap_create_resources(original):
    """Stack.create_resources: within a CreateStack call, deferred to the operation's thread;
    the stack shows no outputs until its resources are made (AWS's; reading them makes some)."""

    def create_resources(self):
        complete_outputs, self.output_map = self.output_map, _no_outputs(self)

        def create():
            original(self)
            self.output_map = complete_outputs

        steps = getattr(_deferred, "steps", None)
        if steps is None:  # not a CreateStack call of ours (a nested stack, a change set): at once
            return create()
        self.status = "CREATE_IN_PROGRESS"
        steps.append(create)

    create_resources.__wrapped__ = original
    return create_resources


def wrap_create_stack(original):
    def create_stack(self, *args, **kwargs):
        from emulator import rollback_modes

        started = time.monotonic()
        _deferred.steps = []
        try:
            stack = original(self, *args, **kwargs)  # an API error (exists, bad template) raises here
        finally:
            steps, _deferred.steps = _deferred.steps, None
        rollback_modes.take_create_options(stack)  # this call's OnFailure / DisableRollback
        deadline = stack_timeouts.deadline_after(stack.timeout_in_minutes, started)

        def work():
            with _Operation():
                try:
                    with stack_timeouts.bounded(deadline):
                        for step in steps:
                            step()
                except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                    rollback_modes.end_failed_create(stack, exc)  # not bounded by the timeout

        _in_background(stack, "create", work)
        return stack

    create_stack.__wrapped__ = original
    return create_stack


def wrap_update_stack(original):
    def update_stack(self, name, template, *args, **kwargs):
        from emulator import rollback_modes

        stack = self.get_stack(name)
        _refuse_if_busy(stack, "updated")
        _check_template_format(template)
        saved = (stack.template, dict(stack.parameters or {}))
        rollback_modes.take_update_options(stack, saved)  # this call's DisableRollback
        stack.status = "UPDATE_IN_PROGRESS"

        def work():
            with _Operation():
                try:
                    original(self, name, template, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                    rollback_modes.end_failed_update(stack, exc, *saved)

        _in_background(stack, "update", work)
        return stack

    update_stack.__wrapped__ = original
    return update_stack


def roll_back_update(stack, exc, template, parameters):
    """The resources updated back to `template` and `parameters`, as CloudFormation does."""
    prefix = _report(stack, _failure(exc), "UPDATE_FAILED", "update")
    revert_update(stack, template, parameters, prefix.strip())


def revert_update(stack, template, parameters, reason):
    """The resources updated back to `template` and `parameters`: UPDATE_ROLLBACK_COMPLETE."""
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    _add_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    stack.template, stack.parameters = template, parameters
    stack._parse_template()
    try:
        with _Operation():
            stack.resource_map.update(stack.template_dict, parameters)
    except Exception as revert_error:  # noqa: BLE001 - reported in the stack's events
        stack.output_map = stack._create_output_map()
        stack.status = "UPDATE_ROLLBACK_FAILED"
        _add_event(stack, "UPDATE_ROLLBACK_FAILED", _failure(revert_error).reason)
        return
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    _add_event(stack, "UPDATE_ROLLBACK_COMPLETE")


def wrap_delete_stack(original):
    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return original(self, name_or_stack_id)  # moto's answer for an unknown stack
        if stack.status == "DELETE_IN_PROGRESS":
            return None  # AWS: a second DeleteStack of a stack being deleted does nothing
        stack.status = "DELETE_IN_PROGRESS"

        def work():
            with _Operation():
                try:
                    original(self, stack.stack_id)
                except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                    failure = _failure(exc)
                    prefix = _report(stack, failure, "DELETE_FAILED", "delete")
                    self.stacks[stack.stack_id] = stack  # moto had dropped it before deleting
                    _forget_deleted(stack)
                    stack.status = "DELETE_FAILED"
                    _add_event(stack, "DELETE_FAILED", prefix.strip())

        _in_background(stack, "delete", work)
        return None

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


def wrap_resource_step(original, action):
    """Names the resource and its step (`action`) in any error of its create/update (moto's own
    errors too), stops at the stack's timeout, and makes nothing for a reader's lookup."""

    def step(logical_id, resource_json, resources_map, *args, **kwargs):
        if _operation_elsewhere(resources_map.stack_id):
            return None  # not made yet: the operation's thread makes it (moto: no resource)
        check_deadline()
        try:
            return original(logical_id, resource_json, resources_map, *args, **kwargs)
        except ResourceFailure as failure:
            failure.action = failure.action or action
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the resource's failure reason
            raise ResourceFailure(logical_id, resource_json.get("Type"),
                                  f"{type(exc).__name__}: {exc}", action) from exc

    step.__wrapped__ = original
    return step


def apply():
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Stack

    Stack.create_resources = wrap_create_resources(Stack.create_resources)
    CloudFormationBackend.create_stack = wrap_create_stack(CloudFormationBackend.create_stack)
    CloudFormationBackend.update_stack = wrap_update_stack(CloudFormationBackend.update_stack)
    CloudFormationBackend.delete_stack = wrap_delete_stack(CloudFormationBackend.delete_stack)
    parsing.ResourceMap.delete = delete_in_reverse_creation_order
    parsing.parse_and_create_resource = wrap_resource_step(parsing.parse_and_create_resource,
                                                           "create")
    parsing.parse_and_update_resource = wrap_resource_step(parsing.parse_and_update_resource,
                                                           "update")
