"""What a service's `task_role_statements` can never get: its task role denies it whatever
a statement allows (templates/service.py: IAM, other services' SSM parameters, the admin
parameter, decrypting outside its own encryption context). A statement that asks for it
is refused when the configuration is read, rather than accepted and silently denied.

Each Allow statement is decided by the IAM evaluator against probe requests, so wide
grants are caught as well as exact names (`iam:*`, `ssm:Get*` on a parameter ARN with
wildcards, `kms:Decrypt` on `*` without the service's own context). A condition on a key
the evaluator does not know is read the broad way (as holding): the refusal only comes
when the actions and resources reach a probe.
"""
import re

from fargate_platform import iam_policy, names

PROBE_ACCOUNT = "000000000000"
PROBE_SERVICE = "zz-another-service"  # a name no probe shares with a real service's path
PARAMETER_ACTIONS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                     "ssm:PutParameter", "ssm:DeleteParameter")
IAM_ACTIONS = ("iam:CreateRole", "iam:PassRole", "iam:PutRolePolicy", "iam:AttachRolePolicy",
               "iam:UpdateAssumeRolePolicy", "iam:CreateUser", "iam:CreateAccessKey")
_ACCOUNT = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:(\d{12}):")
_REGION = re.compile(r"^arn:[^:]*:[^:]*:([a-z]{2}-[a-z]+-\d):")


def probes(parameter_root, region, account):
    """(what the platform denies, a request for it) for one region and account."""
    def parameter(path):
        return f"arn:aws:ssm:{region}:{account}:parameter{path}"

    other = parameter(names.db_password_parameter(parameter_root, PROBE_SERVICE))
    admin = parameter(f"{parameter_root}/rds/admin-password")
    found = [("IAM", iam_policy.Request(action, f"arn:aws:iam::{account}:role/probe"))
             for action in IAM_ACTIONS]
    found += [("another service's SSM parameters", iam_policy.Request(action, other))
              for action in PARAMETER_ACTIONS]
    found += [("the database admin's parameter", iam_policy.Request(action, admin))
              for action in PARAMETER_ACTIONS]
    found.append(("decrypting outside the service's own encryption context", iam_policy.Request(
        "kms:Decrypt", f"arn:aws:kms:{region}:{account}:key/probe",
        {"kms:EncryptionContext:PARAMETER_ARN": other, "kms:ViaService": f"ssm.{region}.amazonaws.com"})))
    return found


def denied_anyway(statement, parameter_root, region):
    """What of the platform's denials the Allow `statement` reaches, or None."""
    if statement.get("Effect") != "Allow":
        return None
    resources = statement.get("Resource", [])
    accounts = {m.group(1) for r in resources if (m := _ACCOUNT.match(r))} | {PROBE_ACCOUNT}
    regions = {m.group(1) for r in resources if (m := _REGION.match(r))} | {region}
    policy = {"Statement": [_broad(statement)]}
    for account in sorted(accounts):
        for probe_region in sorted(regions):
            for what, request in probes(parameter_root, probe_region, account):
                if iam_policy.decide(request, identity=[policy]):
                    return what
    return None


def _broad(statement):
    """The statement with the conditions the evaluator does not decide (key or operator)
    taken as holding."""
    conditions = {}
    for operator, body in (statement.get("Condition") or {}).items():
        if not iam_policy.is_known_operator(operator):
            continue
        known = {key: value for key, value in body.items() if iam_policy.is_known_key(key)}
        if known:
            conditions[operator] = known
    return {**statement, "Condition": conditions}
