"""`fargate-platform logs ENV SERVICE`: the service stack's log group, read through the
environment's Sceptre config, every stream's lines oldest first, --since and --follow."""
import io
import json
import time
import types

import pytest

from fargate_platform import cli, logs

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

PROJECT = str(harness.PROJECT)
STACK = "fp-test-test-services-orders-service"
GROUP = "/fp-test/test/services/orders"


@pytest.fixture(scope="module")
def moto_server():
    server = harness.MotoServer().start()
    server.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps({
        "Resources": {"LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": GROUP}}},
        "Outputs": {"LogGroupName": {"Value": {"Ref": "LogGroup"}}}}))
    now = int(time.time() * 1000)
    client = server.client("logs")
    for stream, lines in {"orders/orders/1": [(now - 3_600_000 * 2, "too old"), (now - 2000, "first")],
                          "orders/orders/2": [(now - 1000, "second")]}.items():
        client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        client.put_log_events(logGroupName=GROUP, logStreamName=stream,
                              logEvents=[{"timestamp": at, "message": text} for at, text in lines])
    yield server
    server.stop()


def test_the_lines_of_every_stream_since_come_oldest_first(env, capsys):
    assert cli.main(["logs", "test", "orders", "--since", "1h", "--project-path", PROJECT]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["first", "second"]
    assert lines[0].split(" ")[1] == "orders/orders/1" and lines[0].split(" ")[0].endswith("Z")


def test_follow_prints_new_lines_once_each(env):
    out, sleeps = io.StringIO(), []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 1:
            env.client("logs").put_log_events(logGroupName=GROUP, logStreamName="orders/orders/2", logEvents=[
                {"timestamp": int(time.time() * 1000), "message": "third"}])
            return
        raise KeyboardInterrupt  # the user's Ctrl-C

    args = types.SimpleNamespace(environment="test", service="orders", since="1h", follow=True,
                                 project_path=PROJECT, var=[])
    assert logs.run(args, out=out, sleep=sleep) == 0
    assert [line.split("  ", 1)[1] for line in out.getvalue().splitlines()] == ["first", "second", "third"]


@pytest.mark.parametrize("argv, message", [
    (["logs", "test", "orders", "--since", "ten minutes"], "--since 'ten minutes': give a number and a unit"),
    (["logs", "test", "nosuch"], "expected one stack at test/services/nosuch/service.yaml, found 0"),
])
def test_bad_requests_are_one_line(env, capsys, argv, message):
    assert cli.main([*argv, "--project-path", PROJECT]) == 1
    assert f"fargate-platform logs: error: {message}" in capsys.readouterr().err
