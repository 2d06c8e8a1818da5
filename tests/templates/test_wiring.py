"""The wiring between stacks, checked before any launch: every `!stack_output STACK::KEY`
in config/ names a stack file and an Output its rendered template has, every parameter a
stack file sets is a Parameter of its template, and every Parameter without a Default is
set. Also: the stack files meant to be one file (the same in every environment, and every
service's service.yaml) are byte-identical copies.

The stack files are read by Sceptre's own config reader (Jinja rendered, tags loaded), in
process; the resolvers are looked at, never resolved (nothing calls AWS).
"""
import hashlib
import json
from collections import defaultdict

import pytest
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext
from sceptre.hooks import Hook
from sceptre.resolvers import Resolver
from sceptre.resolvers.stack_output import StackOutput

import golden

SHARED_STACK_FILES = ("network.yaml", "cluster.yaml", "rds.yaml", "support/artefacts.yaml",
                      "support/functions.yaml")


def stacks_of(project, environment):
    context = SceptreContext(project_path=str(project), command_path=environment)
    all_stacks, _ = ConfigReader(context).construct_stacks()
    return sorted(all_stacks, key=lambda stack: stack.name)


def raw(stack, attribute):
    """A stack's parameters or hooks as its file wrote them, resolvers unresolved (the
    attributes behind Sceptre 4.7's resolving properties)."""
    return vars(stack)[f"_{attribute}"] or {}


def stack_outputs(value):
    """Every `STACK::KEY` argument of a !stack_output in `value`, nested in other tags too."""
    # `_argument`: the tag's argument unresolved (`argument` would resolve what it nests)
    if isinstance(value, StackOutput):
        yield value._argument
    elif isinstance(value, (Resolver, Hook)):
        yield from stack_outputs(value._argument)
    elif isinstance(value, dict):
        for item in value.values():
            yield from stack_outputs(item)
    elif isinstance(value, list):
        for item in value:
            yield from stack_outputs(item)


def wiring_problems(project, rendered):
    """What is mis-wired in `project`, whose stacks rendered to `rendered` ({path: template})."""
    problems = []
    for environment in golden.environments(project):
        for stack in stacks_of(project, environment):
            template = rendered[stack.name]
            parameters = raw(stack, "parameters")
            declared = template.get("Parameters", {})
            for reference in stack_outputs([parameters, raw(stack, "hooks")]):
                target, key = reference.split("::")
                target_path = target.removesuffix(".yaml")
                if not (project / "config" / target).is_file():
                    problems.append(f"config/{stack.name}.yaml: !stack_output {reference}: "
                                    f"no stack file config/{target}")
                elif key not in rendered[target_path].get("Outputs", {}):
                    problems.append(f"config/{stack.name}.yaml: !stack_output {reference}: "
                                    f"{target_path}'s template has no Output {key}")
            for name in sorted(set(parameters) - set(declared)):
                problems.append(f"config/{stack.name}.yaml: parameter {name} is not a Parameter "
                                f"of its template")
            required = {name for name, spec in declared.items() if "Default" not in spec}
            for name in sorted(required - set(parameters)):
                problems.append(f"config/{stack.name}.yaml: the template's Parameter {name} "
                                f"has no Default and the stack file does not set it")
    return problems


def test_every_stack_output_and_parameter_is_wired(rendered_project):
    problems = wiring_problems(*rendered_project)
    assert not problems, "\n".join(problems)


def test_the_wiring_check_sees_every_reference(rendered_project):
    """It reads real stacks: the service stack's hook and nested resolver references count."""
    project, _ = rendered_project
    (service,) = [s for s in stacks_of(project, "dev") if s.name == "dev/services/order/service"]
    references = set(stack_outputs([raw(service, "parameters"), raw(service, "hooks")]))
    assert "dev/rds.yaml::BootstrapFunctionName" in references  # in the !db_bootstrap hook
    assert "dev/cluster.yaml::MainListenerArn" in references  # also inside !rule_priority
    assert len(references) >= 12


def copies(project):
    """{file meant to be one: {path of a copy: digest}}."""
    groups = defaultdict(dict)
    for environment in golden.environments(project):
        if environment == "account":
            continue
        folder = project / "config" / environment
        for name in SHARED_STACK_FILES:
            groups[name][f"config/{environment}/{name}"] = (folder / name).read_bytes()
        for path in sorted(folder.glob("services/*/service.yaml")):
            groups["services/<name>/service.yaml"][str(path.relative_to(project))] = path.read_bytes()
    return {name: {path: hashlib.sha256(data).hexdigest() for path, data in found.items()}
            for name, found in groups.items()}


def drifted(digests):
    """The copies that differ from the content most copies have."""
    counts = defaultdict(int)
    for digest in digests.values():
        counts[digest] += 1
    usual = max(counts, key=counts.get)
    return sorted(path for path, digest in digests.items() if digest != usual)


@pytest.mark.parametrize("name", [*SHARED_STACK_FILES, "services/<name>/service.yaml"])
def test_copies_of_one_stack_file_are_identical(name):
    digests = copies(golden.PROJECT)[name]
    assert len(digests) >= 3
    assert not drifted(digests), (
        f"{', '.join(drifted(digests))} drifted from the other copies of {name}: the stack "
        "files are copies of one file (Sceptre's Jinja reads only the stack file's own folder)")


def test_a_renamed_output_is_a_wiring_problem(rendered_project):
    project, rendered = rendered_project
    network = json.loads(json.dumps(rendered["dev/network"]))
    network["Outputs"]["VpcIdentifier"] = network["Outputs"].pop("VpcId")
    problems = wiring_problems(project, {**rendered, "dev/network": network})
    assert "config/dev/cluster.yaml: !stack_output dev/network.yaml::VpcId: dev/network's " \
           "template has no Output VpcId" in problems


def test_a_parameter_the_template_lost_is_a_wiring_problem(rendered_project):
    project, rendered = rendered_project
    rds = json.loads(json.dumps(rendered["prod/rds"]))
    del rds["Parameters"]["LogsKeyArn"]
    rds["Parameters"]["NewSetting"] = {"Type": "String"}
    problems = wiring_problems(project, {**rendered, "prod/rds": rds})
    assert problems == [
        "config/prod/rds.yaml: parameter LogsKeyArn is not a Parameter of its template",
        "config/prod/rds.yaml: the template's Parameter NewSetting has no Default and the stack "
        "file does not set it"]


def test_a_drifted_copy_is_named(project_copy):
    drift = project_copy / "config" / "prod" / "services" / "inventory" / "service.yaml"
    drift.write_text(drift.read_text() + "# a local edit\n")
    assert drifted(copies(project_copy)["services/<name>/service.yaml"]) == [
        "config/prod/services/inventory/service.yaml"]
