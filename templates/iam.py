"""The one style of the account's IAM policies: statements with a Sid, ARNs of this account.

    allow("ReadIt", ["ssm:GetParameter"], arn("ssm", "parameter/x"))
"""
from troposphere import Sub

# A managed policy holds at most 6,144 characters, whitespace excluded.
MANAGED_POLICY_MAX_CHARS = 6144


def arn(service, resource, region="*", account="${AWS::AccountId}"):
    return Sub(f"arn:${{AWS::Partition}}:{service}:{region}:{account}:{resource}")


def iam_arn(resource):
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:{resource}")


def statement(sid, effect, actions, resources, condition=None, not_resource=False):
    result = {"Sid": sid, "Effect": effect, "Action": actions}
    result["NotResource" if not_resource else "Resource"] = resources
    if condition:
        result["Condition"] = condition
    return result


def allow(sid, actions, resources, condition=None):
    return statement(sid, "Allow", actions, resources, condition)


def deny(sid, actions, resources, condition=None, not_resource=False):
    return statement(sid, "Deny", actions, resources, condition, not_resource)


def policy_document(statements):
    return {"Version": "2012-10-17", "Statement": statements}
