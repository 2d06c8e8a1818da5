"""Patch 2c: a failed stack operation ends as CreateStack's OnFailure / DisableRollback and
UpdateStack's DisableRollback ask, and RollbackStack, as CloudFormation's.

moto behaviour replaced:
- `moto.cloudformation.responses.CloudFormationResponse.create_stack` drops OnFailure
  and DisableRollback, `update_stack` DisableRollback (moto's backend takes neither),
  so a failed operation was always rolled back (stack_endings.py), and
  DescribeStacks answered DisableRollback false. moto has no RollbackStack
  (NotImplementedError).

What runs instead:
- Both response methods are wrapped: they refuse what AWS refuses, in AWS's words
  (ValidationError: OnFailure with DisableRollback, an OnFailure outside its values, an
  UpdateStack of a CREATE_FAILED / UPDATE_FAILED stack without DisableRollback=true,
  or of one created with OnFailure=DO_NOTHING), and hand the options to the stack
  operation the same request starts (stack_endings.requested: the backend runs in the
  request's thread), which ends as they ask (stack_endings.py): a failed create
  ROLLBACK_COMPLETE (the default), CREATE_FAILED with what was made kept (DO_NOTHING,
  DisableRollback=true) or DELETE_COMPLETE (DELETE); a failed update with
  DisableRollback=true UPDATE_FAILED ("The following resource(s) failed to update: [X].").
- From CREATE_FAILED / UPDATE_FAILED, an UpdateStack with DisableRollback=true may
  resubmit the same template (AWS's Retry; moto would answer "No updates are to be
  performed."): the failed resources are tried again. RollbackStack (added to moto's
  CloudFormationResponse) takes such a stack back to its last stable state, as a stack
  operation (stack_operations.start_operation; any other status is refused: "Stack:<id> is
  in <status> state and can not be rolled back."): the template and parameters of its last
  *_COMPLETE status (UPDATE_ROLLBACK_COMPLETE), or, for a stack that never completed,
  deletes what was made (ROLLBACK_COMPLETE).
"""
from emulator import stack_endings, stack_operations
from emulator.cloudformation_messages import validation_error
from emulator.stack_endings import FAILED_STATES

ON_FAILURE_VALUES = ("DO_NOTHING", "ROLLBACK", "DELETE")


# -- the requests' options ------------------------------------------------------------------


def wrap_create_stack_response(original):
    def create_stack(self):
        on_failure = self._get_param("OnFailure")
        disable_rollback = self._get_bool_param("DisableRollback")
        if on_failure is not None and disable_rollback is not None:
            raise validation_error("Either DisableRollback or OnFailure can be specified, not both.")
        if on_failure is not None and on_failure not in ON_FAILURE_VALUES:
            raise validation_error(f"1 validation error detected: Value '{on_failure}' at 'onFailure' "
                                   "failed to satisfy constraint: Member must satisfy enum value set: "
                                   f"[{', '.join(ON_FAILURE_VALUES)}]")
        with stack_endings.requested(on_failure, disable_rollback):
            return original(self)

    create_stack.__wrapped__ = original
    return create_stack


def wrap_update_stack_response(original):
    def update_stack(self):
        disable_rollback = bool(self._get_bool_param("DisableRollback"))
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        if stack.status in FAILED_STATES:
            _refuse_update_from_failed(stack, disable_rollback)
            self._validate_different_update = _accept_a_retry  # this request only
        with stack_endings.requested(disable_rollback=disable_rollback):
            return original(self)

    update_stack.__wrapped__ = original
    return update_stack


def _refuse_update_from_failed(stack, disable_rollback):
    if stack.status == "CREATE_FAILED" and getattr(stack, "on_failure", None) == "DO_NOTHING":
        raise validation_error("This stack cannot be updated from [CREATE_FAILED] state because it "
                               "contains [on-failure: DO_NOTHING]. Please use disable-rollback "
                               "option instead during stack creation.")
    if not disable_rollback:
        raise validation_error(f"This stack is currently in a non-terminal [{stack.status}] state. "
                               "To update the stack from this state, please use the "
                               "disable-rollback parameter with update-stack API. To rollback to "
                               "the last known good state, use the rollback-stack API")


def _accept_a_retry(incoming_params, stack_body, old_stack):
    """AWS's Retry of a failed stack: the same template and parameters are an update."""


# -- RollbackStack --------------------------------------------------------------------------


def rollback_stack(self):
    """CloudFormationResponse.rollback_stack: a failed stack back to its last stable state."""
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stable = getattr(stack, "last_stable", None)
    operation = stack_operations.start_operation(  # refused (the layer's wording) unless failed
        stack, "UPDATE_ROLLBACK_IN_PROGRESS" if stable else "ROLLBACK_IN_PROGRESS", "rolled back",
        from_states=FAILED_STATES)

    def work():
        if stable is None:  # never complete: nothing to go back to but nothing
            stack_endings.delete_created(stack, "ROLLBACK", "User Initiated")
        else:
            stack_endings.revert_update(stack, *stable, "User Initiated")

    stack_operations.run_in_background(operation, "rollback", work)
    return ActionResult({"StackId": stack.stack_id})


def apply():
    from moto.cloudformation.responses import CloudFormationResponse

    CloudFormationResponse.create_stack = wrap_create_stack_response(
        CloudFormationResponse.create_stack)
    CloudFormationResponse.update_stack = wrap_update_stack_response(
        CloudFormationResponse.update_stack)
    CloudFormationResponse.rollback_stack = rollback_stack
