"""Where the project's errors meet Sceptre.

The `sceptre` CLI prints a SceptreException as its message alone, on one line, and exits
1; anything else ends in a traceback. Every hook's run(), resolver's resolve() and the
template handler pass through `sceptre_errors`, which re-raises a PlatformError (and so a
ConfigError, PackagingError or invalid name) as a PlatformSceptreError with the same
message. Other exceptions are bugs and keep their traceback.
"""
import functools

from sceptre.exceptions import SceptreException

from fargate_platform.errors import PlatformError


class PlatformSceptreError(SceptreException):
    """A PlatformError on its way out through Sceptre."""


def sceptre_errors(method):
    """Decorator: a PlatformError raised by `method` leaves it as a PlatformSceptreError."""

    @functools.wraps(method)
    def guarded(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except PlatformError as error:
            raise PlatformSceptreError(str(error)) from None

    return guarded
