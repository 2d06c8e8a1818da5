"""!lambda_code_key: the content-hash key, on a real Sceptre Stack and through the real
`sceptre generate` (no AWS, no network)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sceptre.stack import Stack

from fargate_platform import lambda_package
from fargate_platform.sceptre_errors import PlatformSceptreError
from fargate_platform.resolvers.lambda_code_key import LambdaCodeKey

SCEPTRE = Path(sys.executable).parent / "sceptre"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def stack_with(argument, project_path):
    return Stack(
        name="dev/rds", project_code="fargate-platform", region="us-east-1",
        template_handler_config={"type": "file", "path": "rds.py"},
        parameters={"BootstrapCodeKey": LambdaCodeKey(argument)},
        config={"project_path": str(project_path)},
    )


def test_resolves_to_the_packaging_key_with_paths_relative_to_the_project(tmp_path):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "bundle.pem").write_text(PEM)
    stack = stack_with({"function": "db_bootstrap", "target": "python3.12", "ca_bundle": "certs/bundle.pem"},
                       tmp_path)
    key = stack.parameters["BootstrapCodeKey"]
    assert key == lambda_package.code_key("db_bootstrap", "python3.12", str(tmp_path / "certs" / "bundle.pem"))
    assert key.startswith("lambda/db_bootstrap/python3.12/")


@pytest.mark.parametrize(
    "argument, message",
    [
        ({"function": "db_bootstrap", "target": "python3.12", "ca_bundle": "certs/missing.pem"}, "CA bundle"),
        ({"function": "nope", "target": "local"}, "unknown Lambda function 'nope'"),
        ({"function": "admin_secret"}, "'target' is required"),
        ("admin_secret", "expected a mapping"),
    ],
)
def test_errors_name_the_tag_and_the_problem(tmp_path, argument, message):
    resolver = LambdaCodeKey(argument)
    resolver.stack = stack_with({"function": "admin_secret", "target": "local"}, tmp_path)
    with pytest.raises(PlatformSceptreError) as raised:
        resolver.resolve()
    assert message in str(raised.value)


def test_sceptre_generate_computes_the_key_offline(tmp_path):
    (tmp_path / "config" / "dev").mkdir(parents=True)
    (tmp_path / "templates").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("project_code: fargate-platform\nregion: us-east-1\n")
    (tmp_path / "config" / "dev" / "functions.yaml").write_text(textwrap.dedent("""\
        template:
          type: file
          path: functions.py
        sceptre_user_data:
          code_key: !lambda_code_key
            function: admin_secret
            target: python3.12
        """))
    (tmp_path / "templates" / "functions.py").write_text(textwrap.dedent("""\
        import json

        def sceptre_handler(sceptre_user_data):
            return json.dumps({"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                               "Outputs": {"Key": {"Value": sceptre_user_data["code_key"]}}})
        """))
    result = subprocess.run(
        [str(SCEPTRE), "--dir", str(tmp_path), "--output", "json", "generate", "dev/functions.yaml"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "none",
             "AWS_SECRET_ACCESS_KEY": "none", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},  # nothing listens there
    )
    assert result.returncode == 0, result.stderr
    assert lambda_package.code_key("admin_secret", "python3.12") in result.stdout
