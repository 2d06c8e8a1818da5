"""Patch 2b: stack operations run as CloudFormation's: in the background, one at a time per
stack, and a failed one ends as CloudFormation ends it (stack_endings.py).

Create/Update/DeleteStack (and ExecuteChangeSet, RollbackStack) answer as soon as the
operation has started (moto builds the resources inside the API call: an ECS service
waiting for healthy tasks, or a function near its timeout, would outlast botocore's 60 s
read timeout, and Sceptre's client would send the call again). The operation runs in a
thread of its own; a call returns its stack already COMPLETE when the work takes under
SYNC_GRACE_SECONDS (so fast stacks cost no extra poll), else *_IN_PROGRESS, as on AWS.

moto behaviour replaced:
- `CloudFormationBackend.create_stack`, `update_stack` and `delete_stack` make, update or
  delete the resources inside the API call, without rollback: a resource that raises
  leaves moto's stack in *_IN_PROGRESS for ever (or drops it, on delete). Nothing keeps a
  second operation off a stack whose operation runs, and an update's template is only
  read once the update runs.
- `Stack.create_resources` shows the stack's outputs at once (reading them made resources).
- A deleted stack keeps moto's definitions of its deleted resources: reading it by its id
  made them again.

What runs instead:
- The three backend methods are wrapped: their work runs in run_in_background, and a
  failure ends the stack as stack_endings.py says (a create as OnFailure / DisableRollback
  ask, an update rolled back for real, a delete DELETE_FAILED). Anything escaping an ending
  (a bug) sets <phase>_FAILED with the error, never a stack in progress for ever.
- start_operation refuses an operation, or starts it, in one step (under a lock: the server
  serves requests in threads), with AWS's refusals: UpdateStack (and an UPDATE change set)
  of a stack in progress "Stack:<id> is in <status> state and can not be updated.";
  DeleteStack "Stack [<name>] cannot be deleted while in status <status>", except that a
  DeleteStack during a create cancels it (the resource in progress "Resource creation
  cancelled", stack_timeouts.py), the stack DELETE_IN_PROGRESS at once, then deleted; a
  DeleteStack of a stack being deleted does nothing. UpdateStack's template is checked
  after that refusal, in the call (cloudformation_messages.check_template).
- CreateStack's TimeoutInMinutes is checked before moto registers the stack, and bounds the
  create (stack_timeouts.py). A create's resources are made in its operation thread
  (run_create; a CREATE change set's too), where a lookup from another thread makes nothing
  (resource_steps.py), and the stack shows no outputs until they are made, as on AWS.
- A nested stack (AWS::CloudFormation::Stack) that its parent's operation creates or
  deletes runs in that thread: a failed one ends as a stack does, then fails the parent's
  resource ("Embedded stack <id> was not successfully created: <reason>").
- A deleted stack keeps only its retained resources in moto's map (drop_uncreated).
"""
import sys
import threading
import time
import traceback

from emulator import resource_steps, stack_endings, stack_timeouts
from emulator.cloudformation_messages import check_template, validation_error

SYNC_GRACE_SECONDS = 20.0  # well under botocore's 60 s read timeout
_lock = threading.Lock()  # a busy check and the start it allows are one step
_running = {}  # stack id -> its Operation, from its start until its thread ended
_deferred = threading.local()  # .steps: the resource work of the CreateStack call being served


class Operation:
    """One stack operation, from start_operation to the end of its thread."""

    def __init__(self, stack, status, started_from, previous):
        self.stack, self.status, self.started_from = stack, status, started_from
        self.previous = previous  # the operation still running when this one started, if any
        self.cancelled = threading.Event()  # set on a create by a DeleteStack
        self.ended = threading.Event()


def find_live_stack(backend, name_or_id):
    """The stack of that id or name that is not deleted, or None."""
    stack = backend.stacks.get(name_or_id)
    return stack or next((s for s in backend.stacks.values() if s.name == name_or_id), None)


def refuse_if_busy(stack, verb, from_states=None):
    """AWS's ValidationError when `stack`'s status refuses an operation that `verb` ("updated",
    "deleted", ...) names: one in progress, or, with `from_states`, any status but those."""
    if from_states is not None:
        allowed = stack.status in from_states
    elif stack.status == "REVIEW_IN_PROGRESS":  # it waits for its CREATE change set
        allowed = verb != "updated"
    elif verb == "deleted" and stack.status == "CREATE_IN_PROGRESS":
        allowed = stack.stack_id in _running  # the delete cancels the create
    else:
        allowed = not stack.status.endswith("_IN_PROGRESS")
    if allowed:
        return
    if verb == "deleted":
        raise validation_error(f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
    raise validation_error(f"Stack:{stack.stack_id} is in {stack.status} state and can not be {verb}.")


def start_operation(stack, status, verb, from_states=None):
    """Starts an operation on `stack` as one step: refuse_if_busy, then the stack is `status`
    and marked running. Returns the Operation, for run_in_background (or run_create), or None
    for a DeleteStack of a stack being deleted already (AWS: nothing to do)."""
    with _lock:
        if verb == "deleted" and stack.status == "DELETE_IN_PROGRESS":
            return None
        refuse_if_busy(stack, verb, from_states)
        previous = _running.get(stack.stack_id)
        if previous is not None and stack.status == "CREATE_IN_PROGRESS":
            previous.cancelled.set()  # only a DeleteStack gets here: the create stops
        operation = Operation(stack, status, stack.status, previous)
        stack.status = status
        _running[stack.stack_id] = operation
    return operation


def read_elsewhere(stack_id):
    """True for a lookup made while `stack_id`'s operation runs, from a thread that runs no
    stack operation (a reader): resource_steps makes nothing for it."""
    return stack_id in _running and not resource_steps.in_operation()


def run_in_background(operation, name, work):
    """Runs `work` in `operation`'s own thread, once the operation it follows ended; returns
    when it ended or SYNC_GRACE_SECONDS passed."""
    stack = operation.stack

    def run():
        try:
            if operation.previous is not None:
                operation.previous.ended.wait()  # a cancelled create stops at its next check
                stack.status = operation.status  # (it may have ended the stack its way)
            with resource_steps.operation_steps():
                work()
        except Exception as exc:  # noqa: BLE001 - a bug: the stack must not stay in progress
            traceback.print_exc(file=sys.stderr)
            if _running.get(stack.stack_id) is operation:  # else a later operation ends it
                stack_endings.end_after_crash(stack, exc)
        finally:
            with _lock:
                if _running.get(stack.stack_id) is operation:
                    del _running[stack.stack_id]
            operation.ended.set()

    thread = threading.Thread(target=run, name=f"stack-{name}-{stack.name}", daemon=True)
    thread.start()
    thread.join(SYNC_GRACE_SECONDS)


def run_create(operation, steps, deadline=None):
    """A create's resource steps in the background, bounded by `deadline` (stack_timeouts)
    and stopped by a DeleteStack; a failure ends the stack as its options ask."""
    stack = operation.stack

    def work():
        try:
            with stack_timeouts.bounded(deadline, operation.cancelled):
                for step in steps:
                    step()
        except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
            if operation.cancelled.is_set():  # the DeleteStack that stopped it ends the stack
                stack_endings.record_failure(stack, resource_steps.as_failure(exc),
                                             "CREATE_FAILED", "create")
            else:
                stack_endings.end_failed_create(stack, exc)  # not bounded by the timeout

    run_in_background(operation, "create", work)


def _create_nested(stack, steps):
    """A nested stack's create, in its parent's operation thread (bounded by its deadline):
    a failure ends the nested stack, then fails the parent's resource, as AWS reports it."""
    try:
        with resource_steps.operation_steps():  # its own memory of failures
            for step in steps:
                step()
    except Exception as exc:  # noqa: BLE001 - the nested stack records it, then its parent
        reason = stack_endings.end_failed_create(stack, exc).strip()
        raise resource_steps.ResourceFailure(
            None, None, f"Embedded stack {stack.stack_id} was not successfully created: "
                        f"{reason}") from exc


def wrap_create_resources(original):
    """Stack.create_resources: within a CreateStack call, deferred to the operation's thread;
    the stack shows no outputs until its resources are made (AWS's; reading them makes some)."""

    def create_resources(self):
        complete_outputs, self.output_map = self.output_map, stack_endings.no_outputs(self)

        def create():
            original(self)
            self.output_map = complete_outputs

        steps = getattr(_deferred, "steps", None)
        if steps is None:  # not a CreateStack call (a CREATE change set, run_create's): at once
            return create()
        steps.append(create)

    create_resources.__wrapped__ = original
    return create_resources


def wrap_create_stack(original):
    def create_stack(self, *args, **kwargs):
        minutes = stack_timeouts.timeout_minutes(kwargs.get("timeout_in_mins"))
        if minutes is not None:
            kwargs["timeout_in_mins"] = minutes
        started = time.monotonic()
        _deferred.steps = []
        try:
            stack = original(self, *args, **kwargs)  # an API error (exists, bad template) raises here
        finally:
            steps, _deferred.steps = _deferred.steps, None
        stack_endings.take_create_options(stack)  # this call's OnFailure / DisableRollback
        if resource_steps.in_operation():  # a nested stack, made by its parent's operation
            _create_nested(stack, steps)
            return stack
        operation = start_operation(stack, "CREATE_IN_PROGRESS", "created",
                                    from_states=("CREATE_PENDING",))  # moto's new stack
        run_create(operation, steps, stack_timeouts.deadline_after(minutes, started))
        return stack

    create_stack.__wrapped__ = original
    return create_stack


def wrap_update_stack(original):
    def update_stack(self, name, template, *args, **kwargs):
        stack = self.get_stack(name)
        refuse_if_busy(stack, "updated")  # before the template, as AWS answers
        check_template(template)
        operation = start_operation(stack, "UPDATE_IN_PROGRESS", "updated")
        saved = (stack.template, dict(stack.parameters or {}))
        stack_endings.take_update_options(stack, saved, operation.started_from)

        def work():
            try:
                original(self, stack.stack_id, template, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
                stack_endings.end_failed_update(stack, exc, *saved)

        run_in_background(operation, "update", work)
        return stack

    update_stack.__wrapped__ = original
    return update_stack


def _delete(backend, stack, original):
    """moto's delete of `stack` (newest resource first: resource_steps); False when it failed
    (the stack is DELETE_FAILED)."""
    try:
        original(backend, stack.stack_id)
    except Exception as exc:  # noqa: BLE001 - the stack records it, like AWS
        stack_endings.end_failed_delete(backend, stack, exc)
        return False
    stack_endings.drop_uncreated(stack)  # read by its id later, it makes nothing again
    return True


def wrap_delete_stack(original):
    def delete_stack(self, name_or_stack_id):
        stack = find_live_stack(self, name_or_stack_id)
        if stack is None:
            return original(self, name_or_stack_id)  # moto's answer for an unknown stack
        if resource_steps.in_operation():  # a nested stack its parent's operation deletes
            if not _delete(self, stack, original):
                raise resource_steps.ResourceFailure(None, None, stack.stack_status_reason)
            return None
        operation = start_operation(stack, "DELETE_IN_PROGRESS", "deleted")
        if operation is not None:
            run_in_background(operation, "delete", lambda: _delete(self, stack, original))
        return None

    delete_stack.__wrapped__ = original
    return delete_stack


def apply():
    from moto.cloudformation.models import CloudFormationBackend, Stack

    Stack.create_resources = wrap_create_resources(Stack.create_resources)
    CloudFormationBackend.create_stack = wrap_create_stack(CloudFormationBackend.create_stack)
    CloudFormationBackend.update_stack = wrap_update_stack(CloudFormationBackend.update_stack)
    CloudFormationBackend.delete_stack = wrap_delete_stack(CloudFormationBackend.delete_stack)
