"""Patch 2c: a failed stack operation ends as CreateStack's OnFailure / DisableRollback and
UpdateStack's DisableRollback ask, and RollbackStack, as CloudFormation's.

moto behaviour replaced:
- `moto.cloudformation.responses.CloudFormationResponse.create_stack` drops OnFailure
  and DisableRollback, `update_stack` DisableRollback (moto's backend takes neither),
  so a failed operation was always rolled back (stack_operations.py), and
  DescribeStacks answered DisableRollback false. moto has no RollbackStack
  (NotImplementedError).

What runs instead:
- Both response methods are wrapped: they refuse what AWS refuses, in AWS's words
  (ValidationError: OnFailure with DisableRollback, an OnFailure outside its values, an
  UpdateStack of a CREATE_FAILED / UPDATE_FAILED stack without DisableRollback=true,
  or of one created with OnFailure=DO_NOTHING), and hand the options to the stack
  operation the same request starts (a thread-local: the backend runs in its thread).
- A failed create ends as asked: ROLLBACK (the default) as stack_operations does;
  DO_NOTHING or DisableRollback=true: CREATE_FAILED "The following resource(s) failed
  to create: [X].", what was made kept; DELETE: DELETE_IN_PROGRESS "The following
  resource(s) failed to create: [X]. Delete requested by user.", what was made
  deleted, DELETE_COMPLETE, and the stack gone from DescribeStacks by name (found by
  its id, as AWS keeps deleted stacks).
- A failed update with DisableRollback=true stays UPDATE_FAILED ("The following
  resource(s) failed to update: [X]."): what it changed is kept, the failed resource
  is as it was (AWS rolls that one back), the new template is the stack's.
- From CREATE_FAILED / UPDATE_FAILED, an UpdateStack with DisableRollback=true may
  resubmit the same template (AWS's Retry; moto would answer "No updates are to be
  performed."): the failed resources are tried again. RollbackStack (added to moto's
  CloudFormationResponse) takes such a stack back to its last stable state: the
  template and parameters of its last *_COMPLETE status (UPDATE_ROLLBACK_COMPLETE), or,
  for a stack that never completed, deletes what was made (ROLLBACK_COMPLETE).
"""
import threading

from emulator import stack_operations
from emulator.stack_operations import _add_event, _failure, _forget_deleted, _report

ON_FAILURE_VALUES = ("DO_NOTHING", "ROLLBACK", "DELETE")
FAILED_STATES = ("CREATE_FAILED", "UPDATE_FAILED")  # where a disabled rollback leaves a stack
_request = threading.local()  # the options of the CreateStack / UpdateStack call being served


def _refused(message):
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


# -- the requests' options ------------------------------------------------------------------


def wrap_create_stack_response(original):
    def create_stack(self):
        on_failure = self._get_param("OnFailure")
        disable_rollback = self._get_bool_param("DisableRollback")
        if on_failure is not None and disable_rollback is not None:
            raise _refused("Either DisableRollback or OnFailure can be specified, not both.")
        if on_failure is not None and on_failure not in ON_FAILURE_VALUES:
            raise _refused(f"1 validation error detected: Value '{on_failure}' at 'onFailure' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           f"[{', '.join(ON_FAILURE_VALUES)}]")
        _request.create = (on_failure or "ROLLBACK", bool(disable_rollback))
        try:
            return original(self)
        finally:
            _request.create = None

    create_stack.__wrapped__ = original
    return create_stack


def wrap_update_stack_response(original):
    def update_stack(self):
        disable_rollback = bool(self._get_bool_param("DisableRollback"))
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        if stack.status in FAILED_STATES:
            _refuse_update_from_failed(stack, disable_rollback)
            self._validate_different_update = _accept_a_retry  # this request only
        _request.disable_rollback = disable_rollback
        try:
            return original(self)
        finally:
            _request.disable_rollback = None

    update_stack.__wrapped__ = original
    return update_stack


def _refuse_update_from_failed(stack, disable_rollback):
    if stack.status == "CREATE_FAILED" and getattr(stack, "on_failure", None) == "DO_NOTHING":
        raise _refused("This stack cannot be updated from [CREATE_FAILED] state because it "
                       "contains [on-failure: DO_NOTHING]. Please use disable-rollback option "
                       "instead during stack creation.")
    if not disable_rollback:
        raise _refused(f"This stack is currently in a non-terminal [{stack.status}] state. To "
                       "update the stack from this state, please use the disable-rollback "
                       "parameter with update-stack API. To rollback to the last known good "
                       "state, use the rollback-stack API")


def _accept_a_retry(incoming_params, stack_body, old_stack):
    """AWS's Retry of a failed stack: the same template and parameters are an update."""


def take_create_options(stack):
    """The CreateStack options of this request, kept on its new stack (stack_operations)."""
    on_failure, disable_rollback = getattr(_request, "create", None) or ("ROLLBACK", False)
    stack.on_failure = on_failure
    stack.disable_rollback = disable_rollback or on_failure == "DO_NOTHING"  # DescribeStacks'
    stack.last_stable = None  # (template, parameters) of its last *_COMPLETE state
    stack.stack_status_reason = None


def take_update_options(stack, current):
    """The UpdateStack's DisableRollback; `current` (template, parameters) is the stable
    state a RollbackStack returns to unless the stack is already failed."""
    if stack.status not in FAILED_STATES:
        stack.last_stable = current
    stack.disable_rollback = bool(getattr(_request, "disable_rollback", None))
    stack.stack_status_reason = None


# -- how a failed operation ends ------------------------------------------------------------


def end_failed_create(stack, exc):
    on_failure = getattr(stack, "on_failure", "ROLLBACK")
    if not stack.disable_rollback and on_failure != "DELETE":
        stack_operations.roll_back_create(stack, exc)
        return
    prefix = _report(stack, _failure(exc), "CREATE_FAILED", "create")
    if stack.disable_rollback:  # DO_NOTHING: what was made stays, for a retry or a rollback
        _forget_deleted(stack)
        stack.status = "CREATE_FAILED"
        _add_event(stack, "CREATE_FAILED", prefix.strip())
        return
    stack_operations.delete_created(stack, "DELETE", prefix + "Delete requested by user.")
    if stack.status == "DELETE_COMPLETE":
        _forget_stack(stack)


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
    if not stack.disable_rollback:
        stack_operations.roll_back_update(stack, exc, template, parameters)
        return
    failure = _failure(exc)
    prefix = _report(stack, failure, "UPDATE_FAILED", "update")
    stack.parameters = dict(stack.resource_map.input_parameters or {})  # the update's, as the template
    _forget_deleted(stack)  # a failed new resource is absent: the next update creates it
    previous = stack.parse_template(template).get("Resources", {})
    resource_map = stack.resource_map
    if failure.logical_id in previous and failure.logical_id in resource_map._parsed_resources:
        # The failed resource is as it was: its old definition makes the next update retry it.
        resource_map._resource_json_map[failure.logical_id] = previous[failure.logical_id]
    stack.status = "UPDATE_FAILED"
    _add_event(stack, "UPDATE_FAILED", prefix.strip())


# -- RollbackStack --------------------------------------------------------------------------


def rollback_stack(self):
    """CloudFormationResponse.rollback_stack: a failed stack back to its last stable state."""
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    if stack.status not in FAILED_STATES:  # the layer's wording
        raise _refused(f"Stack:{stack.stack_id} is in {stack.status} state and can not be "
                       "rolled back.")
    stable = getattr(stack, "last_stable", None)
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS" if stable else "ROLLBACK_IN_PROGRESS"

    def work():
        with stack_operations._Operation():
            if stable is None:  # never complete: nothing to go back to but nothing
                stack_operations.delete_created(stack, "ROLLBACK", "User Initiated")
            else:
                stack_operations.revert_update(stack, *stable, "User Initiated")

    stack_operations._in_background(stack, "rollback", work)
    return ActionResult({"StackId": stack.stack_id})


def apply():
    from moto.cloudformation.responses import CloudFormationResponse

    CloudFormationResponse.create_stack = wrap_create_stack_response(
        CloudFormationResponse.create_stack)
    CloudFormationResponse.update_stack = wrap_update_stack_response(
        CloudFormationResponse.update_stack)
    CloudFormationResponse.rollback_stack = rollback_stack
