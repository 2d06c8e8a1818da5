"""IAM's decision on one request, as AWS documents its policy evaluation logic, with the
standard library only (it runs in the project's virtualenv and in the emulator's).

    decide(Request("ssm:GetParameters", "arn:aws:ssm:eu-west-1:1:parameter/p/x",
                   {"aws:SourceAccount": "1"}),
           identity=[role_policy], boundary=boundary_policy) -> Decision(allowed, reason)

Within one account:
1. An explicit Deny in any policy that applies (identity, boundary, resource policy) denies.
2. Where the resource has a policy that must allow (a KMS key policy), it must: either by
   naming the caller, or by its statement for the account root, which delegates to IAM,
   and then the identity policies must allow as well.
   A grant naming the caller's role needs no identity Allow, but its boundary still limits it.
3. Otherwise an identity policy must Allow, and where a permissions boundary is set, it
   must Allow too (the boundary is a ceiling, it grants nothing).

Statements match on Action/NotAction (case-insensitive wildcards), Resource/NotResource
(case-sensitive wildcards; an action without a resource type is evaluated against `*`),
Principal (resource policies) and Condition. Condition operators: String*, Arn*, Bool,
Null, Numeric*, each with IfExists, and the ForAnyValue:/ForAllValues: set operators.
Condition keys are matched case-insensitively, as IAM does. A condition key this module
does not know raises UnknownConditionKey: it never passes silently. A known key absent
from the request fails a positive operator and satisfies a negated one, as in AWS.
"""
import re
from dataclasses import dataclass, field

# The condition keys the platform's policies use, and the prefixes of key families.
KNOWN_KEYS = {
    "aws:sourceaccount", "aws:sourcearn", "aws:securetransport", "aws:principalarn",
    "aws:principalaccount", "aws:tagkeys", "aws:calledvia",
    "kms:viaservice", "kms:resourcealiases", "kms:calleraccount", "kms:encryptioncontextkeys",
    "iam:permissionsboundary", "iam:passedtoservice", "iam:awsservicename", "ecs:cluster",
    "token.actions.githubusercontent.com:aud", "token.actions.githubusercontent.com:sub",
}
KNOWN_KEY_PREFIXES = ("aws:requesttag/", "aws:resourcetag/", "aws:principaltag/",
                      "kms:encryptioncontext:")
SET_OPERATORS = ("ForAnyValue", "ForAllValues")


class UnknownConditionKey(ValueError):
    """A policy's condition names a key the evaluator cannot decide."""


class UnknownConditionOperator(ValueError):
    """A policy's condition uses an operator the evaluator cannot decide."""


@dataclass(frozen=True)
class Request:
    action: str  # "ssm:GetParameters"
    resource: str = "*"  # an ARN, or "*" for actions without a resource type
    context: dict = field(default_factory=dict)  # condition key -> value or list of values
    principal: str = ""  # the caller's role ARN (resource policies name it)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # AWS's reason clause: "because no permissions boundary allows the ..."

    def __bool__(self):
        return self.allowed


def decide(request, identity=(), boundary=None, resource_policy=None):
    """IAM's decision for `request` under the caller's identity policies, its permissions
    boundary (None: no boundary) and the resource's policy where one must allow (None:
    the resource has no such policy)."""
    policies = [("an identity-based policy", p) for p in identity]
    if boundary is not None:
        policies.append(("a permissions boundary", boundary))
    if resource_policy is not None:
        policies.append(("a resource-based policy", resource_policy))
    for kind, policy in policies:
        if _matching(policy, request, "Deny", resource_based=policy is resource_policy):
            return Decision(False, f"with an explicit deny in {kind}")
    identity_allows = any(_matching(p, request, "Allow") for p in identity)
    boundary_allows = boundary is None or bool(_matching(boundary, request, "Allow"))
    if resource_policy is not None:
        grants = _matching(resource_policy, request, "Allow", resource_based=True)
        if not grants:
            return Decision(False, "because no resource-based policy allows the "
                                   f"{request.action} action")
        if any(not _delegates_to_iam(s) for s in grants):
            # A grant to the role itself needs no identity Allow, but the role's boundary
            # still limits it (only a grant to a role session would not be).
            if not boundary_allows:
                return Decision(False, "because no permissions boundary allows the "
                                       f"{request.action} action")
            return Decision(True, "allowed by the resource-based policy")
    if not identity_allows:
        return Decision(False, f"because no identity-based policy allows the {request.action} action")
    if not boundary_allows:
        return Decision(False, f"because no permissions boundary allows the {request.action} action")
    return Decision(True, "allowed")


def _statements(policy):
    statements = policy.get("Statement", []) if isinstance(policy, dict) else policy
    return [statements] if isinstance(statements, dict) else list(statements)


def _listed(value):
    return [value] if isinstance(value, str) else list(value or [])


def _matching(policy, request, effect, resource_based=False):
    """The statements of `policy` with `effect` that apply to `request`."""
    return [statement for statement in _statements(policy)
            if statement.get("Effect") == effect
            and _action_matches(statement, request.action)
            and _resource_matches(statement, request.resource)
            and (not resource_based or _principal_matches(statement, request))
            and _conditions_hold(statement.get("Condition", {}), request.context)]


def _glob(pattern, value):
    """IAM's wildcards: `*` any run of characters, `?` one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _action_matches(statement, action):
    if "NotAction" in statement:
        return not any(_glob(p.lower(), action.lower()) for p in _listed(statement["NotAction"]))
    return any(_glob(p.lower(), action.lower()) for p in _listed(statement.get("Action")))


def _resource_matches(statement, resource):
    if "NotResource" in statement:
        return not any(_glob(p, resource) for p in _listed(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # a resource policy's statement applies to its own resource
    return any(_glob(p, resource) for p in _listed(statement["Resource"]))


def _account_of(arn):
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _aws_principals(statement):
    """The AWS principals (ARNs, `*`) a resource policy's statement names."""
    principal = statement.get("Principal")
    return _listed(principal.get("AWS")) if isinstance(principal, dict) else []


def _principal_matches(statement, request):
    if statement.get("Principal") == "*":
        return True
    for name in _aws_principals(statement):
        if name == "*" or name == request.principal:
            return True
        if name.endswith(":root") and _account_of(name) == _account_of(request.principal):
            return True  # the account: delegated to IAM (see _delegates_to_iam)
    return False


def _delegates_to_iam(statement):
    names = _aws_principals(statement)
    return bool(names) and all(name.endswith(":root") for name in names)


def is_known_key(key):
    """Whether the evaluator decides conditions on `key`."""
    key = key.lower()
    return key in KNOWN_KEYS or key.startswith(KNOWN_KEY_PREFIXES)


def is_known_operator(operator):
    """Whether the evaluator decides the condition operator `operator`."""
    set_operator, _, operator = operator.rpartition(":")
    if set_operator and set_operator not in SET_OPERATORS:
        return False
    operator = operator.removesuffix("IfExists")
    if operator == "Null":
        return True
    try:
        _comparison(operator)
    except UnknownConditionOperator:
        return False
    return True


def _context_value(context, key):
    """The request's values for `key` (a list), or None when the request lacks it."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return _listed(value) if not isinstance(value, bool) else [value]
    return None


def _conditions_hold(conditions, context):
    return all(_condition_holds(operator, key, _listed(expected), context)
               for operator, body in conditions.items() for key, expected in body.items())


def _condition_holds(operator, key, expected, context):
    if not is_known_key(key):
        raise UnknownConditionKey(f"condition key {key!r} is not one the evaluator decides")
    set_operator, _, operator = operator.rpartition(":")
    if set_operator and set_operator not in SET_OPERATORS:
        raise UnknownConditionOperator(f"unknown set operator {set_operator!r}")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    values = _context_value(context, key)
    if operator == "Null":
        absent = values is None
        return any(str(e).lower() == str(absent).lower() for e in expected)
    compare = _comparison(operator)
    negated = "Not" in operator
    if values is None:
        if set_operator == "ForAllValues":
            return True
        return if_exists or (negated and not set_operator)
    if set_operator == "ForAnyValue":
        return any(compare(value, expected) for value in values)
    if set_operator == "ForAllValues":
        return all(compare(value, expected) for value in values)
    return any(compare(value, expected) for value in values)


def _comparison(operator):
    """compare(value, expected values) for a single-valued operator (negations included)."""
    def string(match):
        return lambda value, expected: any(match(str(e), str(value)) for e in expected)

    positive = {
        "StringEquals": string(lambda e, v: e == v),
        "StringEqualsIgnoreCase": string(lambda e, v: e.lower() == v.lower()),
        "StringLike": string(_glob),
        # IAM matches both alike: each ARN component may hold * and ? wildcards.
        "ArnEquals": string(_glob),
        "ArnLike": string(_glob),
        "Bool": string(lambda e, v: e.lower() == v.lower()),
        "NumericEquals": string(lambda e, v: float(e) == float(v)),
        "NumericLessThan": string(lambda e, v: float(v) < float(e)),
        "NumericLessThanEquals": string(lambda e, v: float(v) <= float(e)),
        "NumericGreaterThan": string(lambda e, v: float(v) > float(e)),
        "NumericGreaterThanEquals": string(lambda e, v: float(v) >= float(e)),
    }
    negations = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
                 "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
                 "NumericNotEquals": "NumericEquals"}
    if operator in positive:
        return positive[operator]
    if operator in negations:
        match = positive[negations[operator]]
        return lambda value, expected: not match(value, expected)
    raise UnknownConditionOperator(f"unknown condition operator {operator!r}")
