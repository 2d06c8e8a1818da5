"""The bootstrap function's event: one service, one action, and for purge the confirmation."""
from dataclasses import dataclass

from fargate_platform import names
from fargate_platform.lambdas.db_bootstrap.errors import InvalidRequest

ACTIONS = ("ensure", "disable", "purge")
EVENT_FIELDS = ("service", "action", "confirm")


@dataclass(frozen=True)
class Request:
    service: str
    action: str = "ensure"
    confirm: str = None


def shown(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def parse_event(event):
    """The Request in an event, or InvalidRequest. Nothing but the service name, the
    action and (for purge) the confirmation is accepted."""
    if not isinstance(event, dict):
        raise InvalidRequest(
            'the event must be a JSON object such as {"service": "orders", "action": "ensure"}, '
            f"not {type(event).__name__}"
        )
    extra = sorted(shown(key, 40) for key in event if key not in EVENT_FIELDS)
    if extra:
        raise InvalidRequest(
            f"event field(s) {', '.join(extra)} refused: the function takes only 'service', "
            "'action' and 'confirm' (for purge); its database, keys and paths come from its own "
            "configuration"
        )
    if "service" not in event:
        raise InvalidRequest("the event has no 'service'")
    service = event["service"]
    try:
        names.validate_service_name(service)
    except names.InvalidNameError as error:
        raise InvalidRequest(str(error) if len(str(error)) < 300 else f"invalid service name {shown(service)}") from None
    if not names.SERVICE_NAME_PATTERN.fullmatch(service):  # '$' alone lets a trailing newline through
        raise InvalidRequest(f"invalid service name {shown(service)}")
    action = event.get("action", "ensure")
    if action not in ACTIONS:
        raise InvalidRequest(f"invalid action {shown(action)}: use one of {', '.join(ACTIONS)}")
    confirm = event.get("confirm")
    if action != "purge" and "confirm" in event:
        raise InvalidRequest("'confirm' is only accepted with action 'purge'")
    if action == "purge" and confirm != service:
        raise InvalidRequest(
            f"purge of service {service!r} drops its database and deletes its credentials: "
            f'repeat the service name as "confirm": "{service}" to proceed'
        )
    return Request(service=service, action=action, confirm=confirm)
