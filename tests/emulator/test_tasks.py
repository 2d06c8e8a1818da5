"""tasks.py and awslogs.py: an ECS service's tasks run as local processes, with what a Fargate
container gets, registered in their target group, replaced when they exit, drained then
SIGTERMed when they stop, rolled to a new revision, their output in CloudWatch Logs."""
import json
import os
import signal
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

ACCOUNT, REGION = "123456789012", "eu-west-1"
DRAIN_SECONDS = 3

# The task's program: an HTTP server on HOST:PORT that reports its environment, calls AWS
# with its task role, and notes when it gets SIGTERM.
APP = textwrap.dedent('''
    import json, os, signal, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    here = os.path.dirname(os.path.abspath(__file__))
    def note(name, data):
        with open(os.path.join(here, f"{name}-{os.getpid()}.json"), "w") as f:
            json.dump(data, f)

    def on_term(signum, frame):
        note("sigterm", {"at": time.time()})
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/whoami":
                import boto3
                body = {"arn": boto3.client("sts").get_caller_identity()["Arn"],
                        "parameter": boto3.client("ssm").get_parameter(
                            Name=os.environ["PLAIN_PARAMETER"])["Parameter"]["Value"]}
            else:
                body = {"ok": True}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *args):
            pass

    note("env", {"environ": dict(os.environ), "home": os.listdir(os.environ["HOME"]),
                 "cwd": os.getcwd(), "stdin": sys.stdin is None or sys.stdin.read() == ""})
    print(f"hello from task {os.getpid()}", flush=True)
    print("a line on stderr", file=sys.stderr, flush=True)
    ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
''')


def template(folder, secret, plain, value):
    group = "/test/tasks/" + os.path.basename(folder)
    name = os.path.basename(folder)
    role_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.92.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.92.7.0/24"}},
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "tasks", "VpcId": {"Ref": "Vpc"}}},
        "TargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": 8080, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "Vpc"},
            "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds",
                                       "Value": str(DRAIN_SECONDS)}]}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}},
        "ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": role_trust,
            "Policies": [{"PolicyName": "execution", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                                               "ssm:GetParameters", "kms:Decrypt"], "Resource": "*"}]}}]}},
        "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": role_trust,
            "Policies": [{"PolicyName": "task", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "*"}]}}]}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": name, "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
            "RequiresCompatibilities": ["FARGATE"],
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
            "ContainerDefinitions": [{
                "Name": "app", "Image": "app:1", "Essential": True, "StopTimeout": 5,
                "Command": ["python3", "-u", "app.py"], "WorkingDirectory": str(folder),
                "PortMappings": [{"ContainerPort": 8080}],
                "Environment": [{"Name": "VALUE", "Value": value}, {"Name": "PLAIN_PARAMETER", "Value": plain}],
                "Secrets": [{"Name": "DB_PASSWORD",
                             "ValueFrom": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{secret}"}],
                "LogConfiguration": {"LogDriver": "awslogs", "Options": {
                    "awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": "web"}}}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"},
            "ServiceName": "web", "LaunchType": "FARGATE",
            # Old tasks may stop before new ones are healthy (not what is tested here).
            "DeploymentConfiguration": {"MinimumHealthyPercent": 0, "MaximumPercent": 200},
            "LoadBalancers": [{"ContainerName": "app", "ContainerPort": 8080,
                               "TargetGroupArn": {"Ref": "TargetGroup"}}],
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": [{"Ref": "Subnet"}], "SecurityGroups": [{"Ref": "Group"}]}}}},
    }})


def wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def processes_in(folder):
    """PIDs of processes whose working folder is `folder` (the tasks of a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(folder):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def service(emulator):
    folder = Path(tempfile.mkdtemp(prefix="fp-task-")).resolve()
    (folder / "app.py").write_text(APP)
    ssm = emulator.client("ssm")
    secret, plain = "/" + emulator.unique("t") + "/db/password", "/" + emulator.unique("t") + "/plain"
    ssm.put_parameter(Name=secret, Value="s3cret-value", Type="SecureString")
    ssm.put_parameter(Name=plain, Value="plain-value", Type="String")
    cfn, stack = emulator.client("cloudformation"), emulator.unique("tasks")
    cfn.create_stack(StackName=stack, TemplateBody=template(folder, secret, plain, "one"))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    facts = {"folder": folder, "stack": stack, "cluster": resources["Cluster"].split("/")[-1],
             "group": resources["TargetGroup"], "secret": secret, "plain": plain,
             "template": lambda value: template(folder, secret, plain, value)}
    yield facts
    cfn.delete_stack(StackName=stack)
    try:
        wait(lambda: not processes_in(folder), 30, "the tasks stopped with their service")
    except AssertionError:
        print(processes_in(folder), emulator.client("ecs").describe_services(
            cluster=facts["cluster"], services=["web"])["services"],
              [line for line in emulator.log().splitlines() if "supervisor" in line][-5:])
        raise
    finally:
        for pid in processes_in(folder):
            os.kill(pid, signal.SIGKILL)


def running_tasks(emulator, service):
    ecs = emulator.client("ecs")
    arns = ecs.list_tasks(cluster=service["cluster"])["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(cluster=service["cluster"], tasks=arns)["tasks"]
            if t["lastStatus"] == "RUNNING"]


def task_environment(service, pid, timeout=20):
    path = service["folder"] / f"env-{pid}.json"
    wait(path.exists, timeout, f"{path} written")
    time.sleep(0.1)
    return json.loads(path.read_text())


def the_running_task(emulator, service, exclude=()):
    [task] = wait(lambda: [t for t in running_tasks(emulator, service) if t["taskArn"] not in exclude][:1],
                  30, "a RUNNING task")
    return task


def pid_of(service, task_arn, timeout=20):
    """The pid whose env file names this task's port... found through the task's HOME."""
    task_id = task_arn.rsplit("/", 1)[-1]

    def find():
        for path in service["folder"].glob("env-*.json"):
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            if f"/tasks/{task_id}/home" in data["environ"]["HOME"]:
                return int(path.stem.split("-")[1]), data
        return None
    return wait(find, timeout, f"task {task_id} started")


def test_a_services_task_runs_with_a_fargate_containers_environment(emulator, service):
    task = the_running_task(emulator, service)
    pid, data = pid_of(service, task["taskArn"])
    environ = data["environ"]
    assert environ["VALUE"] == "one"
    assert environ["DB_PASSWORD"] == "s3cret-value"  # the secret, resolved and decrypted
    assert environ["HOST"] == "127.0.0.1" and 0 < int(environ["PORT"]) < 65536
    assert environ["AWS_REGION"] == REGION and environ["AWS_ENDPOINT_URL"] == emulator.url
    assert environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(
        f"{emulator.url}/_fargate_platform/task-credentials/")
    assert not [k for k in environ if k.startswith("AWS_") and k not in (
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI")]
    # (LC_CTYPE: Python's own C-locale coercion in the task's interpreter, PEP 538)
    assert set(environ) - {"LC_CTYPE"} == {"VALUE", "PLAIN_PARAMETER", "DB_PASSWORD", "HOST", "PORT", "HOME", "PATH",
                            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI"}
    assert data["home"] == [] and data["cwd"] == str(service["folder"]) and data["stdin"]
    assert task["containers"][0]["lastStatus"] == "RUNNING"
    [cluster_service] = emulator.client("ecs").describe_services(
        cluster=service["cluster"], services=["web"])["services"]
    assert cluster_service["runningCount"] == 1 and cluster_service["desiredCount"] == 1


def test_the_task_calls_aws_with_its_task_roles_credentials(emulator, service):
    task = the_running_task(emulator, service)
    _, data = pid_of(service, task["taskArn"])
    port = data["environ"]["PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/whoami", timeout=30) as response:
        answer = json.loads(response.read())
    assert ":assumed-role/" in answer["arn"] and "TaskRole" in answer["arn"]
    assert answer["parameter"] == "plain-value"
    with urllib.request.urlopen(data["environ"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"], timeout=10) as response:
        document = json.loads(response.read())
    assert set(document) >= {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}


def test_the_task_is_registered_in_its_target_group_with_its_ip_and_container_port(emulator, service):
    task = the_running_task(emulator, service)
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    ip = details["privateIPv4Address"]
    assert ip.startswith("10.92.7.")
    health = emulator.client("elbv2").describe_target_health(TargetGroupArn=service["group"])
    assert {"Id": ip, "Port": 8080} in [
        {"Id": h["Target"]["Id"], "Port": h["Target"]["Port"]} for h in health["TargetHealthDescriptions"]]


def test_the_tasks_output_is_in_its_log_stream(emulator, service):
    task = the_running_task(emulator, service)
    pid, _ = pid_of(service, task["taskArn"])
    group = "/test/tasks/" + service["folder"].name
    stream = f"web/app/{task['taskArn'].rsplit('/', 1)[-1]}"
    logs = emulator.client("logs")

    def lines():
        events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        messages = [e["message"] for e in events]
        return messages if f"hello from task {pid}" in messages and "a line on stderr" in messages else None
    wait(lines, 15, "the task's lines in its stream")


def test_list_tasks_by_service_lists_that_services_tasks_only(emulator, service):
    ecs = emulator.client("ecs")
    [task] = [t["taskArn"] for t in running_tasks(emulator, service)]
    assert ecs.list_tasks(cluster=service["cluster"], serviceName="web")["taskArns"] == [task]
    assert ecs.list_tasks(cluster=service["cluster"], serviceName="other")["taskArns"] == []


def test_plain_moto_ignores_list_tasks_service_name():
    from moto import mock_aws

    with mock_aws():
        import boto3

        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName="c")
        definition = ecs.register_task_definition(family="f", containerDefinitions=[
            {"name": "app", "image": "app:1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        ecs.run_task(cluster="c", taskDefinition=definition, launchType="FARGATE", group="service:web")
        assert len(ecs.list_tasks(cluster="c", serviceName="other")["taskArns"]) == 1  # ECS: none


def test_a_killed_task_is_replaced_and_stopped_with_ecs_reason(emulator, service):
    task = the_running_task(emulator, service)
    pid, _ = pid_of(service, task["taskArn"])
    os.kill(pid, signal.SIGKILL)
    replacement = the_running_task(emulator, service, exclude=(task["taskArn"],))
    assert replacement["taskArn"] != task["taskArn"]
    [stopped] = wait(lambda: [t for t in emulator.client("ecs").describe_tasks(
        cluster=service["cluster"], tasks=[task["taskArn"]])["tasks"] if t["lastStatus"] == "STOPPED"],
        20, "the killed task STOPPED")
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["containers"][0]["exitCode"] == 137
    assert pid not in processes_in(service["folder"])


def test_a_changed_environment_value_rolls_the_task_drained_then_sigtermed(emulator, service):
    ecs = emulator.client("ecs")
    old = the_running_task(emulator, service)
    old_pid, _ = pid_of(service, old["taskArn"])
    cfn = emulator.client("cloudformation")
    cfn.update_stack(StackName=service["stack"], TemplateBody=service["template"]("two"))
    cfn.get_waiter("stack_update_complete").wait(StackName=service["stack"],
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    new = the_running_task(emulator, service, exclude=(old["taskArn"],))
    assert new["taskDefinitionArn"] != old["taskDefinitionArn"]
    _, data = pid_of(service, new["taskArn"])
    assert data["environ"]["VALUE"] == "two"
    # The old task stops as ECS stops it: deregistered, drained, then SIGTERM.
    [stopping] = wait(lambda: [t for t in ecs.describe_tasks(cluster=service["cluster"], tasks=[old["taskArn"]])[
        "tasks"] if t["desiredStatus"] == "STOPPED"], 30, "the old task stopping")
    stopping_seen = stopping["stoppingAt"].timestamp()
    details = {d["name"]: d["value"] for d in old["attachments"][0]["details"]}
    health = emulator.client("elbv2").describe_target_health(TargetGroupArn=service["group"])
    assert details["privateIPv4Address"] not in [h["Target"]["Id"] for h in health["TargetHealthDescriptions"]
                                                 if h["TargetHealth"]["State"] != "draining"]
    sigterm = service["folder"] / f"sigterm-{old_pid}.json"
    wait(sigterm.exists, DRAIN_SECONDS + 15, "SIGTERM after the drain")
    time.sleep(0.1)
    assert json.loads(sigterm.read_text())["at"] - stopping_seen >= DRAIN_SECONDS - 1.5
    wait(lambda: ecs.describe_tasks(cluster=service["cluster"], tasks=[old["taskArn"]])["tasks"][0][
        "lastStatus"] == "STOPPED", 15, "the old task STOPPED")
    assert old_pid not in processes_in(service["folder"])


def test_a_container_without_a_command_stops_with_a_clear_reason(emulator):
    """The task_start tests' services have no Command: their tasks cannot run locally."""
    cfn, stack = emulator.client("cloudformation"), emulator.unique("nocommand")
    cluster = emulator.unique("nocommand")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": cluster}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": emulator.unique("nocommand"), "Memory": "512", "ContainerDefinitions": [{"Name": "c", "Image": "i"}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"}, "ServiceName": "c"}}}}))
    ecs = emulator.client("ecs")

    def stopped():
        arns = ecs.list_tasks(cluster=cluster)["taskArns"]
        return arns and [t for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
                         if t["lastStatus"] == "STOPPED"]
    task = wait(stopped, 15, "a STOPPED task")[0]
    assert "has no command" in task["stoppedReason"] and "cannot run locally" in task["stoppedReason"]
    cfn.delete_stack(StackName=stack)


# -- in-process (mock_aws): the supervisor's decisions, one reconcile pass at a time ----------

class _Context:
    def __init__(self, state_dir):
        self.state_dir = Path(state_dir)
        self.endpoint_url = "http://127.0.0.1:9"  # unused by these tasks


def _reconcile_until(supervisor, predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        supervisor.reconcile()
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    from moto import mock_aws

    from emulator import tasks

    monkeypatch.setattr(tasks, "MAX_BACKOFF_SECONDS", 1.0)
    with mock_aws():
        import boto3

        supervisor = tasks.TaskSupervisor()
        supervisor.context, supervisor.project_dir = _Context(tmp_path / "state"), tmp_path
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName="local")
        try:
            yield supervisor, ecs, tmp_path
        finally:
            supervisor._stopping.set()
            supervisor.stop()
            assert not processes_in(tmp_path), "a task's process was left running"


def _definition(ecs, command):
    return ecs.register_task_definition(family="breaker", memory="512", containerDefinitions=[{
        "name": "app", "image": "app:1", "command": command, "workingDirectory": ".",
        "stopTimeout": 2}])["taskDefinition"]["taskDefinitionArn"]


def _service(ecs, definition, **extra):
    from moto.ecs.models import ecs_backends

    ecs.create_service(cluster="local", serviceName="svc", taskDefinition=definition, desiredCount=1,
                       launchType="FARGATE", **extra)
    service = ecs_backends[ACCOUNT][REGION].services["local:svc"]
    service.deployment_configuration = {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                        "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    service.health_check_grace_period_seconds = 0
    return service


def _live(supervisor):
    return [t for t in supervisor.local_tasks().values() if t["state"] == "running"]


def test_the_circuit_breaker_rolls_a_failing_deployment_back_to_the_previous_revision(in_process):
    supervisor, ecs, folder = in_process
    good = _definition(ecs, ["python3", "-c", "import time; time.sleep(600)"])
    service = _service(ecs, good)
    _reconcile_until(supervisor, lambda: service.deployments[0]["rolloutState"] == "COMPLETED", 15,
                     "the first deployment completed")
    bad = _definition(ecs, ["python3", "-c", "raise SystemExit(3)"])
    service.task_definition = bad
    _reconcile_until(supervisor, lambda: supervisor.deployment_failures(service.arn), 30,
                     "the deployment failed")
    [failure] = supervisor.deployment_failures(service.arn)
    assert failure["taskDefinition"] == bad and failure["rolledBackTo"] == good
    assert failure["failedTasks"] >= failure["threshold"] == 3
    assert service.task_definition == good
    [described] = ecs.describe_services(cluster="local", services=["svc"])["services"]
    assert any("circuit breaker" in event["message"] for event in described["events"])
    # The old task kept serving (MinimumHealthyPercent 100): the service is whole again.
    _reconcile_until(supervisor, lambda: service.deployments[0]["rolloutState"] == "COMPLETED", 10,
                     "back on the previous revision")
    assert [t["taskDefinition"] for t in _live(supervisor)] == [good]


def test_a_task_whose_target_stays_unhealthy_after_the_grace_period_is_replaced(in_process):
    import boto3

    from emulator import targets

    supervisor, ecs, folder = in_process
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.93.1.0/24")["Subnet"]["SubnetId"]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    group = elbv2.create_target_group(Name="unhealthy", Protocol="HTTP", Port=8080, VpcId=vpc,
                                      TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    definition = _definition(ecs, ["python3", "-c", "import time; time.sleep(600)"])
    _service(ecs, definition, loadBalancers=[{"targetGroupArn": group, "containerName": "app",
                                              "containerPort": 8080}],
             networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": []}})
    [first] = _reconcile_until(supervisor, lambda: targets.TABLE.targets(group), 10, "a target")
    assert first.ip.startswith("10.93.1.") and first.port == 8080
    targets.TABLE.set_health(group, first.ip, first.port, "unhealthy", "Target.Timeout")
    _reconcile_until(supervisor, lambda: [t for t in targets.TABLE.targets(group)
                                          if t.task_arn != first.task_arn], 10, "a replacement")
    [stopped] = _reconcile_until(supervisor, lambda: [t for t in ecs.describe_tasks(
        cluster="local", tasks=[first.task_arn])["tasks"] if t["lastStatus"] == "STOPPED"], 15, "stopped")
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {group})"


def test_a_command_that_is_not_installed_stops_the_task_with_ecs_reason(in_process):
    supervisor, ecs, folder = in_process
    service = _service(ecs, _definition(ecs, ["no-such-program", "--serve"]))
    [stopped] = _reconcile_until(supervisor, lambda: [t for t in ecs.describe_tasks(
        cluster="local", tasks=ecs.list_tasks(cluster="local", desiredStatus="STOPPED")["taskArns"] or ["x"])[
        "tasks"] if t["lastStatus"] == "STOPPED"][:1], 10, "the task stopped")
    assert stopped["stoppedReason"] == ('CannotStartContainerError: exec: "no-such-program": executable file '
                                        'not found in $PATH')
    assert service.running_count == 0
