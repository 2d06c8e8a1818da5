"""The quality gates every generated template passes: cfn-lint and checkov."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))
CHECKOV = PROJECT / ".venvs" / "checkov" / "bin" / "checkov"
# A cfn-lint rule skipped for the whole project needs its reason here. None is.
CFN_LINT_IGNORED = {}


def test_every_environment_renders_every_stack(templates):
    for environment in ("local", "dev", "prod"):
        stacks = set(templates[environment])
        shared = {f"fargate-platform-{environment}-{name}" for name in
                  ("network", "support-artefacts", "support-functions", "cluster", "rds")}
        assert shared <= stacks, f"{environment} lacks {shared - stacks}"
        services = {s for s in stacks if s.startswith(f"fargate-platform-{environment}-services-")}
        assert len(services) == 2, services


def test_cfn_lint_finds_nothing(dump_dir):
    files = sorted(str(p) for p in dump_dir.glob("*/template.json"))
    assert files
    ignore = ["--ignore-checks", *CFN_LINT_IGNORED] if CFN_LINT_IGNORED else []
    result = subprocess.run(
        [CFN_LINT, *files, "--regions", "eu-west-1", "--format", "parseable", *ignore],
        capture_output=True, text=True, timeout=600,
    )
    # Exit code is a bitmask: 2 error, 4 warning, 8 informational.
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def checkov_report(dump_dir):
    assert CHECKOV.exists(), "checkov's virtualenv is missing: run scripts/bootstrap.sh"
    result = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--quiet", "--compact",
         "-o", "json", "-d", str(dump_dir)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_fails_no_check(checkov_report):
    failed = [
        f"{check['check_id']} {check['resource']} in {check['file_path']}"
        for report in checkov_report
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    passed = sum(report["summary"]["passed"] for report in checkov_report)
    assert passed > 100, "checkov ran almost no check: is it scanning the templates?"


def test_every_checkov_skip_gives_its_reason(templates):
    for environment, stacks in templates.items():
        for stack, template in stacks.items():
            for title, resource in template["Resources"].items():
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                    assert len(skip.get("comment", "")) > 20, f"{stack} {title}: skip {skip} has no reason"
