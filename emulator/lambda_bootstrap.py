"""A Lambda execution environment: runs one function's invocations (standard library only).

    python3 -I -S -u lambda_bootstrap.py HANDLER CODE_DIR RUNTIME_DIR

-I -S: no site-packages and no PYTHON* variables, so the function sees what it
would see in Lambda: its own zip first (CODE_DIR), then the runtime's libraries
(RUNTIME_DIR: boto3 and its dependencies, as AWS's Python runtime provides).

Like a warm Lambda environment, the process serves invocations one after the
other, keeping the imported handler module (and whatever it caches) between
them. Each request is one JSON line on stdin: {"request_id", "deadline_ms",
"result_file", "environ", "event"}. The result (or the error, shaped like AWS's)
is written to result_file as JSON, so that whatever the function prints stays log
output; after each invocation a line `MARKER <request_id>` on stdout tells the
emulator where that invocation's output ends. The process ends at end of input.
"""
import importlib
import json
import logging
import os
import sys
import time
import traceback

MARKER = "<<fargate-platform-invocation-end>>"


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
    request_id = ""

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _configure_logging():
    # Like AWS's runtime: one handler on the root logger with level, time and request id.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    request_filter = _RequestIdFilter()
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _error(kind, message, exc=None):
    error = {"errorMessage": message, "errorType": kind, "stackTrace": []}
    if exc is not None:
        # Without this file's own frames, as AWS shows only the function's frames.
        error["stackTrace"] = traceback.format_tb(exc.__traceback__)[1:]
    return error


def _write(path, document):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)


class ExecutionEnvironment:
    """One execution environment (this process): the handler (`module.function`), imported once."""

    def __init__(self, handler_spec):
        self.module_name, _, self.function_name = handler_spec.rpartition(".")
        self.function = None

    def load(self):
        """The handler, imported on first use; an import error is every invocation's error."""
        if self.function is None:
            module = importlib.import_module(self.module_name)
            self.function = getattr(module, self.function_name)
        return self.function

    def invoke(self, request):
        result_file = request["result_file"]
        os.environ.update(request.get("environ", {}))
        context = LambdaContext(request["request_id"], float(request["deadline_ms"]), os.environ)
        try:
            function = self.load()
        except Exception as exc:  # noqa: BLE001 - reported like AWS's Runtime.ImportModuleError
            message = f"Unable to import module '{self.module_name}': {exc}"
            print(f"[ERROR] Runtime.ImportModuleError: {message}", flush=True)
            _write(result_file, {"ok": False, "error": _error(
                "Runtime.ImportModuleError", message, exc)})
            return
        try:
            result = function(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - every exception is a FunctionError in Lambda
            frames = "".join(traceback.format_tb(exc.__traceback__)[1:])
            print(f"[ERROR] {type(exc).__name__}: {exc}\n"
                  f"Traceback (most recent call last):\n{frames}", end="", flush=True)
            _write(result_file, {"ok": False, "error": _error(type(exc).__name__, str(exc), exc)})
            return
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            _write(result_file, {"ok": False, "error": _error(
                "Runtime.MarshalError", f"Unable to marshal response: {exc}")})
            return
        _write(result_file, {"ok": True, "payload": payload})


def main(argv):
    handler_spec, code_dir, runtime_dir = argv[1:4]
    sys.path[:0] = [code_dir]
    sys.path.append(runtime_dir)
    request_filter = _configure_logging()
    execution_environment = ExecutionEnvironment(handler_spec)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        request_filter.request_id = request["request_id"]
        try:
            execution_environment.invoke(request)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout.write(f"\n{MARKER} {request['request_id']}\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
