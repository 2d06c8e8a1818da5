"""Where the project's errors meet Sceptre.

The `sceptre` CLI prints a SceptreException as its message alone, on one line, and exits
1; anything else ends in a traceback. Every hook's run(), resolver's resolve() and the
template handler pass through `sceptre_errors`, which re-raises a PlatformError (and so a
ConfigError, PackagingError or invalid name) as a PlatformSceptreError with the same
message, led by the stack's name for a hook or resolver (its stack file says which tag).
Other exceptions are bugs and keep their traceback.
"""
import functools

from sceptre.exceptions import SceptreException

from fargate_platform.errors import PlatformError


class PlatformSceptreError(SceptreException):
    """A PlatformError on its way out through Sceptre."""


def sceptre_errors(method):
    """Decorator: a PlatformError raised by `method` leaves it as a PlatformSceptreError."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except PlatformError as error:
            stack = getattr(self, "stack", None)  # a hook's or resolver's; a handler has none
            where = f"{stack.name} - " if getattr(stack, "name", None) else ""
            raise PlatformSceptreError(f"{where}{error}") from None

    return guarded
