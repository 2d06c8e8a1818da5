"""`fargate-platform status ENV`: each service's stack state, tasks, targets and URL, read
through the environment's Sceptre config (moto's server holds the stacks)."""
import io
import json
import types

import pytest

from fargate_platform import cli, status

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

PROJECT = str(harness.PROJECT)
STACK = "fp-test-test-services-orders-service"


@pytest.fixture(scope="module")
def moto_server():
    server = harness.MotoServer().start()
    ec2, elb, ecs = server.client("ec2"), server.client("elbv2"), server.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = elb.create_target_group(Name="orders", Protocol="HTTP", Port=8080, VpcId=vpc,
                                    TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    ecs.create_cluster(clusterName="fp-test-test")
    ecs.register_task_definition(family="orders", containerDefinitions=[
        {"name": "orders", "image": "nginx", "memory": 512}])
    ecs.create_service(cluster="fp-test-test", serviceName="orders", taskDefinition="orders", desiredCount=2)
    server.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps({
        "Parameters": {"ClusterName": {"Type": "String"}},
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"ServiceName": {"Value": "orders"}, "TargetGroupArn": {"Value": group},
                    "Host": {"Value": "orders.test.example.com"}}}),
        Parameters=[{"ParameterKey": "ClusterName", "ParameterValue": "fp-test-test"}])
    yield server
    server.stop()


def test_each_service_shows_its_stack_tasks_targets_and_url(env):
    out = io.StringIO()
    args = types.SimpleNamespace(environment="test", project_path=PROJECT, var=[])
    assert status.run(args, out=out, url_of=lambda host: f"https://{host}/") == 0
    line = out.getvalue().strip()
    assert line.startswith("orders  CREATE_COMPLETE")
    assert "tasks 0/2" in line and "targets none" in line and line.endswith("https://orders.test.example.com/")


def test_a_service_not_launched_says_so(env, tmp_path):
    import shutil

    shutil.copytree(harness.PROJECT / "config", tmp_path / "config")
    shutil.copytree(harness.PROJECT / "templates", tmp_path / "templates")
    (tmp_path / "config" / "test" / "services" / "payments").mkdir()
    (tmp_path / "config" / "test" / "services" / "payments" / "service.yaml").write_text("template:\n  path: service.yaml\n")
    out = io.StringIO()
    args = types.SimpleNamespace(environment="test", project_path=str(tmp_path), var=[])
    assert status.run(args, out=out, url_of=str) == 0
    assert "payments  not launched" in out.getvalue()


def test_an_unknown_environment_is_one_line(env, capsys):
    assert cli.main(["status", "nosuch", "--project-path", PROJECT]) == 1
    assert "fargate-platform status: error: no environment 'nosuch'" in capsys.readouterr().err


def test_the_url_is_https_where_the_albs_have_a_certificate(monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("FARGATE_PLATFORM_EMULATOR_PORT", str(harness.free_port()))  # no emulator there

    project = Path(__file__).resolve().parents[2]
    assert status.default_url_of(project, "dev")("order.dev.example.com") == "https://order.dev.example.com/"
    # Locally, the curl line through the local ALB (none here: no local platform runs)
    assert status.default_url_of(project, "local")("order.local.fargate-platform.test") == \
        "http://order.local.fargate-platform.test/ (not served locally)"
