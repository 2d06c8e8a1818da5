"""The golden templates: the CloudFormation every stack of every environment renders to,
kept in tests/templates/golden/<environment>/<stack path>.json, the layout of config/
(config/dev/services/order/service.yaml -> golden/dev/services/order/service.json).

    bash scripts/regenerate-golden.sh     # after a template change; then read `git diff`

Rendered by the real Sceptre CLI (`sceptre dump template`, offline like `sceptre
generate`), in a copy of config/ and templates/, so that a change to a template shows as
a diff of the CloudFormation it produces. Only this script writes the files; the test
(test_golden.py) compares and fails with a unified diff, naming the stack.
"""
import difflib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
PROJECT_CODE = "fargate-platform"
SCEPTRE = str(Path(sys.executable).with_name("sceptre"))
REGENERATE = "bash scripts/regenerate-golden.sh"


def copy_project(destination):
    """A throwaway copy of the project's config/ and templates/ (tests may add services to it)."""
    for folder in ("config", "templates"):
        shutil.copytree(PROJECT / folder, destination / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def environments(project):
    return sorted(p.name for p in (project / "config").iterdir() if p.is_dir())


def stack_paths(project, environment):
    """The stack paths of an environment, as Sceptre names them: `dev/services/order/service`."""
    folder = project / "config" / environment
    return sorted(str(path.relative_to(project / "config").with_suffix(""))
                  for path in folder.rglob("*.yaml") if path.name != "config.yaml")


def external_name(stack_path):
    """Sceptre's default stack name: `<project_code>-<path with / as ->`."""
    return f"{PROJECT_CODE}-{stack_path.replace('/', '-')}"


def render(project, environment):
    """{stack path: template} for every stack of `environment`, via `sceptre dump template`."""
    result = subprocess.run(
        [SCEPTRE, "--output", "json", "dump", "template", "--to-file", environment],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"sceptre dump template {environment} failed:\n{result.stderr[-3000:]}")
    return {path: json.loads((project / ".dump" / external_name(path) / "template.json").read_text())
            for path in stack_paths(project, environment)}


def render_in_process(project, environment):
    """{stack path: template} as `render` gives, from Sceptre's own plan in this process: the
    same config reading and template handler without a CLI start, for tests that render a
    variant of the project and are not about the CLI (the golden files come from `render`)."""
    from sceptre.context import SceptreContext
    from sceptre.plan.plan import SceptrePlan

    plan = SceptrePlan(SceptreContext(project_path=str(project), command_path=environment))
    return {str(stack): json.loads(body.removeprefix("---\n"))
            for stack, body in plan.generate().items()}


def normalise(template):
    """The one normalisation: stable JSON text (sorted keys, two-space indent). Nothing in a
    template varies between runs; should something ever do, it is replaced here, visibly."""
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def golden_file(stack_path):
    return GOLDEN / f"{stack_path}.json"


def differences(rendered):
    """A readable report of where `rendered` ({stack path: template}) and the golden files
    differ: a unified diff per changed stack, and stacks added or gone. Empty when equal."""
    report = []
    for stack_path, template in sorted(rendered.items()):
        golden = golden_file(stack_path)
        if not golden.exists():
            report.append(f"{stack_path}: new stack, no golden file {golden.relative_to(PROJECT)}")
            continue
        want, got = golden.read_text().splitlines(True), normalise(template).splitlines(True)
        if want != got:
            diff = difflib.unified_diff(want, got, f"golden/{stack_path}.json",
                                        f"rendered {stack_path}", n=3)
            report.append(f"{stack_path}: the CloudFormation changed:\n{''.join(diff)}")
    known = {str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.rglob("*.json")}
    for gone in sorted(known - set(rendered)):
        report.append(f"{gone}: golden file for a stack that no longer exists")
    return "\n".join(report)


def render_everything(project):
    return {path: template for environment in environments(project)
            for path, template in render(project, environment).items()}


def write(rendered):
    """Replace the golden files with `rendered`; returns the stack paths whose file changed."""
    changed = []
    for stack_path, template in sorted(rendered.items()):
        golden, text = golden_file(stack_path), normalise(template)
        if not golden.exists() or golden.read_text() != text:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
            changed.append(stack_path)
    for path in GOLDEN.rglob("*.json"):
        if str(path.relative_to(GOLDEN).with_suffix("")) not in rendered:
            path.unlink()
            changed.append(f"{path.relative_to(GOLDEN).with_suffix('')} (removed)")
    return changed


def main():
    with tempfile.TemporaryDirectory(prefix="fp-golden-") as folder:
        rendered = render_everything(copy_project(Path(folder)))
    changed = write(rendered)
    print(f"{len(rendered)} stacks rendered; {len(changed)} golden file(s) changed"
          + "".join(f"\n  {path}" for path in changed))
    if changed:
        print("Read the CloudFormation diff before you commit: git diff tests/templates/golden")


if __name__ == "__main__":
    main()
