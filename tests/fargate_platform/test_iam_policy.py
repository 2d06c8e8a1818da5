"""The IAM evaluator against AWS's documented evaluation logic: each case a request, the
policies that apply, and the decision (with AWS's reason clause) the documentation gives."""
import pytest

from fargate_platform.iam_policy import (
    Request,
    UnknownConditionKey,
    UnknownConditionOperator,
    decide,
)

ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-dev-order-task"
OWN = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/fargate-platform/dev/order/db/password"
OTHER = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/fargate-platform/dev/billing/db/password"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0000"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_no_statement_is_an_implicit_deny():
    decision = decide(Request("ssm:GetParameters", OWN), identity=[policy()])
    assert not decision
    assert decision.reason == "because no identity-based policy allows the ssm:GetParameters action"


def test_an_explicit_deny_wins_over_any_allow():
    decision = decide(Request("ssm:GetParameters", OWN),
                      identity=[policy(allow("ssm:*")), policy(deny("ssm:GetParameters", OWN))])
    assert not decision and decision.reason == "with an explicit deny in an identity-based policy"


def test_the_boundary_is_a_ceiling_the_identity_policy_must_be_under():
    identity, boundary = [policy(allow("ssm:*"))], policy(allow("ssm:GetParameters"))
    assert decide(Request("ssm:GetParameters", OWN), identity, boundary)
    refused = decide(Request("ssm:DescribeParameters"), identity, boundary)
    assert refused.reason == "because no permissions boundary allows the ssm:DescribeParameters action"
    # ...and grants nothing by itself
    assert not decide(Request("ssm:GetParameters", OWN), [policy()], boundary)


def test_a_deny_in_the_boundary_denies():
    boundary = policy(allow("*"), deny("iam:*"))
    decision = decide(Request("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x"),
                      [policy(allow("iam:CreateRole"))], boundary)
    assert decision.reason == "with an explicit deny in a permissions boundary"


def test_a_deny_with_not_resource_denies_everything_else():
    identity = [policy(allow("ssm:GetParameters"),
                       {"Effect": "Deny", "Action": "ssm:GetParameters",
                        "NotResource": "arn:aws:ssm:*:*:parameter/fargate-platform/dev/order/*"})]
    assert decide(Request("ssm:GetParameters", OWN), identity)
    assert not decide(Request("ssm:GetParameters", OTHER), identity)  # moto allows this one


def test_not_action_allows_all_but_the_listed_actions():
    identity = [policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})]
    assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), identity)
    assert not decide(Request("IAM:PassRole", ROLE), identity)  # actions match case-insensitively


def test_wildcards_in_actions_and_resources():
    identity = [policy(allow("ssm:Get*", "arn:aws:ssm:eu-west-?:*:parameter/fargate-platform/dev/order/*"))]
    assert decide(Request("ssm:GetParametersByPath", OWN), identity)
    assert not decide(Request("ssm:PutParameter", OWN), identity)
    assert not decide(Request("ssm:GetParameter", OWN.replace("eu-west-1", "eu-central-1")), identity)
    assert not decide(Request("ssm:GetParameter", OWN.replace("/order/", "/ORDER/")), identity)  # ARNs are case-sensitive


def test_an_action_without_a_resource_type_is_evaluated_against_star():
    assert decide(Request("ssm:DescribeParameters"), [policy(allow("ssm:DescribeParameters", "*"))])
    assert not decide(Request("ssm:DescribeParameters"), [policy(allow("ssm:DescribeParameters", OWN))])


def test_string_like_on_the_encryption_context():
    own_context = {"kms:EncryptionContext:PARAMETER_ARN": OWN, "kms:ViaService": "ssm.eu-west-1.amazonaws.com"}
    identity = [policy(allow("kms:Decrypt", KEY, Condition={
        "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:*:*:parameter/fargate-platform/dev/order/*"},
        "StringEquals": {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}}))]
    assert decide(Request("kms:Decrypt", KEY, own_context), identity)
    other = dict(own_context, **{"kms:EncryptionContext:PARAMETER_ARN": OTHER})
    assert not decide(Request("kms:Decrypt", KEY, other), identity)
    assert not decide(Request("kms:Decrypt", KEY, {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}), identity)
    # condition keys match case-insensitively
    assert decide(Request("kms:Decrypt", KEY, {k.lower(): v for k, v in own_context.items()}), identity)


def test_arn_equals_takes_wildcards_as_arn_like_does():
    cluster = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/fargate-platform-dev"
    for operator in ("ArnEquals", "ArnLike"):
        identity = [policy(allow("ecs:ListTasks", Condition={
            operator: {"ecs:cluster": f"arn:aws:ecs:*:{ACCOUNT}:cluster/fargate-platform-dev"}}))]
        assert decide(Request("ecs:ListTasks", "*", {"ecs:cluster": cluster}), identity)
        assert not decide(Request("ecs:ListTasks", "*", {"ecs:cluster": cluster + "-other"}), identity)
        assert not decide(Request("ecs:ListTasks", "*"), identity)


def test_a_negated_operator_holds_when_the_key_is_absent():
    identity = [policy(allow("kms:Decrypt", KEY), deny("kms:Decrypt", KEY, Condition={
        "StringNotLike": {"kms:EncryptionContext:PARAMETER_ARN": "*/order/*"}}))]
    assert not decide(Request("kms:Decrypt", KEY, {}), identity)  # no context: the Deny applies
    assert decide(Request("kms:Decrypt", KEY, {"kms:EncryptionContext:PARAMETER_ARN": OWN}), identity)


def test_set_operators_for_multivalued_keys():
    by_alias = [policy(allow("kms:Decrypt", "*", Condition={
        "ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/fargate-platform/dev/*"}}))]
    assert decide(Request("kms:Decrypt", KEY, {"kms:ResourceAliases": ["alias/x", "alias/fargate-platform/dev/data"]}), by_alias)
    assert not decide(Request("kms:Decrypt", KEY, {"kms:ResourceAliases": ["alias/x"]}), by_alias)
    assert not decide(Request("kms:Decrypt", KEY, {}), by_alias)  # ForAnyValue: an absent key matches nothing
    none_of_prod = [policy(allow("kms:Decrypt", "*"), deny("kms:Decrypt", "*", Condition={
        "ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/fargate-platform/prod/*"}}))]
    assert decide(Request("kms:Decrypt", KEY, {"kms:ResourceAliases": ["alias/fargate-platform/dev/data"]}), none_of_prod)
    assert not decide(Request("kms:Decrypt", KEY, {"kms:ResourceAliases": ["alias/fargate-platform/prod/data"]}), none_of_prod)
    all_outside = [policy(allow("kms:Decrypt", "*", Condition={
        "ForAllValues:StringNotLike": {"kms:ResourceAliases": "alias/fargate-platform/prod/*"}}))]
    assert decide(Request("kms:Decrypt", KEY, {}), all_outside)  # ForAllValues: an absent key holds
    assert not decide(Request("kms:Decrypt", KEY, {"kms:ResourceAliases": ["alias/a", "alias/fargate-platform/prod/x"]}), all_outside)


def test_bool_if_exists_and_null():
    tls_only = [policy(allow("s3:GetObject"), deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}))]
    assert not decide(Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": False}), tls_only)
    assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": True}), tls_only)
    if_exists = [policy(allow("ecs:RunTask", Condition={"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}))]
    assert decide(Request("ecs:RunTask"), if_exists)
    assert not decide(Request("ecs:RunTask", context={"aws:SourceAccount": "222222222222"}), if_exists)
    tagged = [policy(allow("iam:CreateRole", Condition={"Null": {"aws:RequestTag/Environment": "false"}}))]
    assert decide(Request("iam:CreateRole", context={"aws:RequestTag/Environment": "dev"}), tagged)
    assert not decide(Request("iam:CreateRole"), tagged)


def test_the_boundary_condition_on_role_creation():
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/fargate-platform-dev-boundary"
    identity = [policy(allow("iam:CreateRole", Condition={"StringEquals": {"iam:PermissionsBoundary": boundary}}))]
    assert decide(Request("iam:CreateRole", ROLE, {"iam:PermissionsBoundary": boundary}), identity)
    assert not decide(Request("iam:CreateRole", ROLE), identity)


def test_a_key_policy_that_delegates_to_iam_needs_an_identity_allow():
    key_policy = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                         "Action": "kms:*", "Resource": "*"})
    request = Request("kms:Decrypt", KEY, principal=ROLE)
    assert decide(request, [policy(allow("kms:Decrypt", KEY))], resource_policy=key_policy)
    refused = decide(request, [policy()], resource_policy=key_policy)
    assert refused.reason == "because no identity-based policy allows the kms:Decrypt action"


def test_a_key_policy_that_names_the_role_allows_on_its_own():
    key_policy = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Decrypt", "Resource": "*"})
    assert decide(Request("kms:Decrypt", KEY, principal=ROLE), [policy()], resource_policy=key_policy)
    # ...within the role's boundary, which limits a grant to the role (not to a role session)
    limited = decide(Request("kms:Decrypt", KEY, principal=ROLE), [policy()],
                     boundary=policy(allow("ssm:*")), resource_policy=key_policy)
    assert limited.reason == "because no permissions boundary allows the kms:Decrypt action"


def test_a_key_policy_that_allows_nothing_denies_whatever_iam_says():
    key_policy = policy({"Effect": "Allow", "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
                         "Action": "kms:Encrypt*", "Resource": "*"})
    decision = decide(Request("kms:Decrypt", KEY, principal=ROLE), [policy(allow("kms:*"))],
                      resource_policy=key_policy)
    assert decision.reason == "because no resource-based policy allows the kms:Decrypt action"


def test_a_condition_key_it_does_not_know_fails_loudly():
    identity = [policy(allow("s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/x": "y"}}))]
    with pytest.raises(UnknownConditionKey, match="s3:ExistingObjectTag/x"):
        decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), identity)


def test_an_operator_it_does_not_know_fails_loudly():
    identity = [policy(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceAccount": "10.0.0.0/8"}}))]
    with pytest.raises(UnknownConditionOperator, match="IpAddress"):
        decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), identity)
