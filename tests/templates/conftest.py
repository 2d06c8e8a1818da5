"""Every stack of every environment, rendered once per test run by the real `sceptre` CLI
(tests/templates/golden.py renders, and the golden files hold what it rendered last)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import golden`

import golden  # noqa: E402


@pytest.fixture(scope="session")
def rendered_project(tmp_path_factory):
    """(project copy, {stack path: template}) for every stack of every environment."""
    project = golden.copy_project(tmp_path_factory.mktemp("project"))
    return project, golden.render_everything(project)


@pytest.fixture(scope="session")
def templates(rendered_project):
    """{environment: {stack name: template dict}}"""
    by_environment = {}
    for path, template in rendered_project[1].items():
        by_environment.setdefault(path.split("/")[0], {})[golden.external_name(path)] = template
    return by_environment


@pytest.fixture(scope="session")
def dump_dir(rendered_project):
    return rendered_project[0] / ".dump"


@pytest.fixture
def project_copy(tmp_path):
    """A fresh copy of the project's config/ and templates/ for one test to change."""
    return golden.copy_project(tmp_path)


@pytest.fixture
def render_environment():
    """render(project, environment) -> {stack name: template}, by Sceptre in this process
    (a variant of the project, where the CLI is not what the test is about)."""
    def render(project, environment):
        return {golden.external_name(path): template
                for path, template in golden.render_in_process(project, environment).items()}

    return render
