"""How a stack operation ends, in CloudFormation's statuses and events: the endings that
stack_operations.py (CreateStack, UpdateStack, DeleteStack, ExecuteChangeSet) and
rollback_modes.py (RollbackStack) give their operations. A helper of those patches, not a
patch itself: moto has no endings to replace (a resource that raises leaves its stack
*_IN_PROGRESS for ever, or drops it, on delete).

- A failing resource adds its *_FAILED event with its reason (record_failure); the stack's
  event then says "The following resource(s) failed to create: [X]." (update, delete), or
  "Stack creation time exceeded the specified timeout." for a create past its
  TimeoutInMinutes.
- A failed create ends as its CreateStack's OnFailure / DisableRollback ask (the request's
  options, handed over by rollback_modes.py through `requested`): ROLLBACK (the default):
  what was made is deleted, ROLLBACK_COMPLETE ("... Rollback requested by user."), so that
  a relaunch deletes and recreates the stack as against AWS; DO_NOTHING or
  DisableRollback=true: CREATE_FAILED, what was made kept; DELETE: what was made deleted
  ("... Delete requested by user."), DELETE_COMPLETE, and the stack gone from DescribeStacks
  by name (found by its id, as AWS keeps deleted stacks).
- A failed update is rolled back for real: the resources are updated back to the previous
  template and parameters (ResourceMap.update), UPDATE_ROLLBACK_COMPLETE, so that a rerun
  redoes the whole update; with DisableRollback=true it stays UPDATE_FAILED: what it
  changed is kept, the failed resource is as it was (AWS rolls that one back), the new
  template is the stack's.
- A failed delete leaves the stack DELETE_FAILED, found by name again.
- An operation that broke off (an error escaping its ending: a bug) ends <phase>_FAILED
  with the error, never a stack *_IN_PROGRESS for ever.
- After each ending moto's map keeps only the resources that exist (drop_uncreated).
"""
import threading

from emulator.resource_steps import CreationCancelled, StackTimedOut, as_failure, operation_steps

TIMED_OUT = "Stack creation time exceeded the specified timeout. "
FAILED_STATES = ("CREATE_FAILED", "UPDATE_FAILED")  # where a disabled rollback leaves a stack
_request = threading.local()  # .ending: (OnFailure, DisableRollback) of the call being served


# -- the request's options ----------------------------------------------------------------


class requested:
    """Within it, the operation this request starts ends as `on_failure` (CreateStack's
    OnFailure, or None) and `disable_rollback` ask; the backend runs in the request's thread."""

    def __init__(self, on_failure=None, disable_rollback=False):
        self.ending = (on_failure, bool(disable_rollback))

    def __enter__(self):
        _request.ending = self.ending
        return self

    def __exit__(self, *exc_info):
        _request.ending = None


def _requested():
    return getattr(_request, "ending", None) or (None, False)


def take_create_options(stack):
    """The CreateStack options of this request, kept on its new stack."""
    on_failure, disable_rollback = _requested()
    stack.on_failure = on_failure or "ROLLBACK"
    stack.disable_rollback = disable_rollback or on_failure == "DO_NOTHING"  # DescribeStacks'
    stack.last_stable = None  # (template, parameters) of its last *_COMPLETE state
    stack.stack_status_reason = None


def take_update_options(stack, current, started_from):
    """The UpdateStack's DisableRollback; `current` (template, parameters) is the stable
    state a RollbackStack returns to, unless the update started from a failed state."""
    if started_from not in FAILED_STATES:
        stack.last_stable = current
    stack.disable_rollback = _requested()[1]
    stack.stack_status_reason = None


# -- events and moto's bookkeeping -----------------------------------------------------------


def add_event(stack, status, reason=None, logical_id=None, resource_type=None):
    """A stack event (no `logical_id`: the stack's own, its reason DescribeStacks'
    StackStatusReason) or a resource's."""
    from moto.cloudformation.models import Event

    if logical_id is None:
        stack._add_stack_event(status, resource_status_reason=reason)
        stack.stack_status_reason = reason
        return
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id="", resource_type=resource_type or "", resource_status=status,
        resource_status_reason=reason, resource_properties=None))


def record_failure(stack, failure, status, summary):
    """Adds the failed resource's event (`status`; `summary`: "create", "update" or "delete");
    returns the start of the stack event's reason."""
    if isinstance(failure, CreationCancelled):
        if failure.logical_id:
            add_event(stack, "CREATE_FAILED", failure.reason, failure.logical_id,
                      failure.resource_type)
        return TIMED_OUT if isinstance(failure, StackTimedOut) else ""
    if failure.logical_id:
        if failure.action and failure.action != summary:  # a resource an update adds: created
            status, summary = f"{failure.action.upper()}_FAILED", failure.action
        add_event(stack, status, failure.reason, failure.logical_id, failure.resource_type)
        return f"The following resource(s) failed to {summary}: [{failure.logical_id}]. "
    return f"{failure.reason.rstrip('.')}. "


def no_outputs(stack):
    from moto.cloudformation.parsing import OutputMap

    return OutputMap(stack.resource_map, {}, stack.stack_id)


def drop_uncreated(stack):
    """Keeps only the resources that exist in moto's map of the stack, and no outputs.

    moto makes resources lazily when anything (DescribeStacks' outputs,
    DescribeStackResources) looks them up: without this, reading a rolled-back, failed or
    deleted stack would make its missing resources again.
    """
    resource_map = stack.resource_map
    resource_map._resource_json_map = {
        name: definition for name, definition in resource_map._resource_json_map.items()
        if name in resource_map._parsed_resources}
    stack.output_map = no_outputs(stack)


# -- the endings ----------------------------------------------------------------------------


def end_failed_create(stack, exc):
    """Ends a failed create as its options ask (module docstring); returns the stack event's
    reason start (a nested stack's parent reports it)."""
    summary = record_failure(stack, as_failure(exc), "CREATE_FAILED", "create")
    if stack.disable_rollback:  # DO_NOTHING too: what was made stays, for a retry or a rollback
        drop_uncreated(stack)
        stack.status = "CREATE_FAILED"
        add_event(stack, "CREATE_FAILED", summary.strip())
    elif stack.on_failure == "DELETE":
        delete_created(stack, "DELETE", summary + "Delete requested by user.")
        if stack.status == "DELETE_COMPLETE":
            _forget_stack(stack)
    else:
        delete_created(stack, "ROLLBACK", summary + "Rollback requested by user.")
    return summary


def delete_created(stack, phase, reason):
    """Deletes what a create made: <phase>_IN_PROGRESS (with `reason`), then <phase>_COMPLETE,
    or <phase>_FAILED when a delete fails. `phase`: ROLLBACK, or DELETE (OnFailure=DELETE)."""
    stack.status = f"{phase}_IN_PROGRESS"
    add_event(stack, f"{phase}_IN_PROGRESS", reason)
    try:
        stack.resource_map.delete()
    except Exception as delete_error:  # noqa: BLE001 - reported in the stack's events
        drop_uncreated(stack)
        stack.status = f"{phase}_FAILED"
        add_event(stack, f"{phase}_FAILED", as_failure(delete_error).reason)
        return
    drop_uncreated(stack)
    stack.status = f"{phase}_COMPLETE"
    add_event(stack, f"{phase}_COMPLETE")


def _forget_stack(stack):
    """Keeps the deleted stack as moto's delete_stack does: by its id only, exports gone."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[stack.account_id][stack.region_name]
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            del backend.exports[name]


def end_failed_update(stack, exc, template, parameters):
    """Rolled back to `template` and `parameters`, or, with DisableRollback, UPDATE_FAILED."""
    failure = as_failure(exc)
    summary = record_failure(stack, failure, "UPDATE_FAILED", "update").strip()
    if not stack.disable_rollback:
        revert_update(stack, template, parameters, summary)
        return
    stack.parameters = dict(stack.resource_map.input_parameters or {})  # the update's, as the template
    drop_uncreated(stack)  # a failed new resource is absent: the next update creates it
    previous = stack.parse_template(template).get("Resources", {})
    resource_map = stack.resource_map
    if failure.logical_id in previous and failure.logical_id in resource_map._parsed_resources:
        # The failed resource is as it was: its old definition makes the next update retry it.
        resource_map._resource_json_map[failure.logical_id] = previous[failure.logical_id]
    stack.status = "UPDATE_FAILED"
    add_event(stack, "UPDATE_FAILED", summary)


def revert_update(stack, template, parameters, reason):
    """The resources updated back to `template` and `parameters`: UPDATE_ROLLBACK_COMPLETE."""
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    add_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    stack.template, stack.parameters = template, parameters
    stack._parse_template()
    try:
        with operation_steps():  # the failed update's failures are not the rollback's
            stack.resource_map.update(stack.template_dict, parameters)
    except Exception as revert_error:  # noqa: BLE001 - reported in the stack's events
        stack.output_map = stack._create_output_map()
        stack.status = "UPDATE_ROLLBACK_FAILED"
        add_event(stack, "UPDATE_ROLLBACK_FAILED", as_failure(revert_error).reason)
        return
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    add_event(stack, "UPDATE_ROLLBACK_COMPLETE")


def end_failed_delete(backend, stack, exc):
    """DELETE_FAILED, the stack found by name again (moto dropped it before deleting)."""
    summary = record_failure(stack, as_failure(exc), "DELETE_FAILED", "delete")
    backend.stacks[stack.stack_id] = stack
    drop_uncreated(stack)
    stack.status = "DELETE_FAILED"
    add_event(stack, "DELETE_FAILED", summary.strip())


def end_after_crash(stack, exc):
    """An operation that broke off ends <phase>_FAILED with the error in its events."""
    if stack.status.endswith("_IN_PROGRESS"):
        stack.status = stack.status[:-len("_IN_PROGRESS")] + "_FAILED"
        add_event(stack, stack.status, as_failure(exc).reason)
