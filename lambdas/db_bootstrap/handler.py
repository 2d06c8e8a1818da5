"""Lambda entry point of the database bootstrap function (rds stack).

Thin on purpose: the event is checked first, then the configuration is read from the
function's environment (set by the rds template), then `bootstrap.py` does the work.
Errors are raised, so the caller sees a Lambda FunctionError with the message.
"""
import os
import time

from fargate_platform.lambdas.db_bootstrap.bootstrap import Bootstrapper
from fargate_platform.lambdas.db_bootstrap.errors import BootstrapError, ConfigurationError, InvalidRequest
from fargate_platform.lambdas.db_bootstrap.request import parse_event
from fargate_platform.lambdas.db_bootstrap.settings import Settings
from fargate_platform.lambdas.shared.aws import aws_client
from fargate_platform.lambdas.shared.structured_log import StructuredLog, quiet_libraries

# Stop retrying this long before the Lambda deadline, so the error is ours, not a timeout.
DEADLINE_MARGIN_SECONDS = 5.0
DEFAULT_BUDGET_SECONDS = 55.0  # without a Lambda context (direct calls)


def handler(event, context):
    with quiet_libraries():
        return _handle(event, context)


def _handle(event, context):
    started = time.monotonic()
    log = StructuredLog(function="db-bootstrap", invocation=getattr(context, "aws_request_id", None))
    try:
        request = parse_event(event)
        log.bind(service=request.service, action=request.action)
        settings = Settings.from_environ(os.environ)
        getter = getattr(context, "get_remaining_time_in_millis", None)
        budget = getter() / 1000.0 if getter else DEFAULT_BUDGET_SECONDS
        deadline = started + max(1.0, budget - DEADLINE_MARGIN_SECONDS)
        # SSM answers in milliseconds: short waits keep a stuck call within the deadline.
        ssm = aws_client("ssm", connect_timeout=3, read_timeout=5, max_attempts=3)
        result = Bootstrapper(settings, ssm, log=log, deadline=deadline).run(request)
    except (InvalidRequest, ConfigurationError, BootstrapError) as error:
        log.error("bootstrap refused or failed", error_type=type(error).__name__, error=str(error))
        raise
    except Exception as error:  # unexpected: same contract, a clear masked message
        log.error("bootstrap failed", error_type=type(error).__name__, error=str(error))
        raise BootstrapError(log.mask(f"{type(error).__name__}: {error}")) from None
    log.info("bootstrap done", result=result, seconds=round(time.monotonic() - started, 3))
    return result
