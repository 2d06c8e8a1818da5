"""One error style: every error a user can cause prints as one line naming the file and key
(or the resource), exits non-zero, and shows no traceback, through `sceptre` and
`fargate-platform` alike.

Each case runs the real CLI on a copy of the project (config/, templates/) in a temporary
folder, with one mistake made for it. Resolvers do not run on `sceptre generate` (a
placeholder stands in), so the hook and resolver cases run `sceptre launch` against moto's
server, where they really fire; a small stack group `config/mistakes/` holds them.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import harness

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Sceptre's progress lines: "[2026-12-01 11:24:34] - local/network - Launching Stack".
PROGRESS = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] - ")

pytestmark = pytest.mark.slow

PLACEHOLDER = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Value: {Type: String, Default: ""}
Resources:
  Placeholder: {Type: AWS::CloudFormation::WaitConditionHandle}
"""
MISSING_CA = "certs/no-such-bundle.pem"
CODE = f"{{function: db_bootstrap, target: python3.12, ca_bundle: {MISSING_CA}}}"
SUBNETS = "subnet-0123456789abcdef"
# One stack file per hook or resolver mistake: {name: (what the stack file adds, fragments
# the error line must hold)}.
MISTAKES = {
    "secret": (
        "parameters:\n  Value: !secret /fargate-platform/mistakes/no-such-parameter\n",
        ["/fargate-platform/mistakes/no-such-parameter"],
    ),
    "rule-priority": (
        "parameters:\n  Value: !rule_priority {listener: not-an-arn, host: a.example.com}\n",
        ["!rule_priority", "listener", "'not-an-arn'"],
    ),
    "code-key": (
        f"parameters:\n  Value: !lambda_code_key {CODE}\n",
        ["mistakes/code-key - CA bundle", "no-such-bundle.pem"],
    ),
    "upload-code": (
        f"hooks:\n  before_create:\n    - !upload_lambda_code {{bucket: fp-mistakes, functions: [{CODE}]}}\n",
        ["mistakes/upload-code - CA bundle", "no-such-bundle.pem"],
    ),
    "db-bootstrap": (
        "hooks:\n  before_create:\n"
        "    - !db_bootstrap {function: fp-mistakes-no-such-function, service: orders}\n",
        ["fp-mistakes-no-such-function"],
    ),
    "db-bootstrap-service": (
        "hooks:\n  before_create:\n    - !db_bootstrap {function: f, service: Not-A-Name}\n",
        ["db_bootstrap", "'Not-A-Name'"],
    ),
    "existing-network": (
        "hooks:\n  before_create:\n"
        f"    - !check_existing_network {{vpc_id: vpc-0123456789abcdef0, public_subnet_ids: "
        f"[{SUBNETS}0, {SUBNETS}1], private_subnet_ids: [{SUBNETS}2, {SUBNETS}3]}}\n",
        ["vpc-0123456789abcdef0"],
    ),
}


def error_lines(result):
    """What a run printed besides Sceptre's progress lines (a template traceback is not one)."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip()
            and not (PROGRESS.match(line) and "error" not in line.lower())]


def assert_one_line_error(result, *fragments):
    text = result.stdout + result.stderr
    assert result.returncode != 0, text
    assert "Traceback" not in text, text
    lines = error_lines(result)
    assert len(lines) == 1, f"expected one line of error, got {len(lines)}:\n{text}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


@pytest.fixture
def project(tmp_path):
    """A copy of the project, and the stack group of hook and resolver mistakes."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.copytree(REPO / "templates", tmp_path / "templates",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "templates" / "placeholder.yaml").write_text(PLACEHOLDER)
    group = tmp_path / "config" / "mistakes"
    group.mkdir()
    for name, (addition, _) in MISTAKES.items():
        (group / f"{name}.yaml").write_text("template:\n  path: placeholder.yaml\n" + addition)
    return tmp_path


def sceptre(project, *args, env=None):
    return subprocess.run([str(BIN / "sceptre"), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def fargate_platform(project, *args, env=None):
    return subprocess.run([str(BIN / "fargate-platform"), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def edit_yaml(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


# -- configuration, through `sceptre generate` (offline) ------------------------------------


def test_a_bad_environment_setting(project):
    edit_yaml(project / "config/dev/config.yaml",
              lambda d: d["environment"].update(log_retention_days=8))
    assert_one_line_error(sceptre(project, "generate", "dev/cluster.yaml"),
                          "config/dev/config.yaml: environment.log_retention_days")


def test_a_bad_service_setting_names_the_service_file_not_the_template_that_read_it(project):
    edit_yaml(project / "config/dev/services/order/config.yaml",
              lambda d: d["service"].update(memory=3000))
    result = sceptre(project, "generate", "dev/network.yaml")
    assert_one_line_error(result, "config/dev/services/order/config.yaml: service.memory")
    assert "network.py" not in result.stdout + result.stderr


def test_an_unknown_service_key(project):
    edit_yaml(project / "config/prod/services/inventory/config.yaml",
              lambda d: d["service"].update(colour="blue"))
    assert_one_line_error(sceptre(project, "generate", "prod/rds.yaml"),
                          "config/prod/services/inventory/config.yaml: service.colour: unknown key")


def test_a_config_file_that_is_not_yaml(project):
    (project / "config/local/services/order/config.yaml").write_text("service: [unclosed\n")
    assert_one_line_error(sceptre(project, "generate", "local/services/inventory/service.yaml"),
                          "config/local/services/order/config.yaml: not valid YAML at line 2, "
                          "column 1: expected ',' or ']'")


def test_two_services_on_one_host(project):
    order = yaml.safe_load((project / "config/dev/services/order/config.yaml").read_text())
    edit_yaml(project / "config/dev/services/inventory/config.yaml",
              lambda d: d["service"].update(host=order["service"]["host"]))
    assert_one_line_error(sceptre(project, "generate", "dev/services/order/service.yaml"),
                          "config/dev/services/", "service.host")


def test_a_bad_account_setting(project):
    result = sceptre(project, "--var", "github_repository=bad repo!", "generate",
                     "account/dev.yaml")
    assert_one_line_error(result, "config/account/dev.yaml: sceptre_user_data.github_repository")


def test_a_stack_file_naming_a_service_that_has_no_folder(project):
    stack = project / "config/dev/services/order/service.yaml"
    stack.write_text(stack.read_text().replace('service: "{{ service.name }}"', "service: ghost", 1))
    assert_one_line_error(sceptre(project, "generate", "dev/services/order/service.yaml"),
                          "config/dev/services/order/service.yaml: sceptre_user_data.service 'ghost'")


# -- hooks and resolvers, through `sceptre launch` against moto's server --------------------


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_hook_or_resolver_mistake_on_launch(project, moto_server, tmp_path, mistake):
    env = harness.aws_environment(moto_server.url, tmp_path=tmp_path)
    result = sceptre(project, "launch", f"mistakes/{mistake}.yaml", "-y", env=env)
    assert_one_line_error(result, *MISTAKES[mistake][1])


# -- fargate-platform -------------------------------------------------------------------------


def test_purge_of_a_bad_service_name(project):
    assert_one_line_error(fargate_platform(project, "purge", "dev", "Not-A-Name", "--confirm", "x"),
                          "fargate-platform purge: error: invalid service name 'Not-A-Name'")


def test_purge_where_the_rds_stack_does_not_exist(project, moto_server, tmp_path):
    env = harness.aws_environment(moto_server.url, tmp_path=tmp_path)
    result = fargate_platform(project, "purge", "dev", "order", "--confirm", "order",
                              "--project-path", str(project), env=env)
    assert_one_line_error(result, "fargate-platform purge: error:", "fargate-platform-dev-rds")


def test_local_password_while_nothing_runs(project, tmp_path):
    result = fargate_platform(project, "local", "password", "order", "--port",
                              str(harness.free_port()))
    assert_one_line_error(result, "fargate-platform local: error: the local platform is not running")


def test_local_up_of_a_folder_that_is_no_project(project, tmp_path):
    result = fargate_platform(project, "local", "up", "--project-dir", str(tmp_path / "nothing"))
    assert_one_line_error(result, "fargate-platform local: error: --project-dir",
                          "not a Sceptre project")
