"""`!env_output` and `!alb_output`: StackOutput with the argument completed from the stack's
environment and its service's ALB, read by Sceptre's own config reader."""
import shutil
from pathlib import Path

import pytest
import yaml
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext
from sceptre.exceptions import SceptreException
from sceptre.resolvers.stack_output import StackOutput
from sceptre.stack import Stack

from fargate_platform.resolvers.env_output import AlbOutput, EnvOutput

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    shutil.copytree(PROJECT / "config", tmp_path / "config")
    env_file = tmp_path / "config" / "dev" / "config.yaml"
    settings = yaml.safe_load(env_file.read_text())
    settings["environment"]["albs"] = ["main", "edge"]
    env_file.write_text(yaml.safe_dump(settings))
    service_file = tmp_path / "config" / "dev" / "services" / "inventory" / "config.yaml"
    service = yaml.safe_load(service_file.read_text())
    service["service"]["alb"] = "edge"
    service_file.write_text(yaml.safe_dump(service))
    return tmp_path


def stacks(project, environment="dev"):
    context = SceptreContext(project_path=str(project), command_path=environment)
    return {stack.name: stack for stack in ConfigReader(context).construct_stacks()[0]}


def arguments(stack):
    """The completed arguments of a stack's parameters' output resolvers (unresolved)."""
    found = {}
    for name, value in vars(stack)["_parameters"].items():
        if isinstance(value, StackOutput):
            found[name] = value._argument
    return found


def test_outputs_are_completed_with_the_environment_and_the_services_alb(project):
    found = stacks(project)
    order, inventory = found["dev/services/order/service"], found["dev/services/inventory/service"]
    assert arguments(order)["VpcId"] == "dev/network.yaml::VpcId"
    assert arguments(order)["ListenerArn"] == "dev/cluster.yaml::MainListenerArn"
    assert arguments(inventory)["ListenerArn"] == "dev/cluster.yaml::EdgeListenerArn"
    assert arguments(inventory)["AlbCanonicalHostedZoneId"] == "dev/cluster.yaml::EdgeCanonicalHostedZoneId"
    nested = vars(inventory)["_parameters"]["ListenerRulePriority"]._argument["listener"]
    assert nested._argument == "dev/cluster.yaml::EdgeListenerArn"
    assert sorted(d.name for d in inventory.dependencies) == [
        "dev/cluster", "dev/network", "dev/rds", "dev/support/artefacts"]


def test_the_same_files_name_each_environments_own_stacks(project):
    for environment in ("local", "prod"):
        order = stacks(project, environment)[f"{environment}/services/order/service"]
        assert arguments(order)["DbHost"] == f"{environment}/rds.yaml::DbHost"


def stack_named(name):
    return Stack(name=name, project_code="fargate-platform", region="eu-west-1",
                 template_handler_config={"type": "platform", "path": "service.py"},
                 stack_group_config={"project_path": str(PROJECT)})


def test_setting_up_twice_completes_the_argument_once():
    resolver = EnvOutput("network.yaml::VpcId", stack_named("dev/cluster"))
    resolver.setup()
    resolver.setup()
    assert resolver._argument == "dev/network.yaml::VpcId"
    alb = AlbOutput("ListenerArn", stack_named("dev/services/order/service"))
    alb.setup()
    alb.setup()
    assert alb._argument == "dev/cluster.yaml::MainListenerArn"


@pytest.mark.parametrize("resolver, stack, message", [
    (EnvOutput, "dev/cluster", "!env_output takes STACK::KEY"),
    (AlbOutput, "dev/cluster", "!alb_output is for a service's stack"),
    (AlbOutput, "dev/services/order/service", "!alb_output takes an output name without the ALB's prefix"),
])
def test_bad_arguments_are_one_line_errors(resolver, stack, message):
    with pytest.raises(SceptreException, match=message):
        resolver("cluster.yaml" if resolver is EnvOutput else "Main-ListenerArn", stack_named(stack)).setup()


def test_a_stacks_outputs_are_read_once_for_every_tag_naming_them(project, monkeypatch):
    from fargate_platform.resolvers import env_output

    monkeypatch.setattr(env_output, "_outputs", {})
    calls = []

    def describe_stacks(self, service, command, kwargs, **connection):
        calls.append((service, command, kwargs["StackName"]))
        outputs = {"VpcId": "vpc-1", "PrivateSubnetIds": "subnet-1,subnet-2", "DbHost": "db",
                   "DbPort": "5432", "MainListenerArn": "arn:listener"}
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}

    monkeypatch.setattr("sceptre.connection_manager.ConnectionManager.call", describe_stacks)
    found = stacks(project)
    values = {}
    for name in ("dev/services/order/service", "dev/rds"):
        for key, resolver in vars(found[name])["_parameters"].items():
            if key in ("VpcId", "PrivateSubnetIds", "DbHost", "ListenerArn"):
                resolver.stack = found[name]
                values[(name, key)] = resolver.resolve()
    assert values[("dev/services/order/service", "VpcId")] == "vpc-1"
    assert values[("dev/rds", "PrivateSubnetIds")] == "subnet-1,subnet-2"
    assert values[("dev/services/order/service", "ListenerArn")] == "arn:listener"
    assert sorted(calls) == [  # one per stack read, whoever names it and how often
        ("cloudformation", "describe_stacks", "fargate-platform-dev-cluster"),
        ("cloudformation", "describe_stacks", "fargate-platform-dev-network"),
        ("cloudformation", "describe_stacks", "fargate-platform-dev-rds")]
