"""Counts the AWS API calls the emulator serves, by `service:Operation`, so that a launch's
calls can be measured (benchmarks/local_platform.py) and shown to grow linearly.

    GET    /_fargate_platform/api-calls     {"total": N, "calls": {"cloudformation:DescribeStacks": n, ...}}
    DELETE /_fargate_platform/api-calls     the same, then zero

Every signed request counts (Sceptre's, the hooks' and resolvers', and the Lambda
functions' own calls, which also reach the emulator over HTTP); CloudFormation's work
inside the emulator makes no request and does not count. The service is the signature's
credential scope; the operation is the JSON protocols' X-Amz-Target, the query protocols'
Action, or, for the REST APIs the platform calls (Lambda, S3), read from method and path.
"""
import io
import re
import threading
from collections import Counter
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_LAMBDA = [  # (method, path pattern, operation) of the Lambda REST API
    ("POST", re.compile(r"^/2015-03-31/functions/[^/]+/invocations$"), "Invoke"),
    ("GET", re.compile(r"^/2015-03-31/functions/[^/]+/configuration$"), "GetFunctionConfiguration"),
    ("PUT", re.compile(r"^/2015-03-31/functions/[^/]+/configuration$"), "UpdateFunctionConfiguration"),
    ("GET", re.compile(r"^/2015-03-31/functions/[^/]+$"), "GetFunction"),
]
_S3_OBJECT = {"HEAD": "HeadObject", "GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
_S3_BUCKET = {"HEAD": "HeadBucket", "GET": "ListObjects", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}


def operation(environ):
    """`service:Operation` of a WSGI request, or None for an unsigned one. May replace
    environ["wsgi.input"] (the body is read to find a query protocol's Action)."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return None
    service = scope.group(1)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    action = _query_action(environ)
    if action:
        return f"{service}:{action}"
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    if service == "lambda":
        for verb, pattern, name in _LAMBDA:
            if verb == method and pattern.match(path):
                return f"lambda:{name}"
    if service == "s3":
        has_key = len([part for part in path.split("/") if part]) > 1
        name = (_S3_OBJECT if has_key else _S3_BUCKET).get(method)
        if name:
            return f"s3:{name}"
    return f"{service}:{method} {path}"


def _query_action(environ):
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return action[0] if action else None
    return None


class ApiCallCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = Counter()

    def record(self, environ):
        name = operation(environ)
        if name:
            with self._lock:
                self._counts[name] += 1

    def snapshot(self, reset=False):
        with self._lock:
            counts = dict(sorted(self._counts.items()))
            if reset:
                self._counts.clear()
        return {"total": sum(counts.values()), "calls": counts}
