"""Patch 7: a log group's data protection policy masks what it names, as CloudWatch Logs does.

moto behaviour replaced:
- `moto.logs.models.LogGroup.create_from_cloudformation_json` drops an
  AWS::Logs::LogGroup's `DataProtectionPolicy`, and moto has no data protection at all:
  every reader sees every event as it was written.

What runs instead:
- The policy is kept on the log group. Events ingested while it is set are masked at
  ingestion, as AWS does (events ingested before it are not): each match of a data
  identifier its `Deidentify` statement names is replaced by asterisks. GetLogEvents and
  FilterLogEvents return the masked text, unless the request sets `unmask` (the IAM layer
  then requires `logs:Unmask` of a role, fargate_platform.aws_requests; the operator is
  an administrator).
- The identifiers: those the platform's policies name (templates/common.py
  PERSONAL_DATA_IDENTIFIERS), each matched the way AWS documents it; an identifier this
  module does not know is refused when the policy is set, never ignored.
"""
import re
import threading

# AWS managed data identifiers -> a pattern of what they match (AWS needs a keyword
# nearby for a secret key; the key blocks are matched whole).
IDENTIFIERS = {
    "EmailAddress": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "IpAddress": re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
    "CreditCardNumber": re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)"),
    "AwsSecretKey": re.compile(r"(?i)(?<=aws.secret.access.key)[\s\"':=]{1,5}([A-Za-z0-9/+=]{40})"),
    "OpenSshPrivateKey": re.compile(r"-----BEGIN OPENSSH PRIVATE KEY-----[\s\S]*?-----END OPENSSH PRIVATE KEY-----"),
    "PgpPrivateKey": re.compile(r"-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?-----END PGP PRIVATE KEY BLOCK-----"),
    "PkcsPrivateKey": re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----[\s\S]*?-----END (?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "PuttyPrivateKey": re.compile(r"PuTTY-User-Key-File-\d+:[\s\S]*?Private-MAC: [0-9a-f]+"),
}
_reading = threading.local()  # .unmask: the request being answered asked to unmask


class UnknownDataIdentifier(ValueError):
    """A policy names an identifier this emulator cannot match: refused, never ignored."""


def masked_identifiers(policy):
    """The identifier names a policy's Deidentify statements mask."""
    found = []
    for statement in (policy or {}).get("Statement", []):
        if "Deidentify" not in statement.get("Operation", {}):
            continue
        for arn in statement.get("DataIdentifier", []):
            name = str(arn).rsplit("/", 1)[-1]
            if name not in IDENTIFIERS:
                raise UnknownDataIdentifier(f"data identifier {name} is not one the local emulator can mask "
                                            f"(it knows {', '.join(sorted(IDENTIFIERS))})")
            found.append(name)
    return found


def _luhn(digits):
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask(message, identifiers):
    """`message` with every match of `identifiers` replaced by as many asterisks."""
    for name in identifiers:
        def stars(match, name=name):
            text = match.group(match.lastindex or 0)
            if name == "CreditCardNumber" and not _luhn(re.sub(r"\D", "", text)):
                return match.group(0)
            start, end = match.span(match.lastindex or 0)
            whole = match.group(0)
            offset = start - match.start()
            return whole[:offset] + "*" * (end - start) + whole[offset + (end - start):]

        message = IDENTIFIERS[name].sub(stars, message)
    return message


def create_log_group(original):
    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        policy = cloudformation_json["Properties"].get("DataProtectionPolicy")
        masked_identifiers(policy)  # an identifier it cannot mask fails the resource
        group = original.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        group.data_protection_policy = policy
        return group

    create.__wrapped__ = original
    return classmethod(create)


def wrap_put_log_events(original):
    def put_log_events(self, log_events):
        result = original(self, log_events)
        identifiers = masked_identifiers(getattr(self.log_group, "data_protection_policy", None))
        if identifiers:
            for event in self.events[-len(log_events):]:
                event.masked_message = mask(event.message, identifiers)
        return result

    put_log_events.__wrapped__ = original
    return put_log_events


def wrap_event_view(original):
    """LogEvent.to_response_dict / to_filter_dict: the masked text unless unmask was asked."""

    def view(self):
        shown = original(self)
        masked = getattr(self, "masked_message", None)
        if masked is not None and not getattr(_reading, "unmask", False):
            shown = dict(shown, message=masked)
        return shown

    view.__wrapped__ = original
    return view


def wrap_read(original):
    """LogsResponse.get_log_events / filter_log_events: note the request's `unmask`."""

    def read(self):
        _reading.unmask = bool(self._get_param("unmask", False))
        try:
            return original(self)
        finally:
            _reading.unmask = False

    read.__wrapped__ = original
    return read


def apply():
    from moto.logs.models import LogEvent, LogGroup, LogStream
    from moto.logs.responses import LogsResponse

    LogGroup.create_from_cloudformation_json = create_log_group(LogGroup.create_from_cloudformation_json)
    LogStream.put_log_events = wrap_put_log_events(LogStream.put_log_events)
    LogEvent.to_response_dict = wrap_event_view(LogEvent.to_response_dict)
    LogEvent.to_filter_dict = wrap_event_view(LogEvent.to_filter_dict)
    LogsResponse.get_log_events = wrap_read(LogsResponse.get_log_events)
    LogsResponse.filter_log_events = wrap_read(LogsResponse.filter_log_events)
