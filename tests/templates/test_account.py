"""The account stacks (config/account/, templates/account.py): GitHub's OIDC provider, and per
environment the permissions boundary, the deploy role and the read-only diff role.

Rendered once through the real `sceptre` CLI; the policies are then checked by reading them and
by evaluating requests against them with a small IAM evaluator (Allow/Deny, wildcards and the
condition operators the templates use), so "the pipeline cannot mint an administrator" is a
tested property, not a reading of the JSON."""
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fargate_platform.templates import account, account_settings, iam

PROJECT = Path(__file__).resolve().parents[2]
SCEPTRE = str(Path(sys.executable).with_name("sceptre"))
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
DEFAULT_REPOSITORY = "example-org/fargate-platform"
ROLE_CREATION = ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary")
IAM_BODY_LIMIT = 51200
READ_ONLY_VERB = re.compile(r"^[a-z0-9-]+:(Describe|Get|List|Validate)[A-Za-z*]*$")


def generate(*args, cwd=PROJECT):
    result = subprocess.run([SCEPTRE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"sceptre {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result.stdout


def split_documents(text):
    """`sceptre --output json generate GROUP` prints one JSON document per stack."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def resolve(value):
    """A template value with the pseudo parameters an account would give it."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return (value["Fn::Sub"].replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", ACCOUNT_ID)
                .replace("${AWS::Region}", REGION))
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item) for key, item in value.items()}
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def rendered():
    """{'identity': template, 'dev': template, ...} as the real CLI generates them."""
    documents = split_documents(generate("--output", "json", "generate", "account"))
    stacks = {}
    for document in documents:
        description = document["Description"]
        match = re.search(r"diff role of ([a-z0-9-]+)$", description)
        stacks[match.group(1) if match else "identity"] = document
    return stacks


def account_environments():
    return sorted(p.stem for p in (PROJECT / "config" / "account").glob("*.yaml") if p.stem not in ("config", "identity"))


def pipeline_environments():
    """The account environments a pipeline deploys (local has its boundary only)."""
    return [env for env in account_environments()
            if not yaml.safe_load((PROJECT / "config" / "account" / f"{env}.yaml").read_text())
            ["sceptre_user_data"].get("boundary_only")]


def boundary_from_config(env):
    data = yaml.safe_load((PROJECT / "config" / env / "config.yaml").read_text())
    return data["environment"].get("permissions_boundary")


class Policy:
    """A minimal IAM evaluator: explicit Deny wins, then any Allow; otherwise implicit deny."""

    def __init__(self, documents):
        self.statements = [s for document in documents for s in as_list(document["Statement"])]

    def allows(self, action, resource, context=None):
        context = context or {}
        matching = [s for s in self.statements if self._applies(s, action, resource, context)]
        if any(s["Effect"] == "Deny" for s in matching):
            return False
        return any(s["Effect"] == "Allow" for s in matching)

    @staticmethod
    def _applies(statement, action, resource, context):
        actions = as_list(statement["Action"])
        if not any(fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in actions):
            return False
        if "NotResource" in statement:
            if any(fnmatch.fnmatchcase(resource, p) for p in as_list(statement["NotResource"])):
                return False
        elif not any(fnmatch.fnmatchcase(resource, p) for p in as_list(statement["Resource"])):
            return False
        return all(Policy._condition(op, key, expected, context)
                   for op, tests in statement.get("Condition", {}).items() for key, expected in tests.items())

    @staticmethod
    def _condition(operator, key, expected, context):
        expected = as_list(expected)
        present = key in context
        values = as_list(context.get(key, []))
        equals = {"StringEquals": lambda v, e: v == e, "StringLike": fnmatch.fnmatchcase}
        if operator in equals:
            return present and any(equals[operator](value, e) for value in values for e in expected)
        if operator == "ForAnyValue:StringLike":
            return any(fnmatch.fnmatchcase(value, e) for value in values for e in expected)
        if operator == "ForAllValues:StringNotLike":
            return all(not fnmatch.fnmatchcase(value, e) for value in values for e in expected)
        raise AssertionError(f"the evaluator does not know the condition operator {operator}")


def deploy_policy(template):
    documents = [resource["Properties"]["PolicyDocument"] for title, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::IAM::ManagedPolicy" and title.startswith("Deploy")]
    assert len(documents) >= 1
    return Policy(resolve(documents))


def boundary_policy(template):
    return Policy([resolve(template["Resources"]["Boundary"]["Properties"]["PolicyDocument"])])


def diff_policy(template):
    return Policy([resolve(p["PolicyDocument"]) for p in template["Resources"]["DiffRole"]["Properties"]["Policies"]])


def role_arn(name):
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


def boundary_arn(env):
    return f"arn:aws:iam::{ACCOUNT_ID}:policy/fargate-platform-{env}-boundary"


# --- what is rendered ---------------------------------------------------------------------

def test_every_environment_has_its_account_stack_and_boundary_name(rendered):
    environments = sorted(p.name for p in (PROJECT / "config").iterdir()
                          if p.is_dir() and p.name != "account" and boundary_from_config(p.name))
    assert environments == account_environments() == sorted(set(rendered) - {"identity"})
    for env in environments:
        template = rendered[env]
        assert template["Resources"]["Boundary"]["Properties"]["ManagedPolicyName"] == boundary_from_config(env)


def test_the_identity_stack_has_githubs_provider_and_the_ecs_service_linked_role(rendered):
    resources = rendered["identity"]["Resources"]
    provider = resources["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]
    assert resources["EcsServiceLinkedRole"]["Properties"]["AWSServiceName"] == "ecs.amazonaws.com"
    assert resources["EcsServiceLinkedRole"]["DeletionPolicy"] == "Retain"
    assert rendered["identity"]["Outputs"]["GitHubOidcProviderArn"]["Value"] == {"Ref": "GitHubOidcProvider"}


def test_an_account_that_has_both_already_creates_neither():
    template = json.loads(account.sceptre_handler(
        {"create_ecs_service_linked_role": False, "create_oidc_provider": "false"}))
    assert not template.get("Resources")
    assert resolve(template["Outputs"]["GitHubOidcProviderArn"]["Value"]) == \
        f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"


@pytest.mark.parametrize("env", pipeline_environments())
def test_outputs_name_the_roles_and_the_boundary(env, rendered):
    outputs = rendered[env]["Outputs"]
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployRole", "Arn"]}
    assert outputs["DiffRoleArn"]["Value"] == {"Fn::GetAtt": ["DiffRole", "Arn"]}
    assert outputs["BoundaryArn"]["Value"] == {"Ref": "Boundary"}


@pytest.mark.parametrize("env", account_environments())
def test_templates_and_policies_fit_aws_size_limits(env, rendered):
    body = json.dumps(rendered[env], indent=1)  # as the templates are rendered
    assert len(body.encode()) < IAM_BODY_LIMIT, "the template body needs an S3 upload"
    for title, resource in rendered[env]["Resources"].items():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = len(re.sub(r"\s", "", json.dumps(resolve(resource["Properties"]["PolicyDocument"]))))
            assert size < iam.MANAGED_POLICY_MAX_CHARS, f"{title}: {size} characters"


# --- who may assume the roles -------------------------------------------------------------

def trust(template, role):
    (statement,) = resolve(template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    return statement


@pytest.mark.parametrize("env", pipeline_environments())
def test_the_roles_trust_only_this_repositorys_jobs_in_their_github_environment(env, rendered):
    for role, github_environment in (("DeployRole", env), ("DiffRole", f"{env}-diff")):
        statement = trust(rendered[env], role)
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {
            "Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"}
        # Exact matches only: a StringLike or a wildcard would admit other repositories or branches.
        assert statement["Condition"] == {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{DEFAULT_REPOSITORY}:environment:{github_environment}",
        }}


def test_the_repository_comes_from_the_account_config_or_the_command_line():
    template = json.loads(generate("--var", "github_repository=acme/platform-infra", "--ignore-dependencies",
                                   "--output", "json", "generate", "account/prod.yaml"))
    condition = trust(template, "DeployRole")["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:sub"] == "repo:acme/platform-infra:environment:prod"


@pytest.mark.parametrize("env", pipeline_environments())
def test_role_names_sit_outside_every_environments_prefix(env, rendered):
    environments = [p.name for p in (PROJECT / "config").iterdir() if p.is_dir() and p.name != "account"]
    for role in ("DeployRole", "DiffRole"):
        name = rendered[env]["Resources"][role]["Properties"]["RoleName"]
        assert not any(fnmatch.fnmatchcase(name, f"fargate-platform-{other}-*") for other in environments), name


# --- what the deploy role may do ----------------------------------------------------------

@pytest.mark.parametrize("env", pipeline_environments())
def test_role_creation_requires_the_environments_boundary(env, rendered):
    policy = deploy_policy(rendered[env])
    other = next(e for e in pipeline_environments() if e != env)
    role = role_arn(f"fargate-platform-{env}-services-order-TaskRole-ABC123")
    for action in ROLE_CREATION:
        assert policy.allows(action, role, {"iam:PermissionsBoundary": boundary_arn(env)}), action
        assert not policy.allows(action, role), f"{action} without a boundary"
        assert not policy.allows(action, role, {"iam:PermissionsBoundary": boundary_arn(other)}), action
        assert not policy.allows(
            action, role, {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT_ID}:policy/AdministratorAccess"})
        # Nor in another environment, boundary or not.
        assert not policy.allows(action, role_arn(f"fargate-platform-{other}-x"),
                                 {"iam:PermissionsBoundary": boundary_arn(other)})
    # The platform's roles have inline policies only: no managed policy is ever attached.
    assert not policy.allows("iam:AttachRolePolicy", role, {"iam:PermissionsBoundary": boundary_arn(env)})
    # Every statement that grants role creation carries the condition itself.
    for statement in policy.statements:
        grants = [a for a in as_list(statement["Action"])
                  if statement["Effect"] == "Allow"
                  and any(fnmatch.fnmatch(c.lower(), a.lower()) for c in ROLE_CREATION + ("iam:AttachRolePolicy",))]
        if grants:
            assert statement["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary_arn(env)}}, statement


@pytest.mark.parametrize("env", pipeline_environments())
def test_the_pipeline_cannot_lift_or_rewrite_a_boundary_or_touch_its_own_identity(env, rendered):
    policy = deploy_policy(rendered[env])
    names = account_settings.EnvironmentScope(env)
    with_boundary = {"iam:PermissionsBoundary": boundary_arn(env)}
    own_role = role_arn(names.deploy_role_name)
    for action in ("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"):
        assert not policy.allows(action, role_arn(f"fargate-platform-{env}-x"), with_boundary)
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy",
                   "iam:DeletePolicyVersion"):
        assert not policy.allows(action, boundary_arn(env)), action
        # No stack of the environment has a managed policy: none is manageable.
        assert not policy.allows(action, f"arn:aws:iam::{ACCOUNT_ID}:policy/fargate-platform-{env}-services-x"), action
    for action in ROLE_CREATION + ("iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:PassRole"):
        assert not policy.allows(action, own_role, with_boundary), action
    assert not policy.allows("iam:CreateUser", f"arn:aws:iam::{ACCOUNT_ID}:user/x", with_boundary)
    assert not policy.allows("iam:UpdateOpenIDConnectProviderThumbprint",
                             f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com")


@pytest.mark.parametrize("env", pipeline_environments())
def test_roles_are_passed_only_to_the_platforms_services(env, rendered):
    policy = deploy_policy(rendered[env])
    role = role_arn(f"fargate-platform-{env}-services-order-TaskRole-ABC123")
    assert policy.allows("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
    assert not policy.allows("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not policy.allows("iam:PassRole", role)


@pytest.mark.parametrize("env", pipeline_environments())
def test_the_pipeline_reaches_its_own_environment_only(env, rendered):
    policy = deploy_policy(rendered[env])
    other = next(e for e in pipeline_environments() if e != env)
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/fargate-platform-%s-network/0f1e"
    assert policy.allows("cloudformation:UpdateStack", stack % env)
    assert not policy.allows("cloudformation:UpdateStack", stack % other)
    assert not policy.allows("cloudformation:DeleteStack", stack % "account-identity")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:fargate-platform-%s-db-bootstrap"
    assert policy.allows("lambda:InvokeFunction", function % env)
    assert not policy.allows("lambda:InvokeFunction", function % other)
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/fargate-platform/%s/rds/admin-password"
    # CloudFormation's `{{resolve:ssm-secure}}` reads it with ssm:GetParameters.
    assert policy.allows("ssm:GetParameters", parameter % env)
    assert not policy.allows("ssm:GetParameters", parameter % other)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert policy.allows("kms:PutKeyPolicy", key, {"kms:ResourceAliases": [f"alias/fargate-platform/{env}/data"],
                                                  "aws:ResourceTag/Environment": env})
    assert not policy.allows("kms:PutKeyPolicy", key, {"kms:ResourceAliases": [f"alias/fargate-platform/{other}/data"],
                                                      "aws:ResourceTag/Environment": env})
    assert not policy.allows("kms:PutKeyPolicy", key, {"aws:ResourceTag/Environment": other})
    assert policy.allows("kms:CreateKey", "*", {"aws:RequestTag/Environment": env})
    assert not policy.allows("kms:CreateKey", "*", {"aws:RequestTag/Environment": other})


def allow_statements(template):
    for title, resource in template["Resources"].items():
        properties = resource["Properties"]
        documents = []
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for document in documents:
            for statement in as_list(document["Statement"]):
                if statement["Effect"] == "Allow":
                    yield title, statement


def test_no_statement_allows_everything_on_everything(rendered):
    for stack, template in rendered.items():
        for title, statement in allow_statements(template):
            assert "NotAction" not in statement and "NotResource" not in statement, (stack, title, statement)
            if "*" in as_list(statement["Resource"]):
                broad = [a for a in as_list(statement["Action"]) if a == "*" or a.endswith(":*")]
                assert not broad, f"{stack} {title} allows {broad} on every resource"


@pytest.mark.parametrize("env", pipeline_environments())
def test_the_diff_role_only_reads(env, rendered):
    for title, statement in allow_statements(rendered[env]):
        if title == "DiffRole":
            for action in as_list(statement["Action"]):
                assert READ_ONLY_VERB.match(action), action
    policy = diff_policy(rendered[env])
    assert policy.allows("cloudformation:GetTemplate",
                         f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/fargate-platform-{env}-rds/1")
    # No secret: `!secret` values appear as placeholders in the diff.
    assert not policy.allows("ssm:GetParameter",
                             f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/fargate-platform/{env}/rds/admin-password")


# --- the boundary -------------------------------------------------------------------------

@pytest.mark.parametrize("env", account_environments())
def test_the_boundary_keeps_workloads_in_their_environment_and_out_of_iam(env, rendered):
    policy = boundary_policy(rendered[env])
    other = next(e for e in pipeline_environments() if e != env)
    own_parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/fargate-platform/{env}/order/db/password"
    assert policy.allows("ssm:GetParameters", own_parameter)
    assert not policy.allows("ssm:GetParameters", own_parameter.replace(f"/{env}/", f"/{other}/"))
    assert not policy.allows("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/somebody/else")
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole",
                   "iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:CreateAccessKey"):
        assert not policy.allows(action, "*"), action
    key = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert policy.allows("kms:Decrypt", key, {"kms:ResourceAliases": [f"alias/fargate-platform/{env}/data"]})
    assert not policy.allows("kms:Decrypt", key, {"kms:ResourceAliases": [f"alias/fargate-platform/{other}/data"]})
    bucket = f"arn:aws:s3:::fargate-platform-{env}-support-artefacts-bucket-1x2y/key"
    assert policy.allows("s3:GetObject", bucket)
    assert not policy.allows("s3:GetObject", bucket.replace(f"-{env}-", f"-{other}-"))
    for action, resource in (
        ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/order"),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/fargate-platform/{env}/order:*"),
        ("ec2:CreateNetworkInterface", f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/subnet-1"),
        ("xray:PutTraceSegments", "*"),
        ("cloudwatch:PutMetricData", "*"),
        ("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:order-events"),
    ):
        assert policy.allows(action, resource), action


# --- bad settings -------------------------------------------------------------------------

@pytest.mark.parametrize("user_data, message", [
    ({"environment": "dev", "github_repository": "not a repo", "project_path": str(PROJECT)}, "github_repository"),
    ({"environment": "dev", "github_repository": "acme/x/y", "project_path": str(PROJECT)}, "OWNER/REPO"),
    ({"environment": "account", "github_repository": "acme/x", "project_path": str(PROJECT)}, "account stack group"),
    ({"environment": "Dev", "github_repository": "acme/x", "project_path": str(PROJECT)}, "invalid environment name"),
    ({"environment": "dev", "github_repository": "acme/x"}, "project_path"),
    ({"create_oidc_provider": "maybe"}, "create_oidc_provider"),
])
def test_bad_settings_are_refused_naming_the_key(user_data, message):
    with pytest.raises(account.AccountConfigError, match=message):
        account.sceptre_handler(user_data)


def test_environments_whose_names_nest_are_refused(tmp_path):
    for env in ("dev", "dev-eu"):
        (tmp_path / "config" / env).mkdir(parents=True)
    with pytest.raises(account.AccountConfigError, match="'dev' and 'dev-eu' share the name prefix"):
        account.sceptre_handler({"environment": "dev", "github_repository": "acme/x", "project_path": str(tmp_path)})
    with pytest.raises(account.AccountConfigError, match="share the name prefix"):
        account.sceptre_handler({"environment": "dev-eu", "github_repository": "acme/x", "project_path": str(tmp_path)})


def test_the_local_account_stack_is_the_boundary_alone_without_a_repository():
    from fargate_platform.templates.account import EnvironmentSettings, environment_template

    settings = EnvironmentSettings({"environment": "local", "boundary_only": True, "project_path": str(PROJECT)})
    template = environment_template(settings).to_dict()
    assert list(template["Resources"]) == ["Boundary"] and list(template["Outputs"]) == ["BoundaryArn"]
    assert template["Resources"]["Boundary"]["Properties"]["ManagedPolicyName"] == "fargate-platform-local-boundary"
