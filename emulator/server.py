"""Serves moto's WSGI application on 127.0.0.1, plus the emulator's own few requests.

Requests under /_fargate_platform/ are the emulator's (unsigned, not judged); everything
else is counted (api_calls.py), judged by IAM when a role's credentials signed it
(iam_enforcement.py: a denied request gets the service's AccessDenied error, an unknown
key InvalidClientTokenId), and then goes to moto's DomainDispatcherApplication unchanged:

    PUT  /_fargate_platform/cfn-response/<RequestId>   a custom resource's answer
    PUT  /_fargate_platform/wait-condition/<token>     a wait condition's signal (wait_conditions.py)
    GET  /_fargate_platform/health                     {"status": "ok", ...}
    GET  /_fargate_platform/postgres                   the PostgreSQL server's facts
    POST /_fargate_platform/postgres                   start it if it is not running
    GET  /_fargate_platform/listeners                  the ALB listeners served on 127.0.0.1 (alb_front.py)
    GET  /_fargate_platform/iam-decisions              the requests roles signed, by role, action, outcome
    GET  /_fargate_platform/api-calls                  the AWS calls served, by operation
    DELETE /_fargate_platform/api-calls                the same, then zero (api_calls.py)
"""
import json
import os
import signal
import sys
import threading

from fargate_platform.errors import PlatformError
from emulator import custom_resources
from emulator.api_calls import ApiCallCounter
from emulator import iam_enforcement
from emulator.iam_enforcement import Enforcer

CONTROL_PREFIX = "/_fargate_platform/"
LISTEN_HOST = "127.0.0.1"  # never another interface: the emulator has no authentication


class EmulatorApp:
    """WSGI: the emulator's control requests, then moto."""

    def __init__(self, moto_app, emulator):
        self.moto_app = moto_app
        self.emulator = emulator
        self.api_calls = ApiCallCounter()
        self.iam = Enforcer()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            self.api_calls.record(environ)
            refused = self.iam.check(environ)  # IAM, as AWS decides it (iam_enforcement.py)
            if refused is not None:
                status, headers, body = refused
                start_response(status, headers)
                return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []
            return self.moto_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        status, document = self.control(method, path[len(CONTROL_PREFIX):], environ)
        body = json.dumps(document).encode("utf-8")
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def control(self, method, route, environ):
        if route.startswith("cfn-response/") and method in ("PUT", "POST"):
            status = custom_resources.record_response(route.split("/", 1)[1], _body(environ))
            return status, {}
        if route.startswith("wait-condition/") and method == "PUT":
            from emulator import wait_conditions

            return wait_conditions.record_signal(route.split("/", 1)[1], _body(environ),
                                                 environ.get("CONTENT_TYPE", ""))
        if route == "health" and method == "GET":
            import moto

            return 200, {"status": "ok", "pid": os.getpid(), "moto_version": moto.__version__,
                         "state_dir": str(self.emulator.state_dir),
                         "endpoint_url": self.emulator.endpoint_url}
        if route.startswith("task-credentials/"):  # a local task's role (tasks.py), ECS's shape
            from emulator import tasks

            found = tasks.SUPERVISOR.credentials(route.split("/", 1)[1]) if method == "GET" else None
            if found is None:
                return 404, {"code": "NotFound", "message": "no running task has these credentials"}
            return 200, found
        if route == "listeners" and method == "GET":
            from emulator import alb_front

            return 200, {"listeners": alb_front.FRONT.listeners()}
        if route == "iam-decisions" and method == "GET":
            return 200, iam_enforcement.DECISIONS.snapshot()
        if route == "api-calls" and method in ("GET", "DELETE"):
            return 200, self.api_calls.snapshot(reset=method == "DELETE")
        if route == "postgres" and method in ("GET", "POST"):
            try:
                if method == "POST":
                    self.emulator.database.ensure_running()
                return 200, self.emulator.database.describe()
            except PlatformError as exc:  # the user's to fix: the message says how
                return 500, {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                return 500, {"error": f"{type(exc).__name__}: {exc}"}
        return 404, {"error": f"unknown request {method} {CONTROL_PREFIX}{route}"}


def _body(environ):
    """The request's body (empty without a Content-Length)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _start_database(emulator):
    try:
        emulator.database.ensure_running()
    except Exception as exc:  # noqa: BLE001 - logged; POST /_fargate_platform/postgres retries
        print(f"PostgreSQL did not start: {exc}", file=sys.stderr, flush=True)


def serve(emulator, start_postgres=True):
    """Apply the patches, start PostgreSQL (unless lazy), serve until SIGTERM/SIGINT."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from emulator import data_plane, patches

    patches.apply_all()
    if start_postgres:
        # In the background: requests that need the server wait for it (its lock),
        # the others are served meanwhile.
        threading.Thread(target=_start_database, args=(emulator,), daemon=True).start()
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app), emulator)
    server = make_server(LISTEN_HOST, emulator.port, app, threaded=True,
                         request_handler=MotoRequestHandler)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return: not from this (main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    data_plane.start(emulator)
    print(f"fargate-platform emulator ready on {emulator.endpoint_url} "
          f"(state {emulator.state_dir})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        data_plane.stop()
        from emulator import lambda_runner

        lambda_runner.shutdown()
        emulator.database.stop()
        print("fargate-platform emulator stopped", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - use `python -m emulator`
    sys.exit("run: python -m emulator --port P --state-dir D")
