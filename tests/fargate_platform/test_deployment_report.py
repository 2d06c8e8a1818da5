"""deployment_report.py: a failed deployment's stopped tasks and their last log lines, read
through moto's ECS and CloudWatch Logs (the stack events are CloudFormation's shape)."""
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from fargate_platform import deployment_report

ACCOUNT, REGION = "123456789012", "eu-west-1"
STACK = "fargate-platform-local-services-order-service"
BREAKER = ("Resource handler returned message: \"Error occurred during operation 'ECS Deployment "
           "Circuit Breaker was triggered'.\" (RequestToken: 1, HandlerErrorCode: GeneralServiceException)")


def event(logical, status, reason=None, minutes=0):
    return {"LogicalResourceId": logical, "ResourceStatus": status, "ResourceStatusReason": reason,
            "Timestamp": datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc) + timedelta(minutes=minutes)}


@pytest.fixture
def aws():
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("ecs", "logs")}

        def call(service, command, kwargs):
            return getattr(clients[service], command)(**kwargs)
        yield clients["ecs"], clients["logs"], call


def failed_task(ecs, logs, definition, lines, reason="Essential container in task exited"):
    [task] = ecs.run_task(cluster="local", taskDefinition=definition, group="service:order",
                          launchType="FARGATE")["tasks"]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    logs.create_log_stream(logGroupName="/order", logStreamName=f"order/app/{task_id}")
    now_millis = int(datetime.now(timezone.utc).timestamp() * 1000)
    if lines:
        logs.put_log_events(logGroupName="/order", logStreamName=f"order/app/{task_id}", logEvents=[
            {"timestamp": now_millis + i, "message": line} for i, line in enumerate(lines)])
    ecs.stop_task(cluster="local", task=task["taskArn"], reason=reason)
    # ECS sets stoppedAt on a stopped task (the emulator's supervisor does); moto's stop_task not.
    from moto.ecs.models import ecs_backends

    ecs_backends[ACCOUNT][REGION].tasks["local"][task["taskArn"]].stopped_at = datetime.now(timezone.utc)
    return task_id


def test_the_latest_operations_events_end_at_its_start():
    events = [event("Service", "UPDATE_FAILED", BREAKER, 3), event(STACK, "UPDATE_IN_PROGRESS", "User Initiated", 2),
              event(STACK, "CREATE_COMPLETE", None, 1), event("Service", "CREATE_FAILED", BREAKER, 0)]
    pages = [{"StackEvents": events[:2], "NextToken": "2"}, {"StackEvents": events[2:]}]

    def call(service, command, kwargs):
        assert (service, command, kwargs["StackName"]) == ("cloudformation", "describe_stack_events", STACK)
        return pages[1 if kwargs.get("NextToken") else 0]
    found = deployment_report.latest_operation_events(call, STACK)
    assert found == events[:2]  # the older failure belongs to an earlier operation
    assert deployment_report.circuit_breaker_failure(found) == events[0]
    assert deployment_report.circuit_breaker_failure(events[1:3]) is None


def test_the_report_names_each_stopped_task_its_reason_exit_code_and_last_lines(aws):
    ecs, logs, call = aws
    ecs.create_cluster(clusterName="local")
    logs.create_log_group(logGroupName="/order")
    definition = ecs.register_task_definition(family="order", containerDefinitions=[{
        "name": "app", "image": "app:1", "memory": 512, "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/order", "awslogs-region": REGION, "awslogs-stream-prefix": "order"}}}],
    )["taskDefinition"]["taskDefinitionArn"]
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    quiet = failed_task(ecs, logs, definition, [])
    loud = failed_task(ecs, logs, definition, [f"line {i}" for i in range(15)])
    tasks = deployment_report.stopped_tasks(call, "local", "order", since)
    assert [t["taskArn"].rsplit("/", 1)[-1] for t in tasks] == [loud, quiet]  # newest first
    assert deployment_report.stopped_tasks(call, "local", "inventory", since) == []
    assert deployment_report.stopped_tasks(call, "local", "order", datetime.now(timezone.utc) + timedelta(hours=1)) == []
    lines = deployment_report.last_log_lines(call, tasks[0])
    assert lines == [f"line {i}" for i in range(5, 15)]  # the last LOG_LINES
    assert deployment_report.last_log_lines(call, tasks[1]) == []
    text = deployment_report.describe_task(dict(tasks[0], containers=[{"exitCode": 1}]), lines)
    assert text[0] == f"task {loud} (order:1) stopped: Essential container in task exited; exit code 1"
    assert text[1:] == ["  its last 10 log line(s):"] + [f"    line {i}" for i in range(5, 15)]
    assert deployment_report.describe_task(tasks[1], [])[1] == "  no log line"


def test_nothing_is_reported_after_an_operation_the_breaker_did_not_fail(aws):
    _, _, ecs_call = aws

    def call(service, command, kwargs):
        if service == "cloudformation":
            return {"StackEvents": [event(STACK, "UPDATE_ROLLBACK_COMPLETE", None, 2),
                                    event("Rule", "UPDATE_FAILED", "Priority in use", 1),
                                    event(STACK, "UPDATE_IN_PROGRESS", "User Initiated", 0)]}
        raise AssertionError(f"{service}.{command} called for a failure that was not the breaker's")
    assert deployment_report.report(call, STACK, "local", "order") == []
