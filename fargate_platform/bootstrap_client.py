"""The client of the rds stack's bootstrap function: what the `!db_bootstrap` hook and
`fargate-platform purge` both use to run it.

The function is invoked synchronously with its payload (`{"service", "action"}`, and
`confirm` for purge) and nothing else, exactly once: a client with retries off
(total_max_attempts 1) and a read timeout of the function's own Timeout (read with
GetFunctionConfiguration, once per run) plus READ_TIMEOUT_MARGIN seconds. botocore's
defaults (60 s read timeout, retried) would start the function again while the first run
still holds its locks; if the Timeout cannot be read (no permission), Lambda's maximum
(900 s) is assumed.

A function that is not Active (a VPC function unused for weeks goes Inactive) is brought
back first: one invoke that Lambda refuses while the function reactivates (an empty event,
which the function would refuse too), then a bounded wait for Active (wait_until_active).

A FunctionError raises with the function's errorType and errorMessage (the function never
puts secrets in them); throttling, an unknown function, an unreachable Lambda API or no
answer in time each raise their own secret-free message. describe_result() says what was
done in one line, never a password.
"""
import json
import threading
import time

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from sceptre.connection_manager import ConnectionManager
from sceptre.exceptions import SceptreException

READ_TIMEOUT_MARGIN = 30  # seconds beyond the function's Timeout, for cold start and network
CONNECT_TIMEOUT = 10
LAMBDA_MAX_TIMEOUT = 900
ACTIVATION_TIMEOUT = 300  # seconds Lambda may take to bring an Inactive function back
ACTIVATION_POLL = 5
STATUS_WORDS = {  # the function's statuses, as the operator reads them
    "created": "created",
    "present": "already present",
    "restored": "restored (LOGIN again)",
    "disabled": "disabled (NOLOGIN, data kept)",
    "kept": "kept",
    "absent": "absent",
    "purged": "purged",
    "deleted": "deleted",
}


# boto3 sessions are not safe to create clients from concurrently, and Sceptre runs the
# hooks of a launch batch on a thread pool: take the lock Sceptre itself holds while it
# creates clients from these same sessions (a private attribute of the pinned 4.7).
_client_lock = getattr(ConnectionManager, "_client_lock", None) or threading.Lock()


class DbBootstrapError(SceptreException):
    """The bootstrap function could not be run, or it failed."""


# One client per (session, read timeout) for the process: every service's hook of a
# launch shares it instead of building its own under the lock above, one at a time.
_lambda_clients = {}


def lambda_client(session, read_timeout):
    """A Lambda client that makes one attempt and waits `read_timeout` seconds for the answer."""
    with _client_lock:
        client = _lambda_clients.get((session, read_timeout))
        if client is None:
            config = Config(
                read_timeout=read_timeout,
                connect_timeout=CONNECT_TIMEOUT,
                retries={"total_max_attempts": 1, "mode": "standard"},
            )
            client = _lambda_clients[(session, read_timeout)] = session.client("lambda", config=config)
        return client


def read_configuration(call, function):
    """The function's configuration ({} if it may not be read). `call(command, kwargs)` is a
    lambda call."""
    try:
        return call("get_function_configuration", {"FunctionName": function})
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise DbBootstrapError(f"the bootstrap function {function} does not exist") from None
        if "AccessDenied" in code:
            return {}
        raise DbBootstrapError(f"could not read the configuration of {function}: {code}") from None
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        raise DbBootstrapError(
            f"the Lambda API could not be reached to read the configuration of {function}: {error}"
        ) from None


def timeout_of(configuration):
    """The configured Timeout in seconds; Lambda's maximum if it could not be read (wait as
    long as any function may run)."""
    return int(configuration.get("Timeout", LAMBDA_MAX_TIMEOUT))


def state_of(configuration):
    """The function's State; Active where none was read (no permission, or an old API)."""
    return configuration.get("State", "Active")


def function_timeout(call, function):
    """The function's configured Timeout in seconds (see timeout_of)."""
    return timeout_of(read_configuration(call, function))


def wait_until_active(call, client, function, configuration, clock=time):
    """Bring the function to the Active state, or raise DbBootstrapError.

    A function in a VPC that no one invoked for weeks goes Inactive (Lambda reclaims its
    network interfaces) and reactivates only when invoked; that first invoke is refused
    while it does. So: one invoke with an empty event (Lambda refuses it while the function
    reactivates; were it already back, the function refuses an empty event before doing
    anything), then GetFunctionConfiguration every ACTIVATION_POLL seconds until Active, at
    most ACTIVATION_TIMEOUT seconds. A function still Pending after its creation waits too.
    """
    state = state_of(configuration)
    if state == "Inactive":
        try:
            client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=b"{}")
        except (ClientError, BotoCoreError):
            pass  # refused while it reactivates: the invoke that starts it
    deadline = clock.monotonic() + ACTIVATION_TIMEOUT
    while state not in ("Active", "Failed"):
        if clock.monotonic() >= deadline:
            raise DbBootstrapError(
                f"the bootstrap function {function} did not become Active within "
                f"{ACTIVATION_TIMEOUT} s (state {state}): Lambda is still bringing it back; "
                "launch again in a few minutes") from None
        clock.sleep(ACTIVATION_POLL)
        configuration = read_configuration(call, function)
        state = state_of(configuration)
    if state == "Failed":
        reason = " ".join(filter(None, (configuration.get("StateReasonCode"),
                                        configuration.get("StateReason"))))
        raise DbBootstrapError(f"the bootstrap function {function} is in state Failed: {reason}")


def read_timeout_for(timeout):
    return timeout + READ_TIMEOUT_MARGIN


def invoke(client, function, payload):
    """Invoke once and return the decoded result, or raise DbBootstrapError (secret-free)."""
    what = f"the bootstrap function {function} ({payload['action']} service {payload['service']})"
    try:
        response = client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in ("TooManyRequestsException", "ThrottlingException"):
            raise DbBootstrapError(
                f"Lambda throttled {what} ({code}); it did not run: launch again later"
            ) from None
        if code == "ResourceNotFoundException":
            raise DbBootstrapError(f"{what}: the function does not exist") from None
        raise DbBootstrapError(f"Lambda refused to invoke {what}: {code}: {message}") from None
    except ReadTimeoutError:
        raise DbBootstrapError(
            f"no answer from {what} within {client.meta.config.read_timeout} s; it may still be "
            "running: check its log, then launch again (the bootstrap is idempotent)"
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError):
        raise DbBootstrapError(
            f"the Lambda API at {client.meta.endpoint_url} could not be reached to run {what}"
        ) from None
    except BotoCoreError as error:
        raise DbBootstrapError(f"could not invoke {what}: {type(error).__name__}: {error}") from None

    body = response["Payload"].read()
    try:
        result = json.loads(body) if body else None
    except ValueError:
        result = None
    if response.get("FunctionError"):
        if isinstance(result, dict):
            detail = f"{result.get('errorType', 'Error')}: {result.get('errorMessage', '')}"
        else:
            detail = "the function returned no error message"
        raise DbBootstrapError(f"{what} failed: {detail}")
    if not isinstance(result, dict):
        raise DbBootstrapError(f"{what} returned no JSON object")
    return result


def safe_result(result):
    """The result without anything that could be a secret (the function sends none; belt and braces)."""
    return {
        key: value
        for key, value in result.items()
        if not (("password" in key or "secret" in key) and not key.endswith("_parameter"))
    }


def describe_result(result):
    """One line saying what the function did, without secrets.

    The function answers statuses: `role`, `database` and `parameters` (created, present,
    restored, disabled, kept, absent, purged, deleted) beside `role_name`, `database_name`
    and the two SSM parameter names.
    """
    result = safe_result(result)
    service = result.get("service")

    def word(status):
        return STATUS_WORDS.get(status, status)

    parts = []
    if "role" in result:
        parts.append(f"role {result.get('role_name', '')} {word(result['role'])}".replace("  ", " "))
    if "database" in result:
        parts.append(f"database {result.get('database_name', '')} {word(result['database'])}".replace("  ", " "))
    text = f"service {service}: " + ", ".join(parts)
    if result.get("username_parameter") or result.get("password_parameter"):
        credentials = f"credentials {result.get('username_parameter')} and {result.get('password_parameter')}"
        if "parameters" in result:
            credentials += f" {word(result['parameters'])}"
        text += f"; {credentials}"
    return text


# The function's Timeout, read once per (session, function) for the process (and the
# function made Active then): a launch of N services makes one GetFunctionConfiguration
# call, not N. The services' hooks run on a thread pool, so the first reader holds the lock
# while the others wait for its answer.
_function_timeouts = {}
_function_timeouts_lock = threading.Lock()


def ready_function_timeout(session, call, function):
    """The function's Timeout, once it is Active (see wait_until_active)."""
    with _function_timeouts_lock:
        key = (session, function)
        if key not in _function_timeouts:
            configuration = read_configuration(call, function)
            timeout = timeout_of(configuration)
            if state_of(configuration) != "Active":
                wait_until_active(call, lambda_client(session, read_timeout_for(timeout)),
                                  function, configuration)
            _function_timeouts[key] = timeout
        return _function_timeouts[key]


def run_function(session, call, function, payload):
    """Make sure the function is Active and read its timeout, then invoke it once with a
    client that waits long enough."""
    timeout = ready_function_timeout(session, call, function)
    client = lambda_client(session, read_timeout_for(timeout))
    return invoke(client, function, payload)
