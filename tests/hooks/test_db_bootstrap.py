"""`!db_bootstrap` against a local Lambda invoke API (moto's Lambda needs Docker to invoke).

The local API (tests/sceptre_project/harness.py LambdaApi) answers over real HTTP, so
these tests see the requests botocore really sends: payload, invocation type, how
many attempts, and what a read timeout does.
"""
import json
import logging

import boto3
import pytest
from sceptre.context import SceptreContext
from sceptre.exceptions import InvalidHookArgumentTypeError, InvalidHookArgumentValueError
from sceptre.plan.plan import SceptrePlan
from sceptre.stack import Stack

from fargate_platform import bootstrap_client
from fargate_platform.hooks.db_bootstrap import DbBootstrap, DbBootstrapError

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

FUNCTION = "fp-test-test-db-bootstrap"
STACK = "test/services/orders/service"



@pytest.fixture
def lambda_api(monkeypatch, tmp_path):
    api = harness.LambdaApi(function_timeout=60).start()
    for name, value in harness.aws_environment("http://127.0.0.1:9", api.url, tmp_path).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    harness.forget_sceptre_clients()
    yield api
    api.stop()
    harness.forget_sceptre_clients()


def make_hook(argument, template="service.yaml"):
    stack = Stack(name=STACK, project_code="fp-test", region="us-east-1",
                  template_handler_config={"type": "file", "path": template},
                  stack_group_config={"project_path": str(harness.PROJECT)})
    return DbBootstrap(argument, stack)


# --- arguments ----------------------------------------------------------------------------

USAGE = "{function: NAME_OR_ARN, service: NAME[, action: ensure|disable]}"


@pytest.mark.parametrize(
    "argument, error_type, message",
    [
        ("orders", InvalidHookArgumentTypeError, f"A db_bootstrap hook requires a mapping {USAGE}. You gave `'orders'`."),
        ({"function": FUNCTION, "service": "orders", "timeout": 5}, InvalidHookArgumentTypeError, f"A db_bootstrap hook does not take `timeout`; it takes {USAGE}."),
        ({"service": "orders"}, InvalidHookArgumentTypeError, "A db_bootstrap hook requires a `function` key with a non-empty string. You gave `None`."),
        ({"function": "", "service": "orders"}, InvalidHookArgumentTypeError, "A db_bootstrap hook requires a `function` key with a non-empty string. You gave `''`."),
        ({"function": FUNCTION, "service": "Orders"}, InvalidHookArgumentValueError, "A db_bootstrap hook `service` key: invalid service name 'Orders': use 1 to 32 characters, lowercase letters, digits, '-' or '_', starting with a letter."),
        ({"function": FUNCTION, "service": "postgres"}, InvalidHookArgumentValueError, "A db_bootstrap hook `service` key: invalid service name 'postgres': the name is reserved."),
        ({"function": FUNCTION, "service": "orders", "action": "purge"}, InvalidHookArgumentValueError, "A db_bootstrap hook `action` key must be one of ensure, disable. You gave `'purge'`."),
    ],
)
def test_argument_errors_are_exact_and_make_no_call(lambda_api, argument, error_type, message):
    with pytest.raises(error_type) as error:
        make_hook(argument).run()
    assert str(error.value) == message
    assert lambda_api.requests == []


# --- the request ------------------------------------------------------------------------


def test_invokes_once_with_only_service_and_action_and_a_long_read_timeout(lambda_api, monkeypatch, caplog):
    clients = []
    real_lambda_client = bootstrap_client.lambda_client
    monkeypatch.setattr(bootstrap_client, "lambda_client", lambda *a: clients.append(real_lambda_client(*a)) or clients[-1])
    caplog.set_level(logging.INFO)

    result = make_hook({"function": FUNCTION, "service": "orders"}).run()

    assert [(r["method"], r["path"]) for r in lambda_api.requests] == [
        ("GET", f"/2015-03-31/functions/{FUNCTION}/configuration"),
        ("POST", f"/2015-03-31/functions/{FUNCTION}/invocations"),
    ]
    invoke = lambda_api.invocations()[0]
    assert json.loads(invoke["body"]) == {"service": "orders", "action": "ensure"}
    assert invoke["headers"]["X-Amz-Invocation-Type"] == "RequestResponse"
    (client,) = clients
    assert client.meta.config.read_timeout == 60 + bootstrap_client.READ_TIMEOUT_MARGIN  # the function's Timeout + margin
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert result["role"] == "created"
    assert (
        f"{STACK} - db_bootstrap ensure: service orders: role orders created, database orders created; "
        "credentials /fp-test/test/orders/db/username and /fp-test/test/orders/db/password created"
    ) in caplog.messages


@pytest.fixture
def cloudformation(moto_server, lambda_api, monkeypatch):
    """moto's CloudFormation (disable asks whether the service's stack is gone)."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    harness.forget_sceptre_clients()
    return moto_server.client("cloudformation")


def test_disable_and_already_present_are_reported(lambda_api, cloudformation, caplog):
    caplog.set_level(logging.INFO)
    make_hook({"function": FUNCTION, "service": "orders", "action": "disable"}).run()
    assert json.loads(lambda_api.invocations()[0]["body"]) == {"service": "orders", "action": "disable"}

    def present(payload):
        body = dict(harness.default_result(payload), role="present", database="present", parameters="present")
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    lambda_api.respond = present
    make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert any("service orders: role orders disabled (NOLOGIN, data kept), database orders kept" in m for m in caplog.messages)
    assert any("service orders: role orders already present, database orders already present" in m for m in caplog.messages)


def test_disable_does_nothing_while_the_stack_still_exists(lambda_api, cloudformation, caplog):
    caplog.set_level(logging.INFO)
    stack_name = "fp-test-test-services-orders-service"
    cloudformation.create_stack(StackName=stack_name, TemplateBody=(
        '{"Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}'))
    assert make_hook({"function": FUNCTION, "service": "orders", "action": "disable"}).run() is None
    assert lambda_api.invocations() == []
    assert any(f"disable skipped: {stack_name} still exists" in m for m in caplog.messages)


def test_the_functions_timeout_is_read_once_per_run_not_once_per_service(lambda_api):
    for service in ("orders", "billing", "stock"):
        make_hook({"function": FUNCTION, "service": service}).run()
    reads = [r for r in lambda_api.requests if r["method"] == "GET"]
    assert len(reads) == 1 and len(lambda_api.invocations()) == 3


def test_an_inactive_function_is_woken_by_one_refused_invoke_then_run_once(lambda_api, monkeypatch):
    monkeypatch.setattr(bootstrap_client, "ACTIVATION_POLL", 0.01)
    lambda_api.states = ["Inactive", "Pending", "Pending", "Active"]
    result = make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert result["service"] == "orders"
    wake, real = lambda_api.invocations()
    assert json.loads(wake["body"]) == {}  # refused by Lambda; the function refuses it too
    assert json.loads(real["body"]) == {"service": "orders", "action": "ensure"}
    assert len([r for r in lambda_api.requests if r["method"] == "GET"]) == 4


def test_a_function_that_does_not_come_back_in_time_is_a_clear_error(lambda_api, monkeypatch):
    monkeypatch.setattr(bootstrap_client, "ACTIVATION_POLL", 0.01)
    monkeypatch.setattr(bootstrap_client, "ACTIVATION_TIMEOUT", 0.2)
    lambda_api.states = ["Inactive", "Pending"]
    with pytest.raises(DbBootstrapError, match=rf"{FUNCTION} did not become Active within 0.2 s "
                                               r"\(state Pending\)"):
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert [json.loads(r["body"]) for r in lambda_api.invocations()] == [{}]  # never the real one


def test_a_failed_function_says_why(lambda_api):
    lambda_api.states, lambda_api.state_reason = ["Failed"], "The subnet has no free addresses"
    with pytest.raises(DbBootstrapError, match="is in state Failed: The subnet has no free addresses"):
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert lambda_api.invocations() == []


def test_a_server_error_is_not_retried(lambda_api):
    lambda_api.respond = lambda_api.server_error
    with pytest.raises(DbBootstrapError, match="Lambda refused to invoke .*ServiceException"):
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert len(lambda_api.invocations()) == 1  # botocore's default would have sent up to 5


def test_no_answer_within_the_read_timeout_is_one_attempt_and_a_clear_error(lambda_api, monkeypatch):
    lambda_api.function_timeout, lambda_api.delay = 1, 2.5
    monkeypatch.setattr(bootstrap_client, "READ_TIMEOUT_MARGIN", 0)
    with pytest.raises(DbBootstrapError) as error:
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert str(error.value) == (
        f"{STACK} - db_bootstrap: no answer from the bootstrap function {FUNCTION} (ensure service orders) "
        "within 1 s; it may still be running: check its log, then launch again (the bootstrap is idempotent)"
    )
    assert len(lambda_api.invocations()) == 1


# --- answers ------------------------------------------------------------------------------


def test_function_error_raises_with_the_functions_message(lambda_api):
    lambda_api.respond = lambda_api.function_error("could not connect to 10.0.3.7:5432: timeout", "OperationalError")
    with pytest.raises(DbBootstrapError) as error:
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert str(error.value) == (
        f"{STACK} - db_bootstrap: the bootstrap function {FUNCTION} (ensure service orders) failed: "
        "OperationalError: could not connect to 10.0.3.7:5432: timeout"
    )
    assert len(lambda_api.invocations()) == 1


def test_throttling_is_a_clear_message_and_not_retried(lambda_api):
    lambda_api.respond = lambda_api.throttled
    with pytest.raises(DbBootstrapError) as error:
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert str(error.value) == (
        f"{STACK} - db_bootstrap: Lambda throttled the bootstrap function {FUNCTION} (ensure service orders) "
        "(TooManyRequestsException); it did not run: launch again later"
    )
    assert len(lambda_api.invocations()) == 1


def test_unknown_function_is_a_clear_message(lambda_api):
    lambda_api.functions = {"another-function"}
    with pytest.raises(DbBootstrapError) as error:
        make_hook({"function": FUNCTION, "service": "orders"}).run()
    assert str(error.value) == f"{STACK} - db_bootstrap: the bootstrap function {FUNCTION} does not exist"
    assert lambda_api.invocations() == []


def test_unreachable_lambda_api_is_a_clear_message(lambda_api, monkeypatch):
    closed = f"http://127.0.0.1:{harness.free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", closed)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the configuration read retries like any read
    harness.forget_sceptre_clients()
    with pytest.raises(DbBootstrapError, match=rf"^{STACK} - db_bootstrap: the Lambda API could not be reached to read the configuration of {FUNCTION}"):
        make_hook({"function": FUNCTION, "service": "orders"}).run()

    client = bootstrap_client.lambda_client(boto3.Session(region_name="us-east-1"), 5)
    with pytest.raises(DbBootstrapError) as error:
        bootstrap_client.invoke(client, FUNCTION, {"service": "orders", "action": "ensure"})
    assert str(error.value) == (
        f"the Lambda API at {closed} could not be reached to run the bootstrap function {FUNCTION} "
        "(ensure service orders)"
    )


def test_nothing_secret_is_reported_even_if_the_function_misbehaves(lambda_api, caplog):
    def leaky(payload):
        body = dict(harness.default_result(payload), password="Leaked-Pa55", admin_secret="Also-Leaked")
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    lambda_api.respond = leaky
    caplog.set_level(logging.DEBUG)
    make_hook({"function": FUNCTION, "service": "orders"}).run()
    text = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("botocore"))
    assert "role orders created" in text
    assert "Leaked-Pa55" not in text and "Also-Leaked" not in text
    assert bootstrap_client.safe_result({"password": "x", "password_parameter": "/p", "role": "created"}) == {
        "password_parameter": "/p", "role": "created"}


# --- through Sceptre's config reading and the real CLI -----------------------------------


def test_the_tag_is_loaded_from_a_sceptre_config():
    context = SceptreContext(project_path=str(harness.PROJECT), command_path="test/services/orders/service.yaml")
    (stack,) = SceptrePlan(context).command_stacks
    (before,) = stack.hooks["before_create"]
    assert stack.hooks["before_update"] == [before]
    (after,) = stack.hooks["after_delete"]
    assert type(before) is DbBootstrap and type(after) is DbBootstrap
    assert before._argument["service"] == "orders" and after._argument["action"] == "disable"
    assert [dependency.name for dependency in stack.dependencies] == ["test/rds"]


@pytest.mark.slow
def test_cli_launch_runs_ensure_first_and_delete_runs_disable(moto_server, tmp_path):
    moto_server.reset()
    api = harness.LambdaApi(function_timeout=60).start()
    try:
        env = harness.aws_environment(moto_server.url, api.url, tmp_path)
        cloudformation = moto_server.client("cloudformation")

        # the function fails: Sceptre stops before the service stack is created, with the message
        api.respond = api.function_error("database cluster is not available", "OperationalError")
        failed = harness.run_sceptre(["launch", "-y", "test/services/orders"], env)
        assert failed.returncode != 0
        assert (
            f"test/services/orders/service - db_bootstrap: the bootstrap function {FUNCTION} (ensure service orders) "
            "failed: OperationalError: database cluster is not available"
        ) in failed.stdout + failed.stderr
        names = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
        assert "fp-test-test-rds" in names and "fp-test-test-services-orders-service" not in names

        api.respond, api.requests = api.success, []
        launched = harness.run_sceptre(["launch", "-y", "test/services/orders"], env)
        assert launched.returncode == 0, launched.stderr
        assert [json.loads(r["body"]) for r in api.invocations()] == [{"service": "orders", "action": "ensure"}]
        assert api.invocations()[0]["path"] == f"/2015-03-31/functions/{FUNCTION}/invocations"  # via !stack_output
        assert "db_bootstrap ensure: service orders: role orders created" in launched.stdout + launched.stderr
        assert cloudformation.describe_stacks(StackName="fp-test-test-services-orders-service")["Stacks"]

        deleted = harness.run_sceptre(["delete", "-y", "test/services/orders/service.yaml"], env)
        assert deleted.returncode == 0, deleted.stderr
        assert [json.loads(r["body"]) for r in api.invocations()] == [
            {"service": "orders", "action": "ensure"},
            {"service": "orders", "action": "disable"},
        ]
        assert "db_bootstrap disable: service orders: role orders disabled" in deleted.stdout + deleted.stderr
    finally:
        api.stop()


def test_a_template_that_does_not_render_stops_ensure_before_the_function_runs(lambda_api, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def sceptre_handler(sceptre_user_data):\n    raise ValueError('bad service config')\n")
    with pytest.raises(Exception, match="bad service config"):
        make_hook({"function": FUNCTION, "service": "orders"}, template=str(broken)).run()
    assert lambda_api.requests == []
