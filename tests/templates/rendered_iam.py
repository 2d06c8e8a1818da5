"""The platform's IAM as the golden templates render it (tests/templates/golden, which
test_golden.py holds equal to what Sceptre renders): each role's policies, its
environment's permissions boundary and the key policies, with CloudFormation's intrinsic
functions filled in for one account and region, ready for fargate_platform.iam_policy.

    principal = role("dev", "rds", "BootstrapRole", refs={"DataKeyArn": key_arn})
    principal.decide(Request("ssm:GetParameter", arn))   -> Decision

References the caller does not give stay `<Name>`, which no ARN of a request matches by
accident; a log group's `Arn` is its ARN, as CloudFormation returns it (ending in `:*`).
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

from fargate_platform.iam_policy import decide

GOLDEN = Path(__file__).resolve().parent / "golden"
ACCOUNT, REGION, PARTITION = "111111111111", "eu-west-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}


def template(environment, stack):
    """A golden template: stack is its path under the environment ("rds",
    "support/functions", "services/order/service"); environment "account" for the account's."""
    return json.loads((GOLDEN / environment / f"{stack}.json").read_text())


def _attributes(template_body):
    """{"Logical": name, "Logical.Arn": ARN} of the log groups, which the templates' policies
    and task definitions name."""
    found = {}
    for logical, resource in template_body.get("Resources", {}).items():
        if resource["Type"] == "AWS::Logs::LogGroup":
            name = resource["Properties"]["LogGroupName"]
            found[logical] = name
            found[f"{logical}.Arn"] = f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
    return found


def resolved(value, refs=None):
    """`value` with Fn::Sub, Ref and Fn::GetAtt filled in from the pseudo parameters and
    `refs` (parameter or attribute -> value); others stay `<Name>`."""
    refs = {**PSEUDO, **(refs or {})}

    def lookup(name):
        return refs.get(name, f"<{name}>")

    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: lookup(m.group(1)), value["Fn::Sub"])
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return lookup(value["Ref"])
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return lookup(".".join(value["Fn::GetAtt"]))
    if isinstance(value, dict):
        return {key: resolved(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, refs) for item in value]
    return value


@dataclass
class Principal:
    name: str  # "dev rds BootstrapRole"
    policies: list  # its identity policies, resolved
    boundary: dict  # its permissions boundary, resolved (None: none)

    def decide(self, request, resource_policy=None):
        return decide(request, identity=self.policies, boundary=self.boundary, resource_policy=resource_policy)


def boundary(environment):
    account = template("account", environment)
    return resolved(account["Resources"]["Boundary"]["Properties"]["PolicyDocument"])


def role(environment, stack, logical, refs=None):
    body = template(environment, stack)
    refs = {**_attributes(body), **(refs or {})}
    properties = body["Resources"][logical]["Properties"]
    policies = [resolved(policy["PolicyDocument"], refs) for policy in properties.get("Policies", [])]
    has_boundary = "PermissionsBoundary" in properties
    return Principal(f"{environment} {stack} {logical}", policies, boundary(environment) if has_boundary else None)


def resource(environment, stack, logical, refs=None):
    """A resource's properties, resolved."""
    body = template(environment, stack)
    return resolved(body["Resources"][logical]["Properties"], {**_attributes(body), **(refs or {})})


def key_policy(environment, stack, logical):
    body = template(environment, stack)
    return resolved(body["Resources"][logical]["Properties"]["KeyPolicy"])


def deploy_role(environment):
    """The account stack's deploy role of `environment`: its managed policies, resolved (the
    role itself carries no boundary)."""
    account = template("account", environment)
    resources = account["Resources"]
    attached = [ref["Ref"] for ref in resources["DeployRole"]["Properties"]["ManagedPolicyArns"]]
    policies = [resolved(resources[name]["Properties"]["PolicyDocument"]) for name in attached]
    return Principal(f"{environment} account DeployRole", policies, None)


def diff_role(environment):
    account = template("account", environment)
    properties = account["Resources"]["DiffRole"]["Properties"]
    return Principal(f"{environment} account DiffRole",
                     [resolved(policy["PolicyDocument"]) for policy in properties["Policies"]], None)
