"""End to end: the local platform's data plane, driven by the real commands on a copy of the
project (local_project.py): the services' tasks as processes behind the local ALB.

One scenario in order: up -> each sample answers -> a task's environment holds nothing of
the user's -> no task: 503 -> a killed task is replaced -> two tasks, then one environment
value changed rolls both with no failed request -> a command that exits 1 fails the launch
naming the cause while the previous revision keeps serving -> masking of each identifier the
log group's policy names, through `fargate-platform logs` -> down leaves no process.
"""
import configparser
import json
import os
import signal
import threading
import time

import pytest

from local_project import BIN, answer_when_healthy, assert_ok, local_project, task_processes, through_the_alb

pytestmark = pytest.mark.slow

ORDER, INVENTORY = "order.local.fargate-platform.test", "inventory.local.fargate-platform.test"
ORDER_CONFIG = "config/local/services/order/config.yaml"
FAILING_COMMAND = ("[python3, -c, \"import sys; print('order: cannot start: FEATURE_FLAGS is not set', "
                   "flush=True); sys.exit(1)\"]")


@pytest.fixture(scope="module")
def project():
    with local_project("fp-e2e-data-") as project:
        yield project


class RequestLoop(threading.Thread):
    """GET / through the ALB for `host` until stopped, at most `limit` requests or `seconds`."""

    def __init__(self, project, host, limit=3000, seconds=240):
        super().__init__(daemon=True)
        self.project, self.host, self.limit, self.deadline = project, host, limit, time.monotonic() + seconds
        self.answers = []  # (status, version or body)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set() and len(self.answers) < self.limit and time.monotonic() < self.deadline:
            status, body = through_the_alb(self.project, self.host)
            self.answers.append((status, json.loads(body) if status == 200 else body))
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)
        return self.answers


def edit(project, path, old, new):
    file = project.dir / path
    text = file.read_text()
    assert text.count(old) == 1, f"{path}: {old!r}"
    file.write_text(text.replace(old, new))


def tasks_of(project, service, status="RUNNING"):
    ecs = project.client("ecs")
    cluster = "fargate-platform-local"
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus=status)["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def test_up_runs_each_sample_behind_the_local_alb(project):
    assert_ok(project.local("up"))
    for host, service in ((ORDER, "order"), (INVENTORY, "inventory")):
        status, body = answer_when_healthy(project, host)
        assert status == 200, body
        answer = json.loads(body)
        assert (answer["service"], answer["database"], answer["user"], answer["version"]) == (service, service, service, "1")
    shown = project.run(BIN / "fargate-platform", "status", "local")
    assert_ok(shown)
    [listener] = project.control("listeners")["listeners"]
    for host in (ORDER, INVENTORY):
        assert f"curl -H 'Host: {host}' http://127.0.0.1:{listener['local_port']}/" in shown.output, shown
    assert shown.output.count("tasks 1/1") == 2, shown


def test_a_tasks_environment_holds_no_credential_of_the_users(project):
    user = configparser.ConfigParser()
    user.read(project.aws_credentials)
    secrets = {value for section in user.sections() for key, value in user[section].items()
               if key in ("aws_access_key_id", "aws_secret_access_key")}
    assert secrets, "the local profile's credentials were not written"
    processes = task_processes(project)
    assert len(processes) == 2
    for task_id, (pid, environment) in processes.items():
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} & set(environment), environment.keys()
        assert not [name for name, value in environment.items() if any(s in value for s in secrets)]
        assert environment["HOME"].endswith(f"/tasks/{task_id}/home") and not os.listdir(environment["HOME"])
        assert environment["AWS_ENDPOINT_URL"] == project.url
        assert environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(f"{project.url}/_fargate_platform/")


def test_no_running_task_gives_503(project):
    ecs = project.client("ecs")
    ecs.update_service(cluster="fargate-platform-local", service="inventory", desiredCount=0)
    try:
        deadline = time.monotonic() + 30
        while (answer := through_the_alb(project, INVENTORY))[0] != 503 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert answer[0] == 503 and "503 Service Temporarily Unavailable" in answer[1], answer
        assert through_the_alb(project, ORDER)[0] == 200  # the other service is untouched
    finally:
        ecs.update_service(cluster="fargate-platform-local", service="inventory", desiredCount=1)
    assert answer_when_healthy(project, INVENTORY)[0] == 200


def test_a_killed_task_is_replaced_and_traffic_recovers(project):
    [task] = tasks_of(project, "order")
    pid, _ = task_processes(project)[task["taskArn"].rsplit("/", 1)[-1]]
    before = json.loads(through_the_alb(project, ORDER)[1])["instance"]
    os.kill(pid, signal.SIGKILL)
    deadline, answer = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        status, body = through_the_alb(project, ORDER)
        if status == 200 and json.loads(body)["instance"] != before:
            answer = json.loads(body)
            break
        time.sleep(0.5)
    assert answer is not None, "no answer from a replacement task within 90 s"
    [stopped] = project.client("ecs").describe_tasks(cluster="fargate-platform-local", tasks=[task["taskArn"]])["tasks"]
    assert stopped["lastStatus"] == "STOPPED" and stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["containers"][0]["exitCode"] == 137


def test_a_changed_environment_value_rolls_both_tasks_with_no_failed_request(project):
    edit(project, ORDER_CONFIG, "  desired_count: 1\n", "  desired_count: 2\n")
    assert_ok(project.sceptre("launch", "-y", "local/services/order"))
    # The scalable target's MinCapacity raised the desired count (the service itself did not
    # change, so its update did not wait, as on AWS): the second task joins soon after.
    deadline, old = time.monotonic() + 60, set()
    while len(old) < 2 and time.monotonic() < deadline:
        status, body = through_the_alb(project, ORDER)
        if status == 200:
            old.add(json.loads(body)["instance"])
        time.sleep(0.2)
    assert len(old) == 2 and len(tasks_of(project, "order")) == 2  # round robin over both
    loop = RequestLoop(project, ORDER)
    loop.start()
    edit(project, ORDER_CONFIG, "      SERVICE_NAME: order\n", "      SERVICE_NAME: order\n      APP_VERSION: \"2\"\n")
    launch = project.sceptre("launch", "-y", "local/services/order")
    time.sleep(2)
    answers = loop.stop()
    assert_ok(launch)
    failed = [a for a in answers if a[0] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed during the rollout: {failed[:3]}"
    versions = [a[1]["version"] for a in answers]
    assert versions[0] == "1" and versions[-1] == "2" and len(answers) >= 20
    new = {a[1]["instance"] for a in answers if a[1]["version"] == "2"}
    assert len(new) == 2 and not new & old
    definitions = {t["taskDefinitionArn"] for t in tasks_of(project, "order")}
    assert len(definitions) == 1 and len(tasks_of(project, "order")) == 2


def test_a_command_that_exits_1_fails_the_launch_naming_the_cause_and_the_old_revision_serves(project):
    serving = {t["taskArn"] for t in tasks_of(project, "order")}
    edit(project, ORDER_CONFIG, "    command: [python3, samples/service/app.py]\n", f"    command: {FAILING_COMMAND}\n")
    loop = RequestLoop(project, ORDER)
    loop.start()
    failed = project.sceptre("launch", "-y", "local/services/order")
    answers = loop.stop()
    assert failed.returncode != 0, failed
    assert failed.seconds < 120, failed
    assert "ECS Deployment Circuit Breaker was triggered" in failed.output, failed
    assert "exit code 1" in failed.output and "order: cannot start: FEATURE_FLAGS is not set" in failed.output, failed
    assert project.stacks()["fargate-platform-local-services-order-service"]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    # The previous revision's tasks served throughout and still do.
    assert answers and all(status == 200 and answer["version"] == "2" for status, answer in answers), answers[-3:]
    assert {t["taskArn"] for t in tasks_of(project, "order")} == serving
    edit(project, ORDER_CONFIG, f"    command: {FAILING_COMMAND}\n", "    command: [python3, samples/service/app.py]\n")
    again = project.sceptre("launch", "-y", "local/services/order")
    assert_ok(again)
    assert "No updates to perform" in again.output  # the rollback left the stack as this config says


# One positive (masked) and one negative (kept) line per identifier the services' log groups'
# data protection policy names (templates/common.py PERSONAL_DATA_IDENTIFIERS).
MASKING = {
    "EmailAddress": ("contact ops-oncall@example.com now", "ops-oncall@example.com",
                     "contact ops-oncall at example dot com"),
    "IpAddress": ("client 203.0.113.9 connected", "203.0.113.9", "client build 10.4.2 connected"),
    "CreditCardNumber": ("card 4111 1111 1111 1111 paid", "4111 1111 1111 1111", "order 1234 5678 9012 3456"),
    "AwsSecretKey": ("aws_secret_access_key=" + "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01",
                     "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY01",
                     "build_id=" + "Zq81mN0pL2kJ4hG6fD8sA0qW2eR4tY6uI8oP0aSd"),  # 40 characters, no keyword
    "OpenSshPrivateKey": ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----",
                          "b3BlbnNzaC1rZXk=", "openssh private key rotated"),
    "PgpPrivateKey": ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGZ=\n-----END PGP PRIVATE KEY BLOCK-----",
                      "lQOYBGZ=", "pgp private key block imported"),
    "PkcsPrivateKey": ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----", "MIIEvQIBADAN",
                       "private key loaded from the vault"),
    "PuttyPrivateKey": ("PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\nAAAAIQ==\nPrivate-MAC: 0a1b2c",
                        "Private-MAC: 0a1b2c", "putty user key file converted"),
}


def test_each_identifier_the_policy_names_is_masked_and_nothing_else(project):
    logs = project.client("logs")
    group = "/fargate-platform/local/services/order"
    stream = "masking-check/1"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    lines = [line for positive, _, negative in MASKING.values() for line in (positive, negative)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": now + i, "message": f"check {i}: {line}"} for i, line in enumerate(lines)])
    shown = project.run(BIN / "fargate-platform", "logs", "local", "order", "--since", "10m")
    assert_ok(shown)
    for identifier, (positive, secret, negative) in MASKING.items():
        assert secret not in shown.output, f"{identifier}: {secret!r} shown unmasked"
        assert negative in shown.output, f"{identifier}: the line without one was changed"
    assert shown.output.count("****") >= len(MASKING)


def test_down_leaves_no_task_process(project):
    assert task_processes(project)
    assert_ok(project.local("down"))
    assert task_processes(project) == {}
    assert not (project.dir / ".local").exists()
