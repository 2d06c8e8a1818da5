"""`fargate-platform purge ENV SERVICE`: confirmation, the rds stack's function, the request, the output.

The rds stack lives in moto's server (real CloudFormation API); the function's invoke
API is the local LambdaApi (moto's Lambda needs Docker to invoke).
"""
import io
import json
import sys

import pytest

from fargate_platform import cli

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

FUNCTION = "fp-test-test-db-bootstrap"
PROJECT = str(harness.PROJECT)



@pytest.fixture(scope="module")
def moto_server():
    server = harness.MotoServer().start()
    template = (harness.PROJECT / "templates" / "rds.yaml").read_text()
    server.client("cloudformation").create_stack(
        StackName="fp-test-test-rds", TemplateBody=template,
        Parameters=[{"ParameterKey": "FunctionName", "ParameterValue": FUNCTION}],
    )
    yield server
    server.stop()


@pytest.fixture
def env(moto_server, monkeypatch, tmp_path):
    api = harness.LambdaApi(function_timeout=60).start()
    environment = harness.aws_environment(moto_server.url, api.url, tmp_path)
    for name, value in environment.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    harness.forget_sceptre_clients()
    yield type("Env", (), {"api": api, "environment": environment})
    api.stop()
    harness.forget_sceptre_clients()


def purge(*args):
    return cli.main(["purge", *args, "--project-path", PROJECT])


def test_confirm_flag_purges_through_the_rds_stacks_function(env, capsys):
    assert purge("test", "orders", "--confirm", "orders") == 0
    (invocation,) = env.api.invocations()
    assert invocation["path"] == f"/2015-03-31/functions/{FUNCTION}/invocations"
    assert json.loads(invocation["body"]) == {"service": "orders", "action": "purge", "confirm": "orders"}
    out, err = capsys.readouterr()
    assert json.loads(out) == harness.default_result({"service": "orders", "action": "purge"})
    assert "purged in fp-test-test-rds: service orders: role orders purged, database orders purged" in err


def test_typed_confirmation(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("orders\n"))
    assert purge("test", "orders") == 0
    assert "Type the service name (orders) to drop its database, role and credentials: " in capsys.readouterr().err
    assert len(env.api.invocations()) == 1


@pytest.mark.parametrize("answer", ["order\n", "ORDERS\n", "\n", ""])
def test_a_wrong_or_missing_answer_does_nothing(env, monkeypatch, capsys, answer):
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    assert purge("test", "orders") == 2
    assert "fargate-platform purge: not confirmed; nothing was done" in capsys.readouterr().err
    assert env.api.requests == []


def test_wrong_confirm_flag_does_nothing(env, capsys):
    assert purge("test", "orders", "--confirm", "billing") == 2
    assert env.api.requests == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["test", "Orders", "--confirm", "Orders"], "invalid service name 'Orders'"),
        (["Test", "orders", "--confirm", "orders"], "invalid environment name 'Test'"),
        (["test", "orders", "--confirm", "orders", "--var", "novalue"], "--var must be KEY=VALUE; got 'novalue'"),
    ],
)
def test_bad_names_are_refused_before_any_call(env, capsys, args, message):
    assert purge(*args) == 1
    assert message in capsys.readouterr().err
    assert env.api.requests == []


def test_missing_rds_stack_is_a_clear_error(env, moto_server, capsys):
    moto_server.client("cloudformation").delete_stack(StackName="fp-test-test-rds")
    try:
        assert purge("test", "orders", "--confirm", "orders") == 1
        assert "fargate-platform purge: error: the stack fp-test-test-rds does not exist in us-east-1" in capsys.readouterr().err
    finally:
        moto_server.client("cloudformation").create_stack(
            StackName="fp-test-test-rds", TemplateBody=(harness.PROJECT / "templates" / "rds.yaml").read_text(),
            Parameters=[{"ParameterKey": "FunctionName", "ParameterValue": FUNCTION}],
        )
    assert env.api.requests == []


def test_function_error_is_reported(env, capsys):
    env.api.respond = env.api.function_error("service orders: confirm does not match", "ValueError")
    assert purge("test", "orders", "--confirm", "orders") == 1
    assert (
        f"fargate-platform purge: error: the bootstrap function {FUNCTION} (purge service orders) failed: "
        "ValueError: service orders: confirm does not match"
    ) in capsys.readouterr().err


def test_no_password_is_printed_even_if_the_function_sends_one(env, capsys):
    def leaky(payload):
        body = dict(harness.default_result(payload), password="Leaked-Pa55")
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    env.api.respond = leaky
    assert purge("test", "orders", "--confirm", "orders") == 0
    out, err = capsys.readouterr()
    assert "Leaked-Pa55" not in out + err
    assert json.loads(out)["password_parameter"] == "/fp-test/test/orders/db/password"


@pytest.mark.slow
def test_console_script(env):
    result = harness.run_fargate_platform(
        ["purge", "test", "orders", "--project-path", PROJECT], env.environment, stdin="orders\n"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["role"] == "purged"
    assert [json.loads(r["body"]) for r in env.api.invocations()] == [
        {"service": "orders", "action": "purge", "confirm": "orders"}
    ]
