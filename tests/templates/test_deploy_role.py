"""The CI deploy role (templates/account.py's DeployRole, its managed policies) held against
what launching an environment calls with it, on the rendered dev and prod templates:

- every resource's CloudFormation handlers (registry schemas: handler_permissions), on the
  ARNs of that environment's resources, with the tags the stack puts on them;
- every role a template passes, to the service it is passed to;
- the custom resource's ServiceToken function and the `{{resolve:ssm-secure}}` reference,
  which CloudFormation resolves with the caller's credentials;
- what Sceptre (launch, diff) and the project's hooks and resolvers call (CALLS; a call
  written in hooks/, resolvers/, the bootstrap client or the deployment report that CALLS
  does not list fails).

Then the other way round: every action the deploy policies allow is used by some request
(an excess grant fails), and what the role must never do is denied.
"""
import ast
import fnmatch
import functools
import json
import re
from pathlib import Path

import botocore.session
import handler_permissions as hp
import pytest
import rendered_iam
from botocore import xform_name

from fargate_platform import service_authorization
from fargate_platform.iam_policy import Request, decide

ENVIRONMENTS = ["dev", "prod"]
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = rendered_iam.ACCOUNT, rendered_iam.REGION
MANAGED_POLICY_MAX_CHARS = 6144
MANAGED_POLICIES_PER_ROLE = 10


def stack_arn(env, stack):
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{hp.stack_name(env, stack)}/0123-4567"


def stacks(env):
    root = rendered_iam.GOLDEN / env
    return [path.relative_to(root).with_suffix("").as_posix() for path in sorted(root.rglob("*.json"))]


def function_arn(env, name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{hp.PROJECT}-{env}-{name}"


def artefacts_objects(env):
    bucket = hp._generated(env, "support/artefacts", "ArtefactsBucket")
    return [f"arn:aws:s3:::{bucket}/lambda/db_bootstrap/0123.zip"]


def cluster_arn(env):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{hp.PROJECT}-{env}"


def every_stack(env):
    return [stack_arn(env, stack) for stack in stacks(env)]


def service_stacks(env):
    return [stack_arn(env, stack) for stack in stacks(env) if stack.startswith("services/")]


def config_of(env):
    return (ROOT / "config" / env / "config.yaml").read_text()


# What the pipeline calls with the deploy role besides CloudFormation's handlers:
# (service, operation) -> (where, resources(env) -> [ARN]; None: never called in dev or prod).
CALLS = {
    # sceptre/plan/actions.py (launch): status, create or update (delete first of a stack in
    # ROLLBACK_COMPLETE), events while waiting. No change sets, no stack policy, no timeout.
    ("cloudformation", "describe_stacks"): ("sceptre launch/diff, !env_output, !alb_output, !db_bootstrap", every_stack),
    ("cloudformation", "create_stack"): ("sceptre launch", every_stack),
    ("cloudformation", "update_stack"): ("sceptre launch", every_stack),
    ("cloudformation", "delete_stack"): ("sceptre launch of a ROLLBACK_COMPLETE stack", every_stack),
    ("cloudformation", "describe_stack_events"): ("sceptre launch, waiting", every_stack),
    # sceptre/diffing/stack_differ.py (diff): the deployed template and its summary, and the
    # generated template's summary (no stack: `*`).
    ("cloudformation", "get_template"): ("sceptre diff", every_stack),
    ("cloudformation", "get_template_summary"): ("sceptre diff", lambda env: every_stack(env) + ["*"]),
    # CreateStack/UpdateStack with Sceptre's stack_tags: tagging a stack is authorized as
    # cloudformation:TagResource as well.
    ("cloudformation", "tag_resource"): ("stack_tags on create and update", every_stack),
    # hooks/termination_protection.py: where the environment's config turns it on; the role
    # allows it in every environment, so turning it on needs no new account stack.
    ("cloudformation", "update_termination_protection"): ("hooks/termination_protection.py", every_stack),
    # resolvers/rule_priority.py: the service stack's own resources, the listener's rules and
    # their target groups' tags.
    ("cloudformation", "list_stack_resources"): ("resolvers/rule_priority.py", service_stacks),
    ("elbv2", "describe_rules"): ("resolvers/rule_priority.py", lambda env: ["*"]),
    ("elbv2", "describe_tags"): ("resolvers/rule_priority.py", lambda env: ["*"]),
    # hooks/existing_network.py: only for an environment on an existing network.
    ("ec2", "describe_vpcs"): ("hooks/existing_network.py",
                               lambda env: ["*"] if "existing:" in config_of(env) else []),
    ("ec2", "describe_subnets"): ("hooks/existing_network.py",
                                  lambda env: ["*"] if "existing:" in config_of(env) else []),
    # hooks/upload_lambda_code.py: the zips, under their content-hash keys.
    ("s3", "head_object"): ("hooks/upload_lambda_code.py", artefacts_objects),
    ("s3", "put_object"): ("hooks/upload_lambda_code.py", artefacts_objects),
    # fargate_platform/bootstrap_client.py (hooks/db_bootstrap.py): the bootstrap function.
    ("lambda", "get_function_configuration"): ("fargate_platform/bootstrap_client.py",
                                               lambda env: [function_arn(env, "db-bootstrap")]),
    ("lambda", "invoke"): ("fargate_platform/bootstrap_client.py", lambda env: [function_arn(env, "db-bootstrap")]),
    # fargate_platform/deployment_report.py (hooks/deployment_report.py): after a service
    # stack's create or update, its events; after a deployment the circuit breaker failed,
    # the stopped tasks (ListTasks is authorized on the cluster: the ecs:cluster key), their
    # task definitions and their log streams.
    ("ecs", "list_tasks"): ("fargate_platform/deployment_report.py",
                            lambda env: [("*", {"ecs:cluster": cluster_arn(env)})]),
    ("ecs", "describe_tasks"): ("fargate_platform/deployment_report.py",
                                lambda env: [f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{hp.PROJECT}-{env}/0123"]),
    ("ecs", "describe_task_definition"): ("fargate_platform/deployment_report.py", lambda env: ["*"]),
    ("logs", "get_log_events"): ("fargate_platform/deployment_report.py", lambda env: [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/{hp.PROJECT}/{env}/services/order:log-stream:order/app/0123"]),
    # resolvers/secret.py: no stack of dev or prod uses !secret (test_no_stack_uses_the_secret_resolver).
    ("ssm", "get_parameter"): ("resolvers/secret.py", None),
    ("secretsmanager", "get_secret_value"): ("resolvers/secret.py", None),
}
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
SCANNED = [ROOT / "hooks", ROOT / "resolvers", ROOT / "fargate_platform" / "bootstrap_client.py",
           ROOT / "fargate_platform" / "deployment_report.py"]


@functools.lru_cache(maxsize=None)
def _operations(service):
    return {xform_name(name) for name in botocore.session.get_session().get_service_model(service).operation_names}


def written_calls(paths=SCANNED):
    """{(service, operation)} written in the files: a string or attribute that is an operation
    of a service the same file names (`connection_manager.call("elbv2", command, ...)`,
    `call("describe_rules", ...)`, `client.invoke(...)` of `session.client("lambda")`)."""
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*.py")))]
    available = set(botocore.session.get_session().get_available_services())
    found = set()
    for path in files:
        tree = ast.parse(path.read_text())
        strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        services = strings & available
        called = {node.func.attr for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
        for service in services:
            for operation in _operations(service) & (strings | called):
                found.add((service, operation))
    return found


def call_requests(env):
    needs = []
    for (service, operation), (where, resources) in CALLS.items():
        if resources is None:
            continue
        prefix = IAM_PREFIX.get(service, service)
        action = service_authorization.action_of(prefix, "".join(w.capitalize() for w in operation.split("_")))
        for arn in resources(env):
            arn, context = arn if isinstance(arn, tuple) else (arn, {})  # (ARN, condition keys)
            needs.append(hp.Need(Request(action, arn, {"aws:ResourceTag/Environment": env,
                                                        "aws:ResourceTag/Project": hp.PROJECT, **context}),
                                 f"{env} {where}"))
    return needs


def dynamic_reference_requests(env, resources):
    """`{{resolve:ssm-secure:<admin parameter>}}`: CloudFormation reads the parameter with the
    caller's credentials, and SSM decrypts it with them (kms:Decrypt via SSM)."""
    needs = []
    keys = {r.logical: r for r in resources if r.type == "AWS::KMS::Key" and r.stack == "rds"}
    for resource in resources:
        if resource.type == "Custom::AdminSecret":
            name = resource.properties["ParameterName"]
            parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"
            key = hp._key_arn(env, "rds", next(iter(keys)))
            needs += [
                hp.Need(Request("ssm:GetParameters", parameter), f"{env} rds {{{{resolve:ssm-secure}}}}"),
                hp.Need(Request("kms:Decrypt", key, {"kms:ViaService": f"ssm.{REGION}.amazonaws.com",
                                                     "kms:EncryptionContext:PARAMETER_ARN": parameter,
                                                     "aws:ResourceTag/Environment": env,
                                                     "aws:ResourceTag/Project": hp.PROJECT}),
                        f"{env} rds {{{{resolve:ssm-secure}}}}: SSM decrypts with the caller's credentials"),
            ]
    return needs


def config_switch_requests(env):
    """What the role allows in every environment because the environment's config may turn it
    on without a new account stack: interface endpoints with private DNS
    (network.interface_endpoints, on in prod)."""
    return hp.private_dns_requests(f"fargate-platform-{env}-network-vpc-1a2b3c4d", f"{env} network.interface_endpoints")


def all_needs(env):
    resources = hp.resources(env)
    needs = []
    for resource in resources:
        if resource.type.startswith("Custom::"):
            needs += hp.custom_resource_requests(resource)
        else:
            needs += hp.resource_requests(resource) + hp.passed_roles(resource)
            needs += hp.beyond_schema_requests(resource)
    return needs + dynamic_reference_requests(env, resources) + call_requests(env) + config_switch_requests(env)


def key_policies(env):
    return {hp._key_arn(env, r.stack, r.logical): r.properties["KeyPolicy"]
            for r in hp.resources(env) if r.type == "AWS::KMS::Key"}


def judged(env, request, policies=None):
    policies = policies if policies is not None else rendered_iam.deploy_role(env).policies
    key_policy = key_policies(env).get(request.resource) if request.action.startswith("kms:") else None
    principal = f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-account-{env}-deploy"
    request = Request(request.action, request.resource, request.context, principal)
    return decide(request, identity=policies, resource_policy=key_policy)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_deploy_role_allows_what_launching_the_environment_calls(env):
    denied = sorted({f"{need.request.action} on {need.request.resource} ({need.why}): {decision.reason}"
                     for need in all_needs(env) if not (decision := judged(env, need.request))})
    assert not denied, f"{len(denied)} denied:\n" + "\n".join(denied)


def _allowed_actions(statement):
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_action_the_deploy_role_allows_is_used(env):
    needs = all_needs(env)
    unused = []
    for policy in rendered_iam.deploy_role(env).policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            for action in _allowed_actions(statement):
                alone = {"Statement": [{**statement, "Action": [action]}]}
                if not any(decide(n.request, identity=[alone]) for n in needs
                           if fnmatch.fnmatchcase(n.request.action.lower(), action.lower())):
                    unused.append(f"{statement['Sid']}: {action}")
    assert not unused, "allowed but never needed:\n" + "\n".join(unused)


def test_every_call_written_in_hooks_and_resolvers_is_listed():
    written = written_calls()
    assert ("lambda", "invoke") in written and ("elbv2", "describe_rules") in written, "the scan is broken"
    assert written <= set(CALLS), f"calls not in CALLS, so never judged: {sorted(written - set(CALLS))}"


def test_the_scan_finds_a_connection_managers_calls_and_a_clients(tmp_path):
    (tmp_path / "hook.py").write_text(
        "def run(cm, session):\n    cm.call('cloudformation', 'describe_stacks', {})\n"
        "    call = lambda command, kwargs: cm.call('elbv2', command, kwargs)\n    call('describe_rules', {})\n"
        "    session.client('lambda').invoke(FunctionName='f')\n    print('execute')\n")
    assert written_calls([tmp_path]) == {("cloudformation", "describe_stacks"), ("elbv2", "describe_rules"),
                                         ("lambda", "invoke")}


def test_no_stack_uses_the_secret_resolver():
    """CALLS leaves !secret's reads out: the deploy role reads no parameter or secret but the
    admin password (for `{{resolve:ssm-secure}}`)."""
    for env in ENVIRONMENTS:
        for path in (ROOT / "config" / env).rglob("*.yaml"):
            assert "!secret" not in path.read_text(), f"{path}: !secret reads with the deploy role; judge it in CALLS"


# What the deploy role of `dev` must never be allowed.
def deploy(env="dev"):
    return rendered_iam.deploy_role(env)


def dev_boundary():
    return f"arn:aws:iam::{ACCOUNT}:policy/fargate-platform-dev-boundary"


def test_no_role_without_the_environments_boundary():
    role = f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-dev-rds-BootstrapRole-X"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"):
        assert not judged("dev", Request(action, role)), f"{action} without a boundary"
        for other in ("fargate-platform-prod-boundary", "AdministratorAccess", "fargate-platform-dev-other"):
            boundary = f"arn:aws:iam::{ACCOUNT}:policy/{other}"
            assert not judged("dev", Request(action, role, {"iam:PermissionsBoundary": boundary})), (action, other)
        assert judged("dev", Request(action, role, {"iam:PermissionsBoundary": dev_boundary()})), action
    # The platform's roles have inline policies only: no managed policy (AdministratorAccess) at all.
    assert not judged("dev", Request("iam:AttachRolePolicy", role, {"iam:PermissionsBoundary": dev_boundary()}))
    outside = f"arn:aws:iam::{ACCOUNT}:role/admin"
    assert not judged("dev", Request("iam:CreateRole", outside, {"iam:PermissionsBoundary": dev_boundary()}))


def test_a_boundary_is_never_removed_nor_changed():
    role = f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-dev-rds-BootstrapRole-X"
    assert not judged("dev", Request("iam:DeleteRolePermissionsBoundary", role,
                                     {"iam:PermissionsBoundary": dev_boundary()}))
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not judged("dev", Request(action, dev_boundary())), action
    for (kind, action), _reason in hp.DENIED_BY_DESIGN.items():
        assert not judged("dev", Request(action, role, {"iam:PermissionsBoundary": dev_boundary()})), action


def prod_tags():
    return {"aws:ResourceTag/Environment": "prod", "aws:ResourceTag/Project": hp.PROJECT}


PROD_RESOURCES = [
    ("cloudformation:UpdateStack", stack_arn("prod", "rds")),
    ("cloudformation:DeleteStack", stack_arn("prod", "network")),
    ("lambda:UpdateFunctionCode", function_arn("prod", "db-bootstrap")),
    ("lambda:InvokeFunction", function_arn("prod", "admin-secret")),
    ("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fargate-platform/prod/rds/admin-password"),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/fargate-platform/prod/vpc-flow-logs"),
    ("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fargate-platform-prod-db-bootstrap"),
    ("rds:DeleteDBCluster", f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:fargate-platform-prod-rds-databasecluster-1a2b"),
    ("rds:ModifyDBInstance", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:fargate-platform-prod-rds-databasewriter-1a2b"),
    ("elasticloadbalancing:DeleteLoadBalancer",
     f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/farga-Appli-1A2B/0123"),
    ("elasticloadbalancing:ModifyTargetGroup",
     f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/farga-Targe-1A2B/0123"),
    ("ecs:UpdateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/fargate-platform-prod/order"),
    ("s3:PutObject", "arn:aws:s3:::fargate-platform-prod-support-artefacts-artefactsbucket-1a2b/lambda/x.zip"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-prod-rds-BootstrapRole-X"),
    ("iam:DeleteRole", f"arn:aws:iam::{ACCOUNT}:role/fargate-platform-prod-rds-BootstrapRole-X"),
]


@pytest.mark.parametrize("action, arn", PROD_RESOURCES)
def test_the_dev_deploy_role_cannot_touch_prods_resources(action, arn):
    context = {**prod_tags(), "iam:PassedToService": "lambda.amazonaws.com"}
    assert not judged("dev", Request(action, arn, context))


def test_no_service_database_password_only_the_admin_password():
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/fargate-platform/dev"
    for action in ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"):
        assert not judged("dev", Request(action, f"{parameter}/order/db/password")), action
        assert not judged("dev", Request(action, parameter)), action
    assert judged("dev", Request("ssm:GetParameters", f"{parameter}/rds/admin-password"))
    assert not judged("dev", Request("ssm:PutParameter", f"{parameter}/rds/admin-password"))


KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-0000-0000-0000-000000000000"
KEY_ACTIONS = ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKey", "kms:UpdateAlias", "kms:CreateAlias"]


@pytest.mark.parametrize("action", KEY_ACTIONS)
def test_no_key_but_the_environments(action):
    others = [
        prod_tags(),  # prod's key
        {"kms:ResourceAliases": ["alias/fargate-platform/prod/data"], **prod_tags()},
        {},  # an untagged key of someone else
        {"aws:ResourceTag/Environment": "dev-eu"},
    ]
    for context in others:
        assert not judged("dev", Request(action, KEY, context)), (action, context)
    own = {"aws:ResourceTag/Environment": "dev", "aws:ResourceTag/Project": hp.PROJECT,
           "kms:ResourceAliases": ["alias/fargate-platform/dev/data"]}
    assert judged("dev", Request(action, KEY, own)), action


def test_no_alias_of_another_environment():
    alias = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/fargate-platform/prod/data"
    for action in ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"):
        assert not judged("dev", Request(action, alias)), action


@pytest.mark.parametrize("principal", ["*", "s3.amazonaws.com", "123456789012", "events.amazonaws.com"])
def test_no_lambda_permission_for_any_principal(principal):
    """CloudFormation adds no function permission for the platform (no AWS::Lambda::Permission)."""
    request = Request("lambda:AddPermission", function_arn("dev", "db-bootstrap"), {"lambda:Principal": principal})
    assert not judged("dev", request)
    assert not judged("dev", Request("lambda:AddLayerVersionPermission", "*", {"lambda:Principal": principal}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_star_action_on_star(env):
    for policy in deploy(env).policies:
        for statement in policy["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in _allowed_actions(statement):
                assert not (action.endswith(":*") or action == "*"), f"{statement['Sid']}: {action}"
                if "*" in resources:
                    assert "*" not in action or action.split(":", 1)[1].startswith(("Describe", "List", "Get")), (
                        f"{statement['Sid']}: {action} on *")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_managed_policies_fit_iams_limits(env):
    account = rendered_iam.template("account", env)["Resources"]
    attached = account["DeployRole"]["Properties"]["ManagedPolicyArns"]
    assert len(attached) <= MANAGED_POLICIES_PER_ROLE
    for ref in attached:
        document = account[ref["Ref"]]["Properties"]["PolicyDocument"]
        size = len(re.sub(r"\s", "", json.dumps(rendered_iam.resolved(document), separators=(",", ":"))))
        assert size <= MANAGED_POLICY_MAX_CHARS, f"{ref['Ref']}: {size} characters"


def _condition_values(env, action, key):
    values = set()
    for policy in deploy(env).policies:
        for statement in policy["Statement"]:
            if statement["Effect"] == "Allow" and action in _allowed_actions(statement):
                for body in statement.get("Condition", {}).values():
                    found = body.get(key)
                    values |= set([found] if isinstance(found, str) else found or [])
    return values


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_roles_are_passed_to_exactly_the_services_the_templates_pass_them_to(env):
    passed = {need.request.context["iam:PassedToService"] for need in all_needs(env)
              if need.request.action == "iam:PassRole"}
    assert passed and _condition_values(env, "iam:PassRole", "iam:PassedToService") == passed


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_service_linked_roles_only_of_the_services_the_handlers_create_them_for(env):
    services = {need.request.context["iam:AWSServiceName"] for need in all_needs(env)
                if need.request.action == "iam:CreateServiceLinkedRole"}
    assert services and _condition_values(env, "iam:CreateServiceLinkedRole", "iam:AWSServiceName") == services


# `sceptre diff <env>` with the read-only diff role: the deployed stack, its template and
# summary, the generated template's summary (sceptre/diffing/stack_differ.py) and the
# resolvers the stacks' config uses (no hook runs in a diff; !secret shows a placeholder).
DIFF_CALLS = [("cloudformation", "describe_stacks"), ("cloudformation", "get_template"),
              ("cloudformation", "get_template_summary"), ("cloudformation", "list_stack_resources"),
              ("elbv2", "describe_rules"), ("elbv2", "describe_tags")]


def diff_needs(env):
    return [need for need in call_requests(env)
            if any(need.request.action == service_authorization.action_of(
                IAM_PREFIX.get(s, s), "".join(w.capitalize() for w in o.split("_"))) for s, o in DIFF_CALLS)]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_diff_role_allows_what_sceptre_diff_calls_and_nothing_more(env):
    policies = rendered_iam.diff_role(env).policies
    needs = diff_needs(env)
    denied = [f"{n.request.action} on {n.request.resource}" for n in needs if not judged(env, n.request, policies)]
    assert not denied, denied
    unused = []
    for policy in policies:
        for statement in policy["Statement"]:
            for action in _allowed_actions(statement):
                alone = {"Statement": [{**statement, "Action": [action]}]}
                if not any(decide(n.request, identity=[alone]) for n in needs
                           if fnmatch.fnmatchcase(n.request.action.lower(), action.lower())):
                    unused.append(f"{statement['Sid']}: {action}")
    assert not unused, "the diff role allows what diff never calls:\n" + "\n".join(unused)
