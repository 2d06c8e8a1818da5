"""awslogs.py: a task's stdout and stderr, line by line, in its awslogs stream
<prefix>/<container>/<task id> of moto's CloudWatch Logs (in-process, with mock_aws; the
emulator's own run is tests/emulator/test_tasks.py::test_the_tasks_output_is_in_its_log_stream)."""
import subprocess
import sys
import threading

import boto3
from moto import mock_aws

from emulator import awslogs

ACCOUNT, REGION = "123456789012", "eu-west-1"


def container(group="/svc/app", driver="awslogs", **options):
    return {"name": "app", "logConfiguration": {"logDriver": driver, "options": {
        "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "web", **options}}}


def events(group, stream):
    logs = boto3.client("logs", region_name=REGION)
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]


@mock_aws
def test_each_line_of_a_tasks_stdout_and_stderr_is_an_event_of_its_stream():
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName="/svc/app")
    stream = awslogs.open_stream(container(), "0123abcd", ACCOUNT, REGION)
    assert stream.stream == "web/app/0123abcd"
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('one'); print('two'); print('err', file=sys.stderr)"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    readers = [threading.Thread(target=awslogs.pump, args=(pipe, [stream.write]))
               for pipe in (process.stdout, process.stderr)]
    for reader in readers:
        reader.start()
    process.wait(timeout=30)
    for reader in readers:
        reader.join(timeout=10)
    messages = events("/svc/app", "web/app/0123abcd")
    assert sorted(messages) == ["err", "one", "two"]
    assert messages.index("one") < messages.index("two")  # a pipe's lines in their order


@mock_aws
def test_a_container_without_the_awslogs_driver_or_its_group_writes_nowhere():
    assert awslogs.open_stream(container(driver="json-file"), "t", ACCOUNT, REGION) is None
    assert awslogs.open_stream(container(group="/missing"), "t", ACCOUNT, REGION) is None


@mock_aws
def test_awslogs_create_group_creates_the_group():
    stream = awslogs.open_stream(container(group="/made", **{"awslogs-create-group": "true"}), "t1",
                                 ACCOUNT, REGION)
    stream.write("hello\n")
    assert events("/made", "web/app/t1") == ["hello"]
