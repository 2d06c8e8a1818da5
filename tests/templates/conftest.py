"""Every stack of every environment, rendered once per test run by the real `sceptre` CLI."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCEPTRE = str(Path(sys.executable).with_name("sceptre"))


def copy_project(destination):
    """A throwaway copy of the project's config/ and templates/ (tests may add services to it)."""
    for folder in ("config", "templates"):
        shutil.copytree(PROJECT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def environments(project):
    return sorted(p.name for p in (project / "config").iterdir() if p.is_dir())


def render(project, environment):
    """{stack name: template} for every stack of `environment`, via `sceptre dump template --to-file`."""
    result = subprocess.run(
        [SCEPTRE, "--output", "json", "dump", "template", "--to-file", environment],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"sceptre dump template {environment} failed:\n{result.stderr[-3000:]}"
    prefix = f"fargate-platform-{environment}-"
    dumped = {}
    for path in sorted((project / ".dump").glob(f"{prefix}*/template.json")):
        dumped[path.parent.name] = json.loads(path.read_text())
    return dumped


@pytest.fixture(scope="session")
def rendered_project(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("project"))
    templates = {}
    for environment in environments(project):
        templates[environment] = render(project, environment)
    return project, templates


@pytest.fixture(scope="session")
def templates(rendered_project):
    """{environment: {stack name: template dict}}"""
    return rendered_project[1]


@pytest.fixture(scope="session")
def dump_dir(rendered_project):
    return rendered_project[0] / ".dump"


@pytest.fixture
def project_copy(tmp_path):
    """A fresh copy of the project's config/ and templates/ for one test to change."""
    return copy_project(tmp_path)


@pytest.fixture
def render_environment():
    return render
