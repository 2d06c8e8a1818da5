"""Every AWS call the functions make, held against their roles as dev and prod render them.

Each function runs its paths (create, exists, key change, rotation; ensure, again, key
change, disable, purge) against moto and the real PostgreSQL server with the environment's
own names, in the environment's account and region. Every call its code makes is recorded
(botocore's events, conftest.AwsCallRecorder), turned into what IAM is asked
(fargate_platform.aws_requests: the call itself and SSM's kms:Encrypt/Decrypt with the
function's credentials), and decided by the IAM evaluator under the role's policies, the
environment's permissions boundary and the key's policy. Lambda's own use of the role
(logs, network interfaces) is decided the same way.

Then the other way round: every statement of a function role is used by some request (an
excess statement fails), and every boto3 call written in lambdas/ was recorded here (a call
no scenario makes fails: it would go unjudged).
"""
import ast
import dataclasses
import re

import boto3
import pytest
import rendered_iam
from botocore import xform_name
from aws_call_recorder import LAMBDAS_DIR, AwsCallRecorder

from fargate_platform import aws_requests, names
from fargate_platform.lambdas.admin_secret import handler as admin_handler
from fargate_platform.lambdas.db_bootstrap.bootstrap import Bootstrapper
from fargate_platform.lambdas.db_bootstrap.request import Request
from fargate_platform.lambdas.db_bootstrap.settings import Settings

ENVIRONMENTS = ["dev", "prod", "local"]  # local carries dev's IAM shape
FUNCTIONS = {  # package in lambdas/ -> (stack, role, function)
    "admin_secret": ("support/functions", "AdminSecretRole", "AdminSecretFunction"),
    "db_bootstrap": ("rds", "BootstrapRole", "BootstrapFunction"),
}


@pytest.fixture
def environment_account(aws_credentials, monkeypatch):
    """moto in the golden templates' account and region."""
    from moto import mock_aws

    monkeypatch.setenv("MOTO_ACCOUNT_ID", rendered_iam.ACCOUNT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", rendered_iam.REGION)
    monkeypatch.setenv("AWS_REGION", rendered_iam.REGION)
    with mock_aws():
        yield


class MotoKeys:
    """aws_requests' `keys`, answered from moto's KMS and SSM (not recorded: not lambdas/)."""

    def arn(self, key_id):
        return boto3.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]

    def of_parameter(self, name):
        found = boto3.client("ssm").describe_parameters(
            ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
        if not found or found[0]["Type"] != "SecureString":
            return None
        return self.arn(found[0]["KeyId"])


@dataclasses.dataclass
class Run:
    calls: list
    data_key: str  # ARN of the environment's data key


def run_admin_secret(root, data_key, other_key, cfn_event, lambda_context):
    name = names.admin_password_parameter(root)
    steps = [
        ("Create", {"ParameterName": name, "KeyId": data_key, "RotationToken": "1"}, None),
        ("Create", {"ParameterName": name, "KeyId": data_key, "RotationToken": "1"}, None),  # exists
        ("Update", {"ParameterName": name, "KeyId": other_key, "RotationToken": "1"},
         {"ParameterName": name, "KeyId": data_key, "RotationToken": "1"}),  # key changed
        ("Update", {"ParameterName": name, "KeyId": other_key, "RotationToken": "2"},
         {"ParameterName": name, "KeyId": other_key, "RotationToken": "1"}),  # rotation
        ("Delete", {"ParameterName": name, "KeyId": other_key, "RotationToken": "2"}, None),
    ]
    for request_type, properties, old in steps:
        event = cfn_event(request_type, properties, physical_id=name if request_type != "Create" else None,
                          old_properties=old)
        admin_handler.handler(event, lambda_context(30))


def run_bootstrap(root, data_key, other_key, local_postgres, rds_admin):
    username, password = rds_admin
    admin_parameter = names.admin_password_parameter(root)
    # The admin secret wrote a password of its own; the server's admin has this one.
    boto3.client("ssm").put_parameter(Name=admin_parameter, Value=password, Type="SecureString", KeyId=data_key,
                                      Overwrite=True)
    settings = Settings(host=local_postgres.host, port=local_postgres.port, admin_username=username,
                        admin_password_parameter=admin_parameter, admin_database="postgres",
                        data_key_id=data_key, parameter_root=root, ca_bundle=local_postgres.ca_cert_path)
    ssm = boto3.client("ssm")
    service = f"perm{data_key[-8:].replace('-', '')}"
    Bootstrapper(settings, ssm).run(Request(service, "ensure"))
    Bootstrapper(settings, ssm).run(Request(service, "ensure"))  # again: parameters exist
    rekeyed = dataclasses.replace(settings, data_key_id=other_key)
    Bootstrapper(rekeyed, ssm).run(Request(service, "ensure"))  # a new data key: re-encrypted
    Bootstrapper(rekeyed, ssm).run(Request(service, "disable"))
    Bootstrapper(rekeyed, ssm).run(Request(service, "purge", service))


@pytest.fixture
def recorded(environment_account, cfn_event, lambda_context, local_postgres, rds_admin):
    """run(environment) -> Run: both functions' paths with the environment's names."""

    def run(environment):
        kms = boto3.client("kms")
        data_key, other_key = (kms.create_key(Description=d)["KeyMetadata"]["Arn"] for d in ("data", "next"))
        root = names.parameter_root("fargate-platform", environment)
        with AwsCallRecorder() as recorder:
            run_admin_secret(root, data_key, other_key, cfn_event, lambda_context)
            run_bootstrap(root, data_key, other_key, local_postgres, rds_admin)
        return Run(recorder.calls, data_key)

    return run


def principal_of(environment, package):
    stack, role, _function = FUNCTIONS[package]
    return rendered_iam.role(environment, stack, role)


def requests_by_function(environment, run):
    """{package: [(request, what made it)]}: the recorded calls and Lambda's own requests."""
    keys = MotoKeys()
    found = {package: [] for package in FUNCTIONS}
    for call in run.calls:
        made_by = [call.function] if call.function else list(FUNCTIONS)  # a shared helper: both
        for request in aws_requests.requests_of(aws_requests.Call(call.service, call.operation, call.params),
                                                rendered_iam.ACCOUNT, rendered_iam.REGION, keys):
            for package in made_by:
                found[package].append((request, f"{call.file}: {call.service}:{call.operation}"))
    for package, (stack, _role, function) in FUNCTIONS.items():
        properties = rendered_iam.resource(environment, stack, function)
        for request in aws_requests.lambda_service_requests(
                properties["FunctionName"], "2026/12/01/[$LATEST]0123",
                {"SubnetId": "subnet-0fa1", "SecurityGroupId": "sg-0fa1"} if "VpcConfig" in properties else None,
                rendered_iam.ACCOUNT, rendered_iam.REGION):
            found[package].append((request, "Lambda, with the function's role"))
    return found


def key_policy_for(environment, request, run):
    """The data key's policy for a request on it (both functions' keys are the data key)."""
    if request.action.startswith("kms:") and request.resource == run.data_key:
        return rendered_iam.key_policy(environment, "rds", "DataKey")
    return None


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_call_of_the_functions_is_allowed(recorded, environment):
    run = recorded(environment)
    denied = []
    for package, requests in requests_by_function(environment, run).items():
        principal = principal_of(environment, package)
        for request, made_by in requests:
            request = dataclasses.replace(request, principal=f"arn:aws:iam::{rendered_iam.ACCOUNT}:role/{package}")
            decision = principal.decide(request, key_policy_for(environment, request, run))
            if not decision:
                denied.append(f"{principal.name}: {request.action} on {request.resource} ({made_by}) "
                              f"denied {decision.reason}")
    assert run.calls, "the scenarios made no AWS call: the recorder saw nothing"
    assert not denied, "\n".join(sorted(set(denied)))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("package", sorted(FUNCTIONS))
def test_every_statement_of_a_function_role_is_used(recorded, environment, package):
    run = recorded(environment)
    requests = [request for request, _made_by in requests_by_function(environment, run)[package]]
    principal = principal_of(environment, package)
    unused = []
    for policy in principal.policies:
        for statement in policy["Statement"]:
            alone = rendered_iam.Principal(principal.name, [{"Statement": [statement]}], None)
            for action in _listed(statement["Action"]):
                if not any(request.action.lower() == action.lower() and alone.decide(request)
                           for request in requests):
                    unused.append(f"{statement.get('Sid')}: {action}")
    assert not unused, f"{principal.name} grants what no call uses: {unused}"


def _listed(value):
    return [value] if isinstance(value, str) else list(value)


def _operations(service, session=boto3.session.Session()):
    if service not in session.get_available_services():
        return set()
    model = session._session.get_service_model(service)
    return {xform_name(name) for name in model.operation_names}


def written_calls(root=LAMBDAS_DIR):
    """{(file, operation)} of every AWS call written in lambdas/: an operation of a service
    called on a name or attribute named after that service (`ssm.x()`, `self.ssm.x()`), and
    an operation of a service named to a `_<service>_call` helper."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Attribute, ast.Name)):
                continue
            file = path.relative_to(root).as_posix()
            func = node.func
            if isinstance(func, ast.Attribute):
                receiver = func.value
                receiver_name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
                if func.attr in _operations(receiver_name):
                    found.add((file, func.attr))
            name = func.attr if isinstance(func, ast.Attribute) else func.id
            helper = re.fullmatch(r"_([a-z0-9]+)_call", name)
            if (helper and node.args and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in _operations(helper.group(1))):
                found.add((file, node.args[0].value))
    return found


def test_every_aws_call_written_in_lambdas_is_exercised(recorded):
    run = recorded("dev")
    made = {(call.file, xform_name(call.operation)) for call in run.calls}
    written = written_calls()
    assert written, "no AWS call found in lambdas/: the scan is broken"
    assert written <= made, f"calls no scenario makes, so never judged: {sorted(written - made)}"


def test_the_scan_finds_the_calls_of_a_client_and_of_the_call_helper(tmp_path):
    source = ("def f(self, ssm):\n    ssm.describe_parameters()\n    self.ssm.put_parameter(Name='x')\n"
              "    self._ssm_call('delete_parameters', 'x')\n    self.ssm.exceptions.ParameterNotFound\n"
              "    cur.execute('SELECT 1')\n")  # `cur` is also a service's name; `execute` none of its calls
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "code.py").write_text(source)
    assert written_calls(tmp_path) == {("pkg/code.py", "describe_parameters"), ("pkg/code.py", "put_parameter"),
                               ("pkg/code.py", "delete_parameters")}
