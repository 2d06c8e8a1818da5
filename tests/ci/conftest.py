"""What the CI tests read: the workflows, the README's setup commands, the tools' paths."""
import re
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
BIN = Path(sys.executable).parent
README_START = "<!-- setup-commands -->"
README_END = "<!-- /setup-commands -->"


@pytest.fixture(scope="session")
def tool():
    """tool(name, package): a linter installed beside the test interpreter, or a failure
    naming the package that provides it."""
    def find(name, package):
        path = BIN / name
        if not path.exists():
            pytest.fail(f"{name} is not installed in {BIN}: install the test extras (package {package})")
        return str(path)
    return find


class Workflow:
    """One workflow file, parsed."""

    def __init__(self, path):
        self.path = path
        self.name = path.stem
        self.text = path.read_text()
        self.data = yaml.safe_load(self.text)
        # YAML 1.1 reads the key `on` as True.
        self.triggers = self.data.get("on", self.data.get(True)) or {}
        self.jobs = self.data.get("jobs", {})

    def steps(self, job_id):
        return self.jobs[job_id].get("steps", [])

    def runs(self, job_id=None):
        """Every line of every `run:` script (of one job, or of all)."""
        job_ids = [job_id] if job_id else list(self.jobs)
        lines = []
        for jid in job_ids:
            for step in self.steps(jid):
                if "run" in step:
                    lines.extend(line.strip() for line in step["run"].splitlines() if line.strip())
        return lines

    def needs(self, job_id):
        needs = self.jobs[job_id].get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def all_needs(self, job_id):
        """Every job that `job_id` waits for, directly or not."""
        seen, stack = set(), self.needs(job_id)
        while stack:
            jid = stack.pop()
            if jid not in seen:
                seen.add(jid)
                stack.extend(self.needs(jid))
        return seen

    def jobs_in_environment(self, github_environment):
        found = []
        for job_id, job in self.jobs.items():
            environment = job.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name")
            if environment == github_environment:
                found.append(job_id)
        return found


@pytest.fixture(scope="session")
def workflows():
    paths = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert paths, f"no workflow in {WORKFLOWS}"
    return {path.stem: Workflow(path) for path in paths}


@pytest.fixture(scope="session")
def readme_commands():
    """The commands of README.md's fenced blocks between the setup-commands markers."""
    readme = PROJECT / "README.md"
    assert readme.exists(), "README.md is missing"
    text = readme.read_text()
    assert README_START in text and README_END in text, (
        f"README.md has no {README_START} ... {README_END} block: the CI tests compare its commands "
        "with the workflows"
    )
    block = text.split(README_START, 1)[1].split(README_END, 1)[0]
    commands = []
    for fence in re.findall(r"```[a-z]*\n(.*?)```", block, flags=re.DOTALL):
        for line in fence.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    assert commands, "the README's setup-commands block holds no fenced command"
    return commands

