"""The platform's functions under their environment's permissions boundary, decided by the
IAM evaluator (fargate_platform/iam_policy.py) on the rendered dev and prod templates.

A start on holding every role against what it really calls (the calls below are ones the
functions make on every launch after the first: they describe a parameter that already
exists to see which key encrypts it); the recorded-call tests are to come.
"""
import re

import pytest

from fargate_platform.iam_policy import Request, decide

ACCOUNT, REGION, PARTITION = "111111111111", "eu-west-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}


def resolved(value):
    """`value` with the pseudo parameters of Fn::Sub and Ref filled in (other references are
    left as `<Name>`, which no ARN pattern of a policy matches by accident)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m.group(1), f"<{m.group(1)}>"), value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return PSEUDO.get(value["Ref"], f"<{value['Ref']}>")
    if isinstance(value, dict):
        return {key: resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item) for item in value]
    return value


def role_policies(template, role):
    properties = template["Resources"][role]["Properties"]
    return [resolved(policy["PolicyDocument"]) for policy in properties.get("Policies", [])]


def boundary_of(templates, environment):
    account = templates["account"][f"fargate-platform-account-{environment}"]
    return resolved(account["Resources"]["Boundary"]["Properties"]["PolicyDocument"])


FUNCTION_CALLS = [  # (stack, role, action, resource)
    ("rds", "BootstrapRole", "ssm:DescribeParameters", "*"),
    ("support-functions", "AdminSecretRole", "ssm:DescribeParameters", "*"),
]


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.parametrize("stack, role, action, resource", FUNCTION_CALLS)
def test_the_functions_calls_are_allowed_under_the_boundary(templates, environment, stack, role,
                                                             action, resource):
    template = templates[environment][f"fargate-platform-{environment}-{stack}"]
    decision = decide(Request(action, resource), identity=role_policies(template, role),
                      boundary=boundary_of(templates, environment))
    assert decision, f"{environment} {role}: {action} on {resource} denied {decision.reason}"
