"""A small runtime for Lambda-backed CloudFormation custom resources.

Why our own and not a library: a custom resource that never answers leaves its stack
waiting (up to an hour without ServiceTimeout), and one that logs its request leaks
whatever the properties carry. crhelper logs whole requests at DEBUG and sleeps 120 s
on Delete by default; cfn-response answers only when the code reaches it. This module
is about 300 lines of standard library that we can test on every path:

- the event is parsed and the properties validated before any work starts;
- exactly one answer (SUCCESS or FAILED) is PUT to the ResponseURL on every path:
  success, exception, invalid properties, and a timer that answers FAILED shortly
  before the Lambda's deadline when the work has not finished;
- the PhysicalResourceId is stable: the resource computes it from its properties, and
  a failed Update answers with the id CloudFormation sent;
- a failed Create answers with a marker id, so the Delete CloudFormation sends while
  rolling back is recognised and answered SUCCESS without touching anything;
- the answer's PUT is retried (bounded by the deadline);
- log lines are JSON, with secret-looking keys masked, registered secret values
  replaced, and the ResponseURL's signature (it grants the right to answer) removed.

Standard library only: the zip carries no dependency for it.
"""
import json
import re
import threading
import time
import urllib.error
import urllib.request

from fargate_platform.lambdas.shared.structured_log import MASK, StructuredLog, quiet_libraries, redact_url

RESPONSE_BODY_LIMIT = 4096  # CloudFormation rejects larger custom-resource answers
FAILED_CREATE_PREFIX = "failed-create:"
DEFAULT_DEADLINE_SECONDS = 30.0  # when called without a Lambda context (local runs)
SERVICE_PROPERTIES = ("ServiceToken", "ServiceTimeout")  # CloudFormation's own, not the resource's
REQUEST_TYPES = ("Create", "Update", "Delete")
REQUIRED_EVENT_FIELDS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")


# -- properties --------------------------------------------------------------------------


class InvalidProperties(ValueError):
    """The resource's properties are wrong: nothing was done."""


def check_properties(properties, required, optional=None):
    """Validate a properties dict against {name: validator}; validators return the clean
    value or raise ValueError. Unknown properties are refused, not ignored."""
    optional = optional or {}
    if not isinstance(properties, dict):
        raise InvalidProperties("ResourceProperties must be a mapping")
    unknown = sorted(set(properties) - set(required) - set(optional))
    if unknown:
        raise InvalidProperties(
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(set(required) | set(optional)))}"
        )
    clean = {}
    for name, validator in list(required.items()) + list(optional.items()):
        if name not in properties:
            if name in required:
                raise InvalidProperties(f"missing property {name}")
            continue
        try:
            clean[name] = validator(properties[name])
        except (TypeError, ValueError) as error:
            raise InvalidProperties(f"invalid property {name}: {error}") from None
    return clean


def pattern_validator(pattern, description, max_length):
    compiled = re.compile(pattern)

    def validate(value):
        if not isinstance(value, str):
            raise ValueError(f"expected a string ({description})")
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {description}")
        return value

    return validate


# -- the runtime -------------------------------------------------------------------------


class Result:
    """What a successful Create/Update returns: the physical id and the Data for GetAtt."""

    def __init__(self, physical_id, data=None, no_echo=False):
        self.physical_id = physical_id
        self.data = data or {}
        self.no_echo = no_echo  # True masks Data in CloudFormation's console and API output


class Request:
    """One custom-resource event, parsed. Handed to the resource's operations."""

    def __init__(self, event, log, deadline):
        self.request_type = event["RequestType"]
        self.response_url = event["ResponseURL"]
        self.stack_id = event["StackId"]
        self.request_id = event["RequestId"]
        self.logical_id = event["LogicalResourceId"]
        self.physical_id = event.get("PhysicalResourceId")
        self.raw_properties = _without_service_properties(event.get("ResourceProperties"))
        self.raw_old_properties = _without_service_properties(event.get("OldResourceProperties"))
        self.old_properties = None  # validated old properties (Update), when valid
        self.log = log
        self.deadline = deadline

    def remaining_seconds(self):
        return self.deadline - time.monotonic()


def _without_service_properties(properties):
    if not isinstance(properties, dict):
        return properties if properties is not None else {}
    return {key: value for key, value in properties.items() if key not in SERVICE_PROPERTIES}


class Responder:
    """Sends the one answer of a request; later attempts are refused and logged."""

    def __init__(self, request, attempts=5, backoff=0.25):
        self._request = request
        self._lock = threading.Lock()
        self._answered = False
        self._attempts = attempts
        self._backoff = backoff
        self.sent_status = None

    @property
    def answered(self):
        return self._answered

    def send(self, status, reason, physical_id, data=None, no_echo=False):
        with self._lock:
            if self._answered:
                self._request.log.warning(
                    "answer already sent; this one is dropped", dropped_status=status,
                    dropped_reason=reason, sent_status=self.sent_status,
                )
                return False
            self._answered = True
            self.sent_status = status
        request, log = self._request, self._request.log
        reason = log.mask(reason or status)
        body = {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical_id,
            "StackId": request.stack_id,
            "RequestId": request.request_id,
            "LogicalResourceId": request.logical_id,
            "NoEcho": bool(no_echo),
            "Data": data or {},
        }
        encoded = json.dumps(body).encode("utf-8")
        if len(encoded) > RESPONSE_BODY_LIMIT:
            spare = len(encoded) - RESPONSE_BODY_LIMIT + 20
            body["Reason"] = reason[: max(0, len(reason) - spare)] + " [truncated]"
            encoded = json.dumps(body).encode("utf-8")
        log.info(
            "answering CloudFormation", status=status, reason=body["Reason"],
            physical_resource_id=physical_id,
            data=MASK if no_echo else (data or {}),
            response_url=redact_url(request.response_url),
        )
        return self._put(encoded)

    def _put(self, encoded):
        log = self._request.log
        for attempt in range(1, self._attempts + 1):
            remaining = self._request.remaining_seconds()
            timeout = max(0.2, min(5.0, remaining - 0.1))
            http_request = urllib.request.Request(
                self._request.response_url, data=encoded, method="PUT",
                # The presigned URL is signed without a content type: send an empty one.
                headers={"Content-Type": "", "Content-Length": str(len(encoded))},
            )
            try:
                with urllib.request.urlopen(http_request, timeout=timeout) as response:
                    response.read()
                log.info("answer delivered", attempt=attempt, http_status=response.status)
                return True
            except urllib.error.HTTPError as error:
                retryable = error.code >= 500 or error.code in (408, 429)
                problem = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError) as error:
                retryable = True
                problem = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            log.warning("answer not delivered", attempt=attempt, problem=problem)
            pause = self._backoff * (2 ** (attempt - 1))
            if not retryable or attempt == self._attempts or self._request.remaining_seconds() < pause + 0.3:
                break
            time.sleep(pause)
        log.error("giving up delivering the answer to CloudFormation")
        return False


class CustomResource:
    """Base class of a custom resource. Subclasses implement:

    validate(properties) -> dict        raise InvalidProperties; runs before anything else
    create(properties, request) -> Result
    update(properties, request) -> Result      request.old_properties (None when they no
                                               longer validate: see request.raw_old_properties),
                                               request.physical_id
    delete(properties, request) -> None

    The handler is `resource.handle(event, context)`.
    """

    name = "custom-resource"
    # The timer answers FAILED this long before the Lambda's deadline (at most a
    # quarter of the time the invocation had), leaving time for the answer's PUT.
    timeout_margin_seconds = 4.0

    def validate(self, properties):
        raise NotImplementedError

    def create(self, properties, request):
        raise NotImplementedError

    def update(self, properties, request):
        raise NotImplementedError

    def delete(self, properties, request):
        raise NotImplementedError

    def handle(self, event, context=None):
        started = time.monotonic()
        remaining = _remaining_seconds(context)
        deadline = started + remaining
        log = StructuredLog(function=self.name, invocation=getattr(context, "aws_request_id", None))
        if not isinstance(event, dict) or any(
            not isinstance(event.get(field), str) or not event.get(field) for field in REQUIRED_EVENT_FIELDS
        ):
            # Without a ResponseURL nobody can be answered: fail the invocation loudly.
            log.error("not a CloudFormation custom-resource event", event=_describe_event(event))
            raise ValueError(
                f"not a CloudFormation custom-resource event: needs {', '.join(REQUIRED_EVENT_FIELDS)}"
            )
        request = Request(event, log, deadline)
        log.bind(request_type=request.request_type, logical_resource_id=request.logical_id,
                 request_id=request.request_id)
        log.info(
            "request received", stack_id=request.stack_id, physical_resource_id=request.physical_id,
            properties=request.raw_properties, old_properties=request.raw_old_properties or None,
            response_url=redact_url(request.response_url), remaining_seconds=round(remaining, 3),
        )
        responder = Responder(request)
        margin = min(self.timeout_margin_seconds, remaining / 4)
        guard = threading.Timer(
            max(0.0, remaining - margin),
            lambda: responder.send(
                "FAILED",
                f"{self.name}: timed out, no result {margin:.1f} s before the Lambda deadline",
                self._failure_physical_id(request),
            ),
        )
        guard.daemon = True
        guard.start()
        try:
            with quiet_libraries():
                self._dispatch(request, responder)
        finally:
            guard.cancel()
            # cancel() does not stop a timer that already fired: wait for its answer's
            # PUT, or Lambda freezes the process with the answer in flight.
            guard.join()
        return {"Status": responder.sent_status, "RequestId": request.request_id}

    def _dispatch(self, request, responder):
        log = request.log
        if request.request_type not in REQUEST_TYPES:
            responder.send("FAILED", f"unknown RequestType {request.request_type!r}",
                           self._failure_physical_id(request))
            return
        if request.request_type == "Delete" and (request.physical_id or "").startswith(FAILED_CREATE_PREFIX):
            log.info("Delete of a resource whose Create failed: nothing to do")
            responder.send("SUCCESS", "nothing was created", request.physical_id)
            return
        try:
            properties = self.validate(request.raw_properties)
            if request.request_type == "Update":
                try:
                    request.old_properties = self.validate(request.raw_old_properties)
                except InvalidProperties as error:
                    # The rules changed since: the resource compares the raw old values.
                    log.info("old properties no longer validate", error=str(error))
                    request.old_properties = None
        except InvalidProperties as error:
            if request.request_type == "Delete":
                # The rules or the function's configuration changed since Create: a FAILED
                # Delete would block the stack's deletion for good, so do nothing.
                log.warning("properties no longer validate: nothing deleted", error=str(error))
                responder.send("SUCCESS", "properties no longer validate: nothing deleted", request.physical_id)
                return
            responder.send("FAILED", f"{self.name}: {error}", self._failure_physical_id(request))
            return
        try:
            if request.request_type == "Create":
                result = self.create(properties, request)
            elif request.request_type == "Update":
                result = self.update(properties, request)
            else:
                self.delete(properties, request)
                result = Result(request.physical_id)
        except Exception as error:  # every failure is an answer, never a hang
            log.error("operation failed", error_type=type(error).__name__, error=str(error))
            responder.send("FAILED", f"{self.name}: {type(error).__name__}: {error}",
                           self._failure_physical_id(request))
            return
        if responder.answered:
            log.warning("result arrived after the timeout answer; CloudFormation was told FAILED")
            return
        responder.send("SUCCESS", "OK", result.physical_id, result.data, result.no_echo)

    @staticmethod
    def _failure_physical_id(request):
        if request.request_type == "Create" or not request.physical_id:
            return f"{FAILED_CREATE_PREFIX}{request.logical_id}:{request.request_id}"
        return request.physical_id


def _remaining_seconds(context):
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return DEFAULT_DEADLINE_SECONDS
    return max(0.0, getter() / 1000.0)


def _describe_event(event):
    if isinstance(event, dict):
        return {"fields": sorted(str(key) for key in event)}
    return {"type": type(event).__name__}
