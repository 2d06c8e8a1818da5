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
