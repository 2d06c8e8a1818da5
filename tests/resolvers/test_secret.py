"""`!secret` against moto: SSM SecureString, Secrets Manager string and JSON key, errors, no leaks."""
import json
import logging

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from sceptre.context import SceptreContext
from sceptre.exceptions import InvalidResolverArgumentError
from sceptre.plan.plan import SceptrePlan
from sceptre.resolvers.placeholders import use_resolver_placeholders_on_error
from sceptre.stack import Stack

from fargate_platform.resolvers import secret
from fargate_platform.resolvers.secret import Secret, SecretLookupError

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py


DB_PASSWORD = "db-Pa55w0rd-5f1c2e"
ADMIN_PASSWORD = "admin-Pa55-77aa01"
API_TOKEN = "tok-9a8b7c6d5e"
WHOLE_SECRET = "whole-secret-string-31c4"



@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    harness.forget_sceptre_clients()
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        ssm.put_parameter(Name="/fp-test/test/db/password", Value=DB_PASSWORD, Type="SecureString", KeyId=key)
        ssm.put_parameter(Name="/fp-test/test/rds/admin-password", Value=ADMIN_PASSWORD, Type="SecureString")
        ssm.put_parameter(Name="/fp-test/test/plain", Value="not-secret", Type="String")
        ssm.put_parameter(Name="/fp-test/test/list", Value="a,b", Type="StringList")
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="fp-test/test/api", SecretString=json.dumps({"token": API_TOKEN, "port": 5432, "nested": {"a": 1}}))
        sm.create_secret(Name="fp-test/test/whole", SecretString=WHOLE_SECRET)
        sm.create_secret(Name="fp-test/test/binary", SecretBinary=b"\x00\x01")
        yield
    harness.forget_sceptre_clients()


def make_stack():
    return Stack(
        name="test/secrets",
        project_code="fp-test",
        region="us-east-1",
        template_handler_config={"type": "file", "path": "noecho.yaml"},
    )


def resolve(argument):
    return Secret(argument, make_stack()).resolve()


# --- argument forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argument, expected",
    [
        ("/a/b", {"parameter": "/a/b", "secret_id": None, "key": None, "connection": {}}),
        ({"parameter": "/a/b", "region": "eu-west-1"}, {"parameter": "/a/b", "secret_id": None, "key": None, "connection": {"region": "eu-west-1"}}),
        ({"secret_id": "x", "key": "k", "profile": "p"}, {"parameter": None, "secret_id": "x", "key": "k", "connection": {"profile": "p"}}),
    ],
)
def test_argument_forms(argument, expected):
    source = secret.parse_argument(argument)
    assert vars(source) == expected


@pytest.mark.parametrize(
    "argument, message",
    [
        ("", "!secret needs an SSM parameter name; it was given an empty string"),
        (["/a"], "!secret takes an SSM parameter name or a mapping with `parameter` or `secret_id`; it was given list"),
        ({"parameter": "/a", "version": 2}, "!secret does not take the argument(s) version; it takes key, parameter, profile, region, sceptre_role, secret_id"),
        ({"parameter": "/a", "secret_id": "b"}, "!secret takes exactly one of `parameter` and `secret_id`"),
        ({"region": "us-east-1"}, "!secret takes exactly one of `parameter` and `secret_id`"),
        ({"parameter": "/a", "key": "k"}, "!secret argument `key` only applies to `secret_id` (a JSON secret)"),
        ({"secret_id": "b", "key": 3}, "!secret argument `key` must be a non-empty string"),
    ],
)
def test_argument_errors_are_exact_and_name_the_stack(argument, message):
    with pytest.raises(InvalidResolverArgumentError) as error:
        resolve(argument)
    assert str(error.value) == f"test/secrets - {message}"


# --- lookups against moto --------------------------------------------------------------


def test_ssm_securestring_is_decrypted(aws):
    assert resolve("/fp-test/test/db/password") == DB_PASSWORD
    assert resolve({"parameter": "/fp-test/test/rds/admin-password"}) == ADMIN_PASSWORD


def test_secrets_manager_whole_string_and_json_key(aws):
    assert resolve({"secret_id": "fp-test/test/whole"}) == WHOLE_SECRET
    assert resolve({"secret_id": "fp-test/test/api", "key": "token"}) == API_TOKEN
    assert resolve({"secret_id": "fp-test/test/api", "key": "port"}) == "5432"


def test_region_override_reads_the_other_region(aws):
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name="/fp-test/other", Value="eu-value-1", Type="SecureString"
    )
    assert resolve({"parameter": "/fp-test/other", "region": "eu-west-1"}) == "eu-value-1"
    with pytest.raises(SecretLookupError, match="does not exist"):
        resolve({"parameter": "/fp-test/other"})


@pytest.mark.parametrize(
    "argument, message",
    [
        ("/fp-test/test/missing", "test/secrets - !secret: SSM parameter '/fp-test/test/missing' does not exist"),
        ({"secret_id": "fp-test/test/missing"}, "test/secrets - !secret: Secrets Manager secret 'fp-test/test/missing' does not exist"),
        ("/fp-test/test/plain", "test/secrets - !secret: SSM parameter '/fp-test/test/plain' is a String parameter, not a SecureString; store secrets as SecureString"),
        ("/fp-test/test/list", "test/secrets - !secret: SSM parameter '/fp-test/test/list' is a StringList parameter, not a SecureString; store secrets as SecureString"),
        ({"secret_id": "fp-test/test/whole", "key": "token"}, "test/secrets - !secret: Secrets Manager secret 'fp-test/test/whole' (key 'token') is not a JSON object, so it has no key 'token'"),
        ({"secret_id": "fp-test/test/api", "key": "password"}, "test/secrets - !secret: Secrets Manager secret 'fp-test/test/api' (key 'password') has no key 'password'"),
        ({"secret_id": "fp-test/test/api", "key": "nested"}, "test/secrets - !secret: key 'nested' of Secrets Manager secret 'fp-test/test/api' (key 'nested') is a dict, not a string or number"),
        ({"secret_id": "fp-test/test/binary"}, "test/secrets - !secret: Secrets Manager secret 'fp-test/test/binary' holds binary data, not a SecretString"),
    ],
)
def test_lookup_errors_name_secret_and_stack_never_the_value(aws, argument, message):
    with pytest.raises(SecretLookupError) as error:
        resolve(argument)
    assert str(error.value) == message
    # no chained exception either (a JSON decoder error keeps the secret's text in `.doc`)
    assert error.value.__cause__ is None
    assert error.value.__context__ is None or error.value.__suppress_context__
    for value in (WHOLE_SECRET, API_TOKEN, "not-secret"):
        assert value not in str(error.value)


def test_access_denied_is_reported_without_the_value():
    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_parameter", service_error_code="AccessDeniedException", service_message="not allowed", http_status_code=400
        )
        source = secret.parse_argument("/fp-test/test/db/password")
        with pytest.raises(SecretLookupError) as error:
            secret.lookup(lambda service, command, kwargs: getattr(client, command)(**kwargs), source, "test/secrets")
    assert str(error.value) == (
        "test/secrets - !secret: access to SSM parameter '/fp-test/test/db/password' was denied (AccessDeniedException)"
    )


def test_values_never_reach_the_logs_even_at_debug(aws, caplog):
    caplog.set_level(logging.DEBUG)  # root at DEBUG: botocore logs raw response bodies
    assert resolve("/fp-test/test/db/password") == DB_PASSWORD
    assert resolve({"secret_id": "fp-test/test/api", "key": "token"}) == API_TOKEN
    assert resolve({"secret_id": "fp-test/test/whole"}) == WHOLE_SECRET
    with pytest.raises(SecretLookupError):
        resolve({"secret_id": "fp-test/test/whole", "key": "token"})
    text = "\n".join(record.getMessage() for record in caplog.records)
    for value in (DB_PASSWORD, API_TOKEN, WHOLE_SECRET):
        assert value not in text
    # botocore did log response bodies here, and the filter blanked them
    assert "Response body: <redacted: !secret lookup>" in text
    assert "!secret: reading SSM parameter '/fp-test/test/db/password'" in text


def test_redaction_is_limited_to_secret_lookups(aws, caplog):
    caplog.set_level(logging.DEBUG)
    boto3.client("ssm", region_name="us-east-1").get_parameter(Name="/fp-test/test/plain")
    assert any(
        record.name == "botocore.parsers" and "not-secret" in record.getMessage() for record in caplog.records
    )


# --- loaded through the entry point by Sceptre's config reading -----------------------


def test_tags_in_a_sceptre_config_resolve_through_the_entry_point(aws):
    context = SceptreContext(project_path=str(harness.PROJECT), command_path="test/secrets.yaml")
    (stack,) = SceptrePlan(context).command_stacks
    raw = stack.config["parameters"]
    assert type(raw["DbPassword"]) is Secret  # the YAML tag loaded our class
    assert stack.parameters == {
        "DbPassword": DB_PASSWORD,
        "ApiToken": API_TOKEN,
        "AdminPassword": ADMIN_PASSWORD,
    }


def test_generate_and_diff_use_placeholders_launch_raises(aws):
    """What Sceptre does with a failing !secret: placeholder in generate/diff mode, error otherwise."""
    context = SceptreContext(project_path=str(harness.PROJECT), command_path="test/missing-secret.yaml")
    (stack,) = SceptrePlan(context).command_stacks
    with use_resolver_placeholders_on_error():
        assert stack.parameters["DbPassword"] == "{ !Secret(/fp-test/test/no-such-parameter) }"
    (stack,) = SceptrePlan(context).command_stacks
    with pytest.raises(SecretLookupError, match="test/missing-secret - !secret: SSM parameter"):
        stack.parameters


# --- the real sceptre CLI against moto's server ---------------------------------------



@pytest.mark.slow
def test_cli_launch_dump_and_missing_secret_never_show_values(moto_server, tmp_path):
    moto_server.reset()
    ssm, sm = moto_server.client("ssm"), moto_server.client("secretsmanager")
    ssm.put_parameter(Name="/fp-test/test/db/password", Value=DB_PASSWORD, Type="SecureString")
    ssm.put_parameter(Name="/fp-test/test/rds/admin-password", Value=ADMIN_PASSWORD, Type="SecureString")
    sm.create_secret(Name="fp-test/test/api", SecretString=json.dumps({"token": API_TOKEN}))
    env = harness.aws_environment(moto_server.url, tmp_path=tmp_path)

    # before the stack exists, diff shows the local parameters: NoEcho masks them
    diff = harness.run_sceptre(["--debug", "diff", "test/secrets.yaml"], env)
    assert diff.returncode == 0, diff.stderr
    assert "DbPassword: '****'" in diff.stdout and "ApiToken: '****'" in diff.stdout

    launch = harness.run_sceptre(["--debug", "launch", "-y", "test/secrets.yaml"], env)
    assert launch.returncode == 0, launch.stderr
    # the CLI resolved the three tags and handed the values to CloudFormation
    stack = moto_server.client("cloudformation").describe_stacks(StackName="fp-test-test-secrets")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "DbPassword": DB_PASSWORD,
        "ApiToken": API_TOKEN,
        "AdminPassword": ADMIN_PASSWORD,
    }

    dump_config = harness.run_sceptre(["--debug", "dump", "config", "test/secrets.yaml"], env)
    dump_template = harness.run_sceptre(["--debug", "--output", "json", "dump", "template", "test/secrets.yaml"], env)
    assert dump_config.returncode == 0, dump_config.stderr
    assert dump_template.returncode == 0, dump_template.stderr
    assert "/fp-test/test/db/password" in dump_config.stdout  # the config is there, by name
    assert '"NoEcho": true' in dump_template.stdout

    missing = harness.run_sceptre(["launch", "-y", "test/missing-secret.yaml"], env)
    assert missing.returncode != 0
    assert (
        "test/missing-secret - !secret: SSM parameter '/fp-test/test/no-such-parameter' does not exist"
        in missing.stdout + missing.stderr
    )
    assert "fp-test-test-missing-secret" not in [
        s["StackName"] for s in moto_server.client("cloudformation").describe_stacks()["Stacks"]
    ]

    for run in (diff, launch, dump_config, dump_template, missing):
        for value in (DB_PASSWORD, API_TOKEN, ADMIN_PASSWORD):
            assert value not in run.stdout
            assert value not in run.stderr
