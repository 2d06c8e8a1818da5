"""Runs one Lambda invocation inside the subprocess the emulator starts (standard library only).

    python3 -I -S lambda_bootstrap.py HANDLER RESULT_FILE CODE_DIR RUNTIME_DIR DEADLINE_MS REQUEST_ID

-I -S: no site-packages and no PYTHON* variables, so the function sees what it
would see in Lambda: its own zip first (CODE_DIR), then the runtime's libraries
(RUNTIME_DIR: boto3 and its dependencies, as AWS's Python runtime provides).
The event comes on stdin; the result (or the error, shaped like AWS's) is written
to RESULT_FILE as JSON, so that whatever the function prints stays log output.
"""
import importlib
import json
import logging
import sys
import time
import traceback


class LambdaContext:
    """The attributes and method of AWS's context object that functions use."""

    def __init__(self, request_id, deadline_ms, environ):
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = environ.get("FARGATE_PLATFORM_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id):
        super().__init__()
        self.request_id = request_id

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _configure_logging(request_id):
    # Like AWS's runtime: one handler on the root logger with level, time and request id.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter(request_id))
    logging.getLogger().addHandler(handler)


def _error(kind, message, exc=None):
    error = {"errorMessage": message, "errorType": kind, "stackTrace": []}
    if exc is not None:
        # Without this file's own frame, as AWS shows only the function's frames.
        error["stackTrace"] = traceback.format_tb(exc.__traceback__)[1:]
    return error


def _write(path, document):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


def main(argv):
    handler_spec, result_file, code_dir, runtime_dir, deadline_ms, request_id = argv[1:7]
    sys.path[:0] = [code_dir]
    sys.path.append(runtime_dir)
    import os

    context = LambdaContext(request_id, float(deadline_ms), os.environ)
    _configure_logging(request_id)
    event = json.loads(sys.stdin.read() or "{}")

    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, function_name)
    except Exception as exc:  # noqa: BLE001 - reported like AWS's Runtime.ImportModuleError
        print(f"[ERROR] Runtime.ImportModuleError: Unable to import module '{module_name}': {exc}",
              flush=True)
        _write(result_file, {"ok": False, "error": _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc)})
        return 0

    try:
        result = function(event, context)
    except Exception as exc:  # noqa: BLE001 - every exception is a FunctionError in Lambda
        sys.stdout.flush()
        frames = "".join(traceback.format_tb(exc.__traceback__)[1:])
        print(f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n{frames}",
              end="", flush=True)
        _write(result_file, {"ok": False, "error": _error(type(exc).__name__, str(exc), exc)})
        return 0

    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as exc:
        _write(result_file, {"ok": False, "error": _error(
            "Runtime.MarshalError", f"Unable to marshal response: {exc}")})
        return 0
    sys.stdout.flush()
    _write(result_file, {"ok": True, "payload": payload})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
