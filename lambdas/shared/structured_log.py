"""The structured, secret-masking log both platform functions write: JSON lines on
stdout (what Lambda ships to CloudWatch Logs), secret-looking keys masked, registered
secret values replaced, URLs' signatures removed, the AWS SDK's DEBUG lines held back.

Standard library only: the zip carries no dependency for it.
"""
import contextlib
import datetime
import json
import logging
import re
import sys
import threading
import urllib.parse

MASK = "****"
# Keys whose values never reach a log line.
SECRET_KEY_PATTERN = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|private|authoriz", re.I)


def is_secret_key(key):
    """A key whose value is masked: it looks secret and is not the *name* of a secret
    (password_parameter, ADMIN_PASSWORD_PARAMETER, ParameterName stay readable)."""
    if not isinstance(key, str) or not SECRET_KEY_PATTERN.search(key):
        return False
    return not key.lower().endswith(("parameter", "parametername", "_name"))


@contextlib.contextmanager
def quiet_libraries():
    """While a handler runs, keep the AWS SDK's DEBUG lines (they include request
    parameters such as a put_parameter Value) out of the log, whatever level the root
    logger is set to. The levels are restored after, so a process that imports this
    (a test run, the local emulator) keeps its own logging."""
    loggers = [logging.getLogger(name) for name in ("boto3", "botocore", "urllib3", "s3transfer")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous):
            logger.setLevel(level)


class StructuredLog:
    """JSON log lines on stdout (what Lambda ships to CloudWatch Logs), never a secret.

    `register_secret(value)` adds a value to replace by **** wherever it appears;
    keys that look secret (password, token, ...) are masked whatever their value.
    """

    def __init__(self, stream=None, **fields):
        self._stream = stream
        self._fields = fields
        self._secrets = set()
        self._lock = threading.Lock()

    def bind(self, **fields):
        self._fields.update(fields)

    def register_secret(self, value):
        if isinstance(value, str) and len(value) >= 4:
            self._secrets.add(value)

    def mask(self, value):
        """A copy of value (str, dict, list...) safe to log or return in an error."""
        if isinstance(value, dict):
            return {key: MASK if is_secret_key(key) else self.mask(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask(item) for item in value]
        if isinstance(value, str):
            for secret in sorted(self._secrets, key=len, reverse=True):
                value = value.replace(secret, MASK)
            return value
        return value

    def _emit(self, level, message, fields):
        record = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": level,
            "message": message,
        }
        record.update(self._fields)
        record.update(fields)
        line = json.dumps(self.mask(record), default=str, sort_keys=False)
        with self._lock:
            stream = self._stream or sys.stdout  # looked up per line, so captured output works
            stream.write(line + "\n")
            stream.flush()

    def info(self, message, **fields):
        self._emit("INFO", message, fields)

    def warning(self, message, **fields):
        self._emit("WARNING", message, fields)

    def error(self, message, **fields):
        self._emit("ERROR", message, fields)


def redact_url(url):
    """The URL without its query string: a presigned URL's signature is a credential."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return MASK
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
