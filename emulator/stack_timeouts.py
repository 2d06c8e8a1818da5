"""Patch 2d: a stack's TimeoutInMinutes bounds its creation, and a DeleteStack cancels a
create in progress, as CloudFormation's.

moto behaviour replaced:
- `TimeoutInMinutes` (CreateStack) is kept on moto's Stack, whatever its value, and never
  enforced: a create takes as long as its resources do.

What runs instead:
- CreateStack refuses a TimeoutInMinutes that is not a whole number from 1, before moto
  registers the stack (timeout_minutes, called by stack_operations.wrap_create_stack), as
  AWS's API refuses it: "1 validation error detected: Value '0' at 'timeoutInMinutes' failed
  to satisfy constraint: Member must have value greater than or equal to 1".
- The create's operation thread (stack_operations.run_create) runs its resource steps
  `bounded` by the deadline the timeout sets, counted from the CreateStack call, and by the
  create's cancel event (set by a DeleteStack during the create). The thread cannot be
  interrupted, so both are checked where the operation waits: before each resource step
  (resource_steps.wrap_resource_step) and inside the long waits (wait_conditions.py,
  custom_resources.py, and service_stability.py for an ECS service), which call
  check_deadline() and bound their waits by seconds_left(). A passed timeout raises
  resource_steps.StackTimedOut: the resource in progress fails with "Resource creation
  cancelled", the stack with "Stack creation time exceeded the specified timeout." and is
  rolled back (or kept, or deleted, as OnFailure asks: stack_endings.py); the rollback itself
  is not bounded. A cancel raises resource_steps.CreationCancelled: the resource in progress
  fails the same way, and the DeleteStack deletes what was made.
- UpdateStack has no TimeoutInMinutes on AWS: updates are not bounded.
"""
import threading
import time

from emulator.cloudformation_messages import validation_error

_bound = threading.local()  # .deadline (time.monotonic()), .cancelled: this thread's create's


def timeout_minutes(raw):
    """CreateStack's TimeoutInMinutes (None, or the request's text) as a number of minutes, or
    None; refused as AWS's API refuses it when not a whole number from 1."""
    if raw is None or raw == "":
        return None
    try:
        minutes = int(str(raw))
    except ValueError:
        raise validation_error(f"1 validation error detected: Value '{raw}' at 'timeoutInMinutes' "
                               "failed to satisfy constraint: Member must be a whole number") from None
    if minutes < 1:
        raise validation_error(f"1 validation error detected: Value '{raw}' at 'timeoutInMinutes' "
                               "failed to satisfy constraint: Member must have value greater than "
                               "or equal to 1")
    return minutes


def deadline_after(minutes, started):
    """The deadline `minutes` (timeout_minutes' answer) after `started`, or None."""
    return started + minutes * 60 if minutes else None


class bounded:
    """Within it, this thread's create must end by `deadline` (None: not bounded) and stops once
    `cancelled` (a threading.Event, or None) is set."""

    def __init__(self, deadline, cancelled=None):
        self.deadline, self.cancelled = deadline, cancelled

    def __enter__(self):
        self.previous = (getattr(_bound, "deadline", None), getattr(_bound, "cancelled", None))
        _bound.deadline, _bound.cancelled = self.deadline, self.cancelled
        return self

    def __exit__(self, *exc_info):
        _bound.deadline, _bound.cancelled = self.previous


def seconds_left():
    """Seconds the running create has left before its stack's timeout (negative once it
    passed); None when it is not bounded (no TimeoutInMinutes, an update, a rollback) or
    outside a stack operation's thread. A long wait waits at most this long, then calls
    check_deadline()."""
    deadline = getattr(_bound, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


def check_deadline(logical_id=None, resource_type=None):
    """Raises CreationCancelled once a DeleteStack cancelled the create, StackTimedOut once its
    timeout passed (naming the resource it cancels, if any)."""
    # Imported here: resource_steps checks the deadline before each step (it imports this module).
    from emulator.resource_steps import CreationCancelled, StackTimedOut

    cancelled = getattr(_bound, "cancelled", None)
    if cancelled is not None and cancelled.is_set():
        raise CreationCancelled(logical_id, resource_type)
    left = seconds_left()
    if left is not None and left <= 0:
        raise StackTimedOut(logical_id, resource_type)
