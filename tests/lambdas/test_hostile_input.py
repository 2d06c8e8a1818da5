"""Hostile names, values and events: refused with a clear message before any SQL
statement or AWS call, and never obeyed."""
import psycopg2
import pytest

from fargate_platform.lambdas.db_bootstrap import handler as bootstrap_handler
from fargate_platform.lambdas.db_bootstrap.errors import ConfigurationError, InvalidRequest
from fargate_platform.lambdas.db_bootstrap.request import parse_event
from fargate_platform.lambdas.db_bootstrap.settings import Settings

AWS_VARIABLES = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_SESSION_TOKEN")

HOSTILE_SERVICE_NAMES = [
    "orders'; DROP DATABASE postgres; --",
    'orders"; DROP ROLE rds_master; --',
    "orders; SELECT pg_sleep(10)",
    "x' OR '1'='1",
    "Orders",
    "ORDERS",
    "ordérs",
    "заказы",
    "orders\u200b",
    "",
    " ",
    "orders ",
    "orders\n",
    "orders\x00",
    "a" * 33,
    "a" * 64,
    "postgres",
    "template1",
    "template0",
    "rdsadmin",
    "public",
    "pg_catalog",
    "1orders",
    "-orders",
    "orders/../admin",
    "orders.prod",
    "rds-superuser",
    None,
    42,
    ["orders"],
    {"name": "orders"},
]


@pytest.fixture(scope="module")
def hostile_env(local_postgres, rds_admin):
    """One moto world for the whole module (creating a KMS key per test is slow); each
    test checks that nothing was added to it."""
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
            ssm = boto3.client("ssm")
            ssm.put_parameter(Name="/fargate-platform/test/rds/admin-password", Value=rds_admin[1],
                              Type="SecureString", KeyId=key)
            environ = {
                "DB_HOST": local_postgres.host, "DB_PORT": str(local_postgres.port),
                "ADMIN_USERNAME": rds_admin[0], "ADMIN_PASSWORD_PARAMETER": "/fargate-platform/test/rds/admin-password",
                "ADMIN_DATABASE": "postgres", "DATA_KEY_ID": key, "PARAMETER_ROOT": "/fargate-platform/test",
                "CA_BUNDLE": local_postgres.ca_cert_path, "SSLMODE": "verify-full", "CONNECTION_LIMIT": "5",
            }
            yield ssm, environ


@pytest.fixture
def bootstrap_env(hostile_env, monkeypatch):
    ssm, environ = hostile_env
    for key, value in environ.items():
        monkeypatch.setenv(key, value)

    class World:
        @staticmethod
        def parameter_names():
            pages = ssm.get_paginator("describe_parameters").paginate()
            return {parameter["Name"] for page in pages for parameter in page["Parameters"]}

    return World


@pytest.fixture
def connection_attempts(monkeypatch):
    """Counts connections the code under test opens (wrapping the real psycopg2.connect)."""
    calls = []
    real_connect = psycopg2.connect

    def counting_connect(*args, **kwargs):
        calls.append(kwargs.get("dbname"))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg2, "connect", counting_connect)
    return calls


@pytest.mark.parametrize("name", HOSTILE_SERVICE_NAMES, ids=repr)
def test_hostile_service_names_are_refused_before_anything_runs(bootstrap_env, connection_attempts, name):
    before = bootstrap_env.parameter_names()
    with pytest.raises(InvalidRequest, match="invalid service name|reserved"):
        bootstrap_handler.handler({"service": name, "action": "ensure"}, None)
    assert connection_attempts == []
    assert bootstrap_env.parameter_names() == before


def test_there_are_at_least_twenty_hostile_names():
    assert len(HOSTILE_SERVICE_NAMES) >= 20


@pytest.mark.parametrize(
    "event, message",
    [
        ({"service": "orders", "host": "evil.example.com"}, "'host' refused"),
        ({"service": "orders", "key": "arn:aws:kms:us-east-1:123456789012:key/other"}, "'key' refused"),
        ({"service": "orders", "prefix": "/other-project/prod"}, "'prefix' refused"),
        ({"service": "orders", "password": "chosen"}, "'password' refused"),
        ({"service": "orders", "DB_HOST": "10.0.0.1"}, "'DB_HOST' refused"),
        ({"Service": "orders"}, "'Service' refused"),
        ({}, "no 'service'"),
        ({"action": "ensure"}, "no 'service'"),
        ({"service": "orders", "action": "drop"}, "invalid action 'drop'"),
        ({"service": "orders", "action": "ENSURE"}, "invalid action"),
        ({"service": "orders", "action": None}, "invalid action"),
        ({"service": "orders", "confirm": "orders"}, "only accepted with action 'purge'"),
        ({"service": "orders", "action": "purge"}, "repeat the service name"),
        ({"service": "orders", "action": "purge", "confirm": "ORDERS"}, "repeat the service name"),
        (["orders"], "JSON object"),
        ("orders", "JSON object"),
        (None, "JSON object"),
    ],
)
def test_events_beyond_a_name_and_an_action_are_refused(bootstrap_env, connection_attempts, event, message):
    before = bootstrap_env.parameter_names()
    with pytest.raises(InvalidRequest) as raised:
        bootstrap_handler.handler(event, None)
    assert message in str(raised.value)
    assert connection_attempts == [] and bootstrap_env.parameter_names() == before


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("DB_PORT", "5432; DROP DATABASE x", "DB_PORT"),
        ("DB_PORT", "70000", "DB_PORT"),
        ("DB_HOST", "127.0.0.1 sslmode=disable", "DB_HOST"),
        ("DB_HOST", "", "DB_HOST is not set"),
        ("ADMIN_USERNAME", "Admin'--", "ADMIN_USERNAME"),
        ("ADMIN_DATABASE", "postgres; DROP", "ADMIN_DATABASE"),
        ("DATA_KEY_ID", "key' OR 1=1", "DATA_KEY_ID"),
        ("PARAMETER_ROOT", "relative/path", "PARAMETER_ROOT"),
        ("PARAMETER_ROOT", "/trailing/", "PARAMETER_ROOT"),
        ("ADMIN_PASSWORD_PARAMETER", "/x y", "ADMIN_PASSWORD_PARAMETER"),
        ("SSLMODE", "disable", "SSLMODE"),
        ("SSLMODE", "require", "SSLMODE"),
        ("CONNECTION_LIMIT", "-1", "CONNECTION_LIMIT"),
        ("CONNECTION_LIMIT", "1e3", "CONNECTION_LIMIT"),
        ("CONNECTION_LIMIT", "0", "CONNECTION_LIMIT"),
        ("CA_BUNDLE", "/no/such/ca-bundle.pem", "CA_BUNDLE"),
    ],
)
def test_hostile_configuration_values_are_refused_naming_the_variable(bootstrap_env, connection_attempts,
                                                                      monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        bootstrap_handler.handler({"service": "orders"}, None)
    assert message in str(raised.value)
    assert connection_attempts == []


def test_service_named_like_the_admin_user_is_refused(bootstrap_env, connection_attempts, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "orders_admin")
    with pytest.raises(InvalidRequest, match="collides with the cluster's admin"):
        bootstrap_handler.handler({"service": "orders-admin"}, None)
    assert connection_attempts == []


def test_valid_events_parse():
    assert parse_event({"service": "orders"}).action == "ensure"
    assert parse_event({"service": "order-service_2", "action": "disable"}).service == "order-service_2"
    assert parse_event({"service": "orders", "action": "purge", "confirm": "orders"}).confirm == "orders"


def test_settings_error_names_a_missing_variable():
    with pytest.raises(ConfigurationError, match="environment variable [A-Z_]+ is not set"):
        Settings.from_environ({})
