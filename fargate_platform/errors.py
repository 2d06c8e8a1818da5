"""The one base of every error a user can cause and fix (configuration, packaging, names,
the local platform, purge). Its message is one line that names the file and key, or the
resource, and says what to do; it is printed alone, never with a traceback.

This module imports nothing: it ships in the Lambda zips (names.py raises from it) and
runs in the emulator's virtualenv. Where Sceptre runs our code (templates, hooks,
resolvers), fargate_platform.sceptre_errors turns these into Sceptre exceptions.
"""


class PlatformError(Exception):
    """An error the user caused and can fix; `str(error)` is the whole message."""
