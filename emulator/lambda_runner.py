"""Patch 1: Lambda functions run without Docker.

moto behaviour replaced: `moto.awslambda.models.LambdaFunction.invoke(body,
request_headers, response_headers)` runs the function in a Docker container
(`_invoke_lambda`); without a Docker engine every invocation answers
"error running docker" (and moto's "simple" backend, which needs no Docker,
returns canned answers instead of running the code).

What runs instead (LambdaRunner.invoke): the function's own zip (the bytes moto
keeps from CreateFunction, i.e. from the S3 object it was created from) is
unpacked once per content hash into <state-dir>/lambda/code/<sha256>/, and its
handler runs in a subprocess of the machine's Python (the zip is built for the
running interpreter: target `local`) through lambda_bootstrap.py. Like Lambda's
execution environments, a subprocess stays warm for the next invocations of the
same function configuration (code, handler, environment, memory); at most
FARGATE_PLATFORM_LAMBDA_WORKERS (default: the number of CPUs, at least 2) run per
configuration, further invocations wait for one (so that a burst on a small
machine reuses warm processes instead of starting one cold process each). With:
- a clean environment: the function's Environment variables, AWS_REGION,
  AWS_ENDPOINT_URL = this emulator, the credentials of the function's execution
  role (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, assumed
  through moto's STS with the function's name as session name, as Lambda does), so
  that the emulator judges the function's calls under its role
  (iam_enforcement.py), and Lambda's own AWS_LAMBDA_* variables;
- what Lambda itself does with the role, decided before each run
  (aws_requests.lambda_service_requests): a VPC function whose role may not manage
  its network interfaces fails to invoke with Lambda's "The provided execution role
  does not have permissions to call CreateNetworkInterface on EC2"
  (InvalidParameterValueException); a role that may not write the function's log
  stream runs the function, but its logs are not written (as on AWS);
- the function's Timeout enforced from the start of the invocation: the process
  group is killed (the environment is not reused) and the answer is Lambda's
  "Task timed out after N.00 seconds" error;
- errors shaped like AWS's (FunctionError "Unhandled", payload with errorMessage,
  errorType, stackTrace);
- the invocation's output written to the emulator's CloudWatch Logs, group
  /aws/lambda/<name>, one stream per invocation, with START/END/REPORT lines
  (when the role allows it, see above);
- boto3 and its dependencies on the path after the zip's own contents, as AWS's
  Python runtime provides them (symlinks into this virtualenv's site-packages).
InvocationType Event returns at once (202) and runs the function in a thread;
DryRun runs nothing.
"""
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

from emulator import context, iam_enforcement, iam_state
from emulator.lambda_workers import Worker, WorkerPool

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")

# What AWS's Python runtime puts on the path besides the function's zip.
RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
LOG_TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns, like AWS


def header(headers, name):
    """A request header by case-insensitive name (moto passes werkzeug headers or a dict)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


class InvocationResult:
    """What one run produced: payload bytes, whether it is an error, and its log text."""

    def __init__(self, request_id, payload, error, log, duration_ms):
        self.request_id = request_id
        self.payload = payload
        self.error = error
        self.log = log
        self.duration_ms = duration_ms

    @property
    def error_message(self):
        if not self.error:
            return None
        try:
            return json.loads(self.payload).get("errorMessage")
        except (ValueError, AttributeError):
            return self.payload.decode("utf-8", "replace")


class LambdaRunner:
    def __init__(self, emulator):
        self.emulator = emulator
        self.root = emulator.state_dir / "lambda"
        self._unpack_lock = threading.Lock()
        self._credentials_lock = threading.Lock()
        self._credentials = {}  # (function ARN, role ARN) -> the role's credentials
        limit = os.environ.get("FARGATE_PLATFORM_LAMBDA_WORKERS")
        self.pool = WorkerPool(int(limit) if limit else max(2, os.cpu_count() or 2))

    # -- the code -----------------------------------------------------------------------

    def python(self):
        """The machine's Python: the base interpreter of this virtualenv unless overridden."""
        return (self.emulator.lambda_python or os.environ.get("FARGATE_PLATFORM_LAMBDA_PYTHON")
                or getattr(sys, "_base_executable", None) or sys.executable)

    def code_dir(self, function):
        code = getattr(function, "code_bytes", b"") or b""
        if not code:
            raise FunctionCodeMissing(
                f"function {function.function_name} has no code: its zip (or S3 object) was "
                "empty or missing when the function was created"
            )
        digest = hashlib.sha256(code).hexdigest()
        target = self.root / "code" / digest
        with self._unpack_lock:
            if not target.is_dir():
                staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=self._mkdir("code")))
                with zipfile.ZipFile(io.BytesIO(code)) as archive:
                    archive.extractall(staging)
                os.replace(staging, target)  # atomic: a half-unpacked folder is never used
        return target

    def runtime_dir(self):
        target = self.root / "runtime"
        with self._unpack_lock:
            if not target.is_dir():
                staging = Path(tempfile.mkdtemp(prefix=".runtime-", dir=self._mkdir()))
                site = Path(__import__("boto3").__file__).parent.parent
                for name in RUNTIME_LIBRARIES:
                    if (site / name).exists():
                        os.symlink(site / name, staging / name)
                os.replace(staging, target)
        return target

    def _mkdir(self, *parts):
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- running ------------------------------------------------------------------------

    def environment(self, function, work_dir):
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": str(work_dir),
            "TMPDIR": str(work_dir),
        }
        # The function's own variables, then what Lambda sets (Lambda's win, as in AWS).
        env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        env.update(self.credentials(function))
        env.update({
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ENDPOINT_URL": self.emulator.endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "LAMBDA_TASK_ROOT": str(self.code_dir(function)),
            "_HANDLER": function.handler or "",
            "FARGATE_PLATFORM_FUNCTION_ARN": function.function_arn,
        })
        return env

    def credentials(self, function):
        """The execution role's credentials, from moto's STS, one session per function and
        role (kept for the warm environments; the emulator's sessions do not expire)."""
        key = (function.function_arn, function.role)
        with self._credentials_lock:
            if key not in self._credentials:
                self._credentials[key] = iam_state.assume_role_for(
                    function.role, function.function_name, function.region)
            return self._credentials[key]

    def configuration_key(self, function):
        """What makes an environment reusable: same code, handler, settings and role."""
        code = hashlib.sha256(getattr(function, "code_bytes", b"") or b"").hexdigest()
        settings = json.dumps([function.handler, function.environment_vars, function.memory_size,
                               function.timeout, function.run_time, function.role],
                              sort_keys=True, default=str)
        return (function.function_arn, code, hashlib.sha256(settings.encode()).hexdigest())

    def start_worker(self, function):
        work_dir = Path(tempfile.mkdtemp(prefix="env-", dir=self._mkdir("environments")))
        env = self.environment(function, work_dir)
        process = subprocess.Popen(
            [self.python(), "-I", "-S", "-u", str(BOOTSTRAP), function.handler or "",
             env["LAMBDA_TASK_ROOT"], str(self.runtime_dir())],
            cwd=env["LAMBDA_TASK_ROOT"], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return Worker(process, work_dir)

    def run(self, function, event, timeout=None):
        """Run the function once with `event` (a JSON-able value); returns InvocationResult."""
        request_id = str(uuid.uuid4())
        timeout = float(timeout if timeout is not None else function.timeout)
        log_stream = _log_stream_name(request_id)
        started = time.time()
        write_logs = self.check_service_permissions(function, log_stream)
        try:
            key = self.configuration_key(function)
            worker = self.pool.acquire(key, lambda: self.start_worker(function))
        except FunctionCodeMissing as exc:
            payload = _error_payload("Runtime.InvalidEntrypoint", str(exc), request_id)
            return self._finish(function, request_id, log_stream, started, payload, True, "",
                                write_logs)
        started = time.time()  # the Timeout counts from the start of the invocation
        result_file = worker.work_dir / f"result-{request_id}.json"
        healthy = False
        try:
            output, outcome = worker.invoke({
                "request_id": request_id, "deadline_ms": (started + timeout) * 1000,
                "result_file": str(result_file), "event": event,
                "environ": {"AWS_LAMBDA_LOG_STREAM_NAME": log_stream},
            }, deadline=started + timeout)
            if outcome == "timeout":
                message = f"{_now_iso()} {request_id} Task timed out after {timeout:.2f} seconds"
                payload = _error_payload("Sandbox.Timedout", message, request_id)
                output += f"{message}\n"
                return self._finish(function, request_id, log_stream, started, payload, True,
                                    output, write_logs)
            try:
                result = json.loads(result_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                message = (f"RequestId: {request_id} Error: Runtime exited with error: "
                           f"exit status {worker.process.poll()}")
                payload = _error_payload("Runtime.ExitError", message, request_id)
                return self._finish(function, request_id, log_stream, started, payload, True,
                                    output, write_logs)
            healthy = outcome == "done"
            if result.get("ok"):
                return self._finish(function, request_id, log_stream, started,
                                    result["payload"].encode("utf-8"), False, output, write_logs)
            error = dict(result["error"], requestId=request_id)
            return self._finish(function, request_id, log_stream, started,
                                json.dumps(error).encode("utf-8"), True, output, write_logs)
        finally:
            try:
                result_file.unlink()
            except OSError:
                pass
            self.pool.release(key, worker, healthy)

    def shutdown(self):
        self.pool.close()

    def check_service_permissions(self, function, log_stream):
        """Decide what Lambda does with the role for this run: raises ExecutionRoleDenied
        when the network interfaces of a VPC function are denied; returns whether the
        function's logs may be written."""
        denials = iam_enforcement.lambda_service_denials(function, log_stream)
        for denial in denials:
            if denial.action.startswith("ec2:"):
                name = denial.action.split(":", 1)[1]
                raise ExecutionRoleDenied(
                    f"The provided execution role does not have permissions to call {name} on EC2")
        return not any(denial.action.startswith("logs:") for denial in denials)

    def _finish(self, function, request_id, log_stream, started, payload, error, output,
                write_logs=True):
        duration_ms = (time.time() - started) * 1000
        log = (f"START RequestId: {request_id} Version: $LATEST\n{output}"
               f"END RequestId: {request_id}\n"
               f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
               f"Memory Size: {function.memory_size} MB\n")
        if write_logs:
            self._save_logs(function, log_stream, log)
        return InvocationResult(request_id, payload, error, log, duration_ms)

    @staticmethod
    def _save_logs(function, log_stream, log):
        backend = function.logs_backend
        backend.ensure_log_group(function.logs_group_name)
        backend.create_log_stream(function.logs_group_name, log_stream)
        now_ms = int(time.time() * 1000)
        events = [{"timestamp": now_ms, "message": line} for line in log.splitlines() if line]
        backend.put_log_events(function.logs_group_name, log_stream, events)

    # -- moto's entry point -----------------------------------------------------------------

    def invoke(self, function, body, request_headers, response_headers):
        """Replacement of LambdaFunction.invoke: same arguments, same return value."""
        event = json.loads(body) if body else {}
        invocation_type = header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            try:  # Lambda refuses the invocation itself when it may not create the ENIs
                self.check_service_permissions(function, "")
            except ExecutionRoleDenied as exc:
                from moto.awslambda.exceptions import InvalidParameterValueException

                raise InvalidParameterValueException(str(exc)) from None
            threading.Thread(target=self.run, args=(function, event), daemon=True,
                             name=f"lambda-event-{function.function_name}").start()
            return b""
        try:
            result = self.run(function, event)
        except ExecutionRoleDenied as exc:
            from moto.awslambda.exceptions import InvalidParameterValueException

            raise InvalidParameterValueException(str(exc)) from None
        if result.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        tail = result.log.encode("utf-8")[-LOG_TAIL_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        response_headers["x-amz-executed-version"] = "$LATEST"
        return result.payload


class FunctionCodeMissing(RuntimeError):
    pass


class ExecutionRoleDenied(RuntimeError):
    """Lambda may not do with the function's role what running it needs (its ENIs)."""


def _error_payload(kind, message, request_id):
    return json.dumps({"errorMessage": message, "errorType": kind, "requestId": request_id,
                       "stackTrace": []}).encode("utf-8")


def _now_iso():
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _log_stream_name(request_id):
    return time.strftime("%Y/%m/%d/", time.gmtime()) + "[$LATEST]" + request_id.replace("-", "")


_runner = None


def runner():
    global _runner
    if _runner is None:
        _runner = LambdaRunner(context.current())
    return _runner


def shutdown():
    """Stop the warm environments (the emulator is stopping)."""
    if _runner is not None:
        _runner.shutdown()


def patched_invoke(self, body, request_headers, response_headers):
    return runner().invoke(self, body, request_headers, response_headers)


def apply():
    from moto.awslambda.models import LambdaFunction

    LambdaFunction.invoke = patched_invoke
