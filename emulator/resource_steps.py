"""Patch 2b (resource steps): each resource a stack operation makes, updates or deletes, as
CloudFormation reports it.

moto behaviour replaced:
- `moto.cloudformation.parsing.parse_and_create_resource` / `parse_and_update_resource` let
  any error of the model through: the stack operation could not tell which resource failed.
- moto makes a stack's resources lazily, when anything looks them up: reading a stack in
  progress (DescribeStacks' outputs, DescribeStackResources) from another request made its
  not-yet-made resources in that request, a second time. `Stack.stack_resources` then listed
  such a lookup's None (an entry without LogicalResourceId in DescribeStackResources, HTTP 500
  in DescribeStackResource).
- `moto.cloudformation.parsing.ResourceMap.delete` deletes a stack's resources in set order
  (random between runs), so a custom resource could outlive the function that must answer
  its Delete.

What runs instead:
- wrap_resource_step: a lookup from another thread while the stack's operation runs makes
  nothing (the resource reads as absent: stack_resources leaves it out); in the operation's
  thread the stack's timeout, or a DeleteStack's cancel, is checked first
  (stack_timeouts.check_deadline), and any error becomes a ResourceFailure naming the
  resource and its step ("create" or "update"), which the operation's ending reports
  (stack_endings.py). A failure raised inside a step without a resource (a nested stack's)
  is named after the step's resource.
- The failures seen in an operation are remembered for the rest of it (operation_steps,
  seen_failure, remember_failure), because moto retries a failing resource several times
  within one update or delete.
- delete_in_reverse_creation_order: moto's passes and DeletionPolicy Retain handling, newest
  resource first (moto creates a resource's dependencies before it, so this is dependency
  order); a refused delete stops there, keeping what the refusing resource depends on.
"""
import threading

from emulator import stack_timeouts

_thread = threading.local()  # .failures: the failures of the stack operation this thread runs


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted; the reason is shown in the events."""

    def __init__(self, logical_id, resource_type, reason, action=None):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action  # "create" or "update": the resource's step (wrap_resource_step)


class CreationCancelled(ResourceFailure):
    """The create stopped before the resource was made: a DeleteStack came during it, or
    (StackTimedOut) its stack's timeout passed. logical_id names the resource it cancelled,
    if any."""

    def __init__(self, logical_id=None, resource_type=None):
        super().__init__(logical_id, resource_type, "Resource creation cancelled", "create")


class StackTimedOut(CreationCancelled):
    """The stack's TimeoutInMinutes passed (stack_timeouts.py)."""


def as_failure(exc):
    """`exc` as a ResourceFailure (one without a resource: its reason is the stack's)."""
    if isinstance(exc, ResourceFailure):
        return exc
    return ResourceFailure(None, None, f"{type(exc).__name__}: {exc}")


# -- the stack operation this thread runs ---------------------------------------------------


class operation_steps:
    """Within it, this thread runs a stack operation's resource steps, with a fresh memory of
    their failures (a rollback starts one of its own: the failed update's must not count)."""

    def __enter__(self):
        self.previous = getattr(_thread, "failures", None)
        _thread.failures = {}
        return self

    def __exit__(self, *exc_info):
        _thread.failures = self.previous


def in_operation():
    """True in a thread that runs a stack operation (stack_operations.run_in_background)."""
    return getattr(_thread, "failures", None) is not None


def seen_failure(logical_id):
    """The failure of `logical_id` already seen in the running operation, or None."""
    failures = getattr(_thread, "failures", None)
    return failures.get(logical_id) if failures is not None else None


def remember_failure(failure):
    failures = getattr(_thread, "failures", None)
    if failures is not None:
        failures[failure.logical_id] = failure


# -- the patches --------------------------------------------------------------------------


def wrap_resource_step(original, action, read_elsewhere):
    """parse_and_create_resource / parse_and_update_resource (`action`: "create" or "update").
    `read_elsewhere(stack_id)`: whether this lookup is a reader's while the stack's operation
    runs in another thread (stack_operations.read_elsewhere)."""

    def step(logical_id, resource_json, resources_map, *args, **kwargs):
        if read_elsewhere(resources_map.stack_id):
            return None  # not made yet: the operation's thread makes it (moto: no resource)
        stack_timeouts.check_deadline()
        try:
            return original(logical_id, resource_json, resources_map, *args, **kwargs)
        except ResourceFailure as failure:
            if failure.logical_id is None:  # e.g. a nested stack's: this resource failed
                failure.logical_id, failure.resource_type = logical_id, resource_json.get("Type")
            failure.action = failure.action or action
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the resource's failure reason
            raise ResourceFailure(logical_id, resource_json.get("Type"),
                                  f"{type(exc).__name__}: {exc}", action) from exc

    step.__wrapped__ = original
    return step


def made_resources(stack):
    """Stack.stack_resources: the resources made so far (a reader's lookup gives None)."""
    return [resource for resource in stack.resource_map.values() if resource is not None]


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


def apply():
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    # Imported here: stack_operations (the runner that knows which stacks are in progress)
    # imports this module.
    from emulator.stack_operations import read_elsewhere

    parsing.ResourceMap.delete = delete_in_reverse_creation_order
    parsing.parse_and_create_resource = wrap_resource_step(
        parsing.parse_and_create_resource, "create", read_elsewhere)
    parsing.parse_and_update_resource = wrap_resource_step(
        parsing.parse_and_update_resource, "update", read_elsewhere)
    Stack.stack_resources = property(made_resources)
