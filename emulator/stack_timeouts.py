"""Patch 2d: a stack's TimeoutInMinutes bounds its creation, as CloudFormation's.

moto behaviour replaced:
- `TimeoutInMinutes` (CreateStack) is kept on moto's Stack and never enforced: a create
  takes as long as its resources do.

What runs instead:
- The create's operation thread (stack_operations.wrap_create_stack) runs its resource
  steps `bounded` by the deadline the timeout sets, counted from the CreateStack call.
  The background thread cannot be interrupted, so the deadline is enforced where the
  operation waits: before each resource step (stack_operations.wrap_resource_step) and
  inside the long waits (wait_conditions.py, custom_resources.py; an ECS service
  waiting for stability can do the same), which call seconds_left() and raise
  stack_operations.StackTimedOut once it is spent. The stack then fails as AWS says:
  the resource in progress "Resource creation cancelled", the stack "Stack creation
  time exceeded the specified timeout." and is rolled back (or kept, or deleted, as
  OnFailure asks: rollback_modes.py). The rollback itself is not bounded.
- UpdateStack has no TimeoutInMinutes on AWS: updates are not bounded.
"""
import threading
import time

_bound = threading.local()  # .deadline (time.monotonic()) of the operation running in this thread


def deadline_after(minutes, started):
    """The deadline `minutes` (TimeoutInMinutes, possibly a string) after `started`, or None."""
    return started + float(minutes) * 60 if minutes else None


class bounded:
    """Within it, this thread's stack operation must end by `deadline` (None: not bounded)."""

    def __init__(self, deadline):
        self.deadline = deadline

    def __enter__(self):
        self.previous = getattr(_bound, "deadline", None)
        _bound.deadline = self.deadline
        return self

    def __exit__(self, *exc_info):
        _bound.deadline = self.previous


def seconds_left():
    """Seconds the running stack operation has left before its stack's timeout (negative once
    it passed); None when it is not bounded (no TimeoutInMinutes, an update, a rollback) or
    outside a stack operation's thread.

    A resource that waits long waits at most this long, then raises
    stack_operations.StackTimedOut(logical_id, resource_type); check_deadline() does both.
    """
    deadline = getattr(_bound, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


def check_deadline(logical_id=None, resource_type=None):
    """Raises StackTimedOut (naming the resource it cancels, if any) once the timeout passed."""
    left = seconds_left()
    if left is not None and left <= 0:
        from emulator.stack_operations import StackTimedOut

        raise StackTimedOut(logical_id, resource_type)
