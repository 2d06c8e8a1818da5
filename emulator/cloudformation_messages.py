"""Patch 15a: CloudFormation's own answers to a malformed template, and to a gone notification topic.

moto behaviour replaced:
- `CloudFormationBackend.create_stack` took a template that does not parse, or is not a
  mapping, as an internal error (HTTP 500), and one whose `Resources` is empty or null as
  an empty stack (CREATE_COMPLETE); `update_stack` took a template without `Resources` and
  failed in the background (KeyError 'Resources'); `validate_template` handed cfn-lint's
  first finding to a ValidationError as a stack name: "Stack with id 'Resources' is a
  required property does not exist".
- `Event.sendToSns` publishes a stack event to each of the stack's NotificationARNs; one
  that no longer exists raised SNS's NotFound "Endpoint does not exist", so a stack whose
  topic was deleted first could not be deleted (DELETE_FAILED).

What runs instead:
- check_template, in the call as AWS checks it (CreateStack, ValidateTemplate, UpdateStack
  after its busy check in stack_operations.py, and CreateChangeSet in change_sets.py): a
  template is given ("Either Template URL or Template Body must be specified."), it parses
  into a mapping (check_template_format: "Template format error: ..."), and has resources
  ("Template format error: At least one Resources member must be defined.").
  ValidateTemplate's remaining cfn-lint finding is "Template format error: <finding>".
  parsed_template is the one reading of a template the layer's checks share.
- A stack's notifications go to each topic on its own, a topic that is gone is skipped:
  a notification never stops the stack operation.
"""
TEMPLATE_MISSING = "Either Template URL or Template Body must be specified."
NO_RESOURCES = "Template format error: At least one Resources member must be defined."


def validation_error(message):
    """The ValidationError CloudFormation answers with `message` (the layer's one builder)."""
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _read(template):
    """(the template as a mapping, None), or (None, why it is not one): moto's own reading,
    JSON or YAML with CloudFormation's tags; a mapping is taken as it is."""
    from moto.cloudformation.models import Stack

    if isinstance(template, dict):
        return template, None
    try:
        parsed = Stack.parse_template(template)
    except Exception as error:  # noqa: BLE001 - every parse error is the template's
        text = str(error).strip()
        return None, text.splitlines()[0] if text else type(error).__name__
    if not isinstance(parsed, dict):
        return None, "unsupported structure."
    return parsed, None


def parsed_template(template):
    """The template as a mapping, or None when it does not parse into one."""
    return _read(template)[0]


def check_template_format(template):
    """AWS's "Template format error: ..." for a template that does not parse into a mapping."""
    problem = _read(template)[1]
    if problem is not None:
        raise validation_error(f"Template format error: {problem}")


def check_template(template):
    """Refuses, with AWS's message, a template missing, not parsing, or without resources."""
    if not template:
        raise validation_error(TEMPLATE_MISSING)
    check_template_format(template)
    resources = parsed_template(template).get("Resources")
    if not (isinstance(resources, dict) and resources):
        raise validation_error(NO_RESOURCES)


def wrap_create_stack(original):
    def create_stack(self, name, template, *args, **kwargs):
        check_template(template)
        return original(self, name, template, *args, **kwargs)

    create_stack.__wrapped__ = original
    return create_stack


def wrap_validate_template(original):
    def validate_template(self, template):
        check_template(template)
        findings = original(self, template)  # cfn-lint's
        if findings:
            raise validation_error(f"Template format error: {findings[0].message}")
        return findings

    validate_template.__wrapped__ = original
    return validate_template


def wrap_send_to_sns(original):
    def sendToSns(self, account_id, region, sns_topic_arns):
        from moto.sns.exceptions import SNSNotFoundError

        for topic_arn in sns_topic_arns or []:
            try:
                original(self, account_id, region, [topic_arn])
            except SNSNotFoundError:
                continue  # the topic is gone: CloudFormation carries on without it

    sendToSns.__wrapped__ = original
    return sendToSns


def apply():
    from moto.cloudformation.models import CloudFormationBackend, Event

    CloudFormationBackend.create_stack = wrap_create_stack(CloudFormationBackend.create_stack)
    CloudFormationBackend.validate_template = wrap_validate_template(
        CloudFormationBackend.validate_template)
    Event.sendToSns = wrap_send_to_sns(Event.sendToSns)
