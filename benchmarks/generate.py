"""Time `sceptre generate dev` with 50, 100 and 500 services over 5 ALBs, against plain
Sceptre generating the same stacks, with the same dependency edges, from static copies of
the same templates (so both print the same bytes).

    .venv/bin/python benchmarks/generate.py [--services 50 100 500] [--albs 5] [--repeat 3]

Prints seconds (best of --repeat), the ratio, and the time the platform adds per stack
((platform - baseline) / stacks). Targets: ratio at most 1.15 at 500 services, and the
added time per stack at 500 within 1.2x of that at 50 (flat: it does not grow with the
environment). Most of both columns is Sceptre's own graph building, which grows with the
square of the stacks (docs/sceptre-stack-graph.md; benchmarks/sceptre_graph.py).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
SCEPTRE = str(Path(sys.executable).with_name("sceptre"))
SHARED_STACKS = ["network.yaml", "support/artefacts.yaml", "support/functions.yaml", "cluster.yaml", "rds.yaml"]


def platform_project(root, services, albs):
    shutil.copytree(PROJECT / "config", root / "config", ignore=shutil.ignore_patterns("account"))
    alb_names = ["main"] + [f"alb{index}" for index in range(2, albs + 1)]
    env_file = root / "config" / "dev" / "config.yaml"
    settings = yaml.safe_load(env_file.read_text())
    settings["environment"]["albs"] = alb_names
    env_file.write_text(yaml.safe_dump(settings))
    shutil.copytree(PROJECT / "templates", root / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    services_dir = root / "config" / "dev" / "services"
    sample = services_dir / "order"
    for folder in list(services_dir.iterdir()):
        if folder != sample:
            shutil.rmtree(folder)
    for index in range(services):
        name = f"svc{index:03d}"
        folder = services_dir / name
        shutil.copytree(sample, folder)
        settings = yaml.safe_load((folder / "config.yaml").read_text())
        settings["service"].update(name=name, host=f"{name}.dev.example.com",
                                   alb=alb_names[index % len(alb_names)])
        (folder / "config.yaml").write_text(yaml.safe_dump(settings))
    shutil.rmtree(sample)
    return root


# Each stack's dependencies, as the platform's resolvers and config declare them.
DEPENDENCIES = {
    "network.yaml": [],
    "support/artefacts.yaml": ["network.yaml"],
    "support/functions.yaml": ["support/artefacts.yaml"],
    "cluster.yaml": ["network.yaml"],
    "rds.yaml": ["network.yaml", "cluster.yaml", "support/functions.yaml", "support/artefacts.yaml"],
}
SERVICE_DEPENDENCIES = ["network.yaml", "cluster.yaml", "support/artefacts.yaml", "rds.yaml"]


def stack_file(template, dependencies):
    lines = [f"template:\n  path: {template}\n"]
    if dependencies:
        lines.append("dependencies:\n" + "".join(f"  - dev/{d}\n" for d in dependencies))
    return "".join(lines)


def baseline_project(root, platform_root):
    """The same stacks, dependency graph and template bodies, served as static files.

    The templates are the platform's own output (`sceptre dump template`), so the
    ratio measures what the platform's Python adds, not template size (Sceptre
    re-parses every generated template with PyYAML before printing it).
    """
    result = subprocess.run([SCEPTRE, "--output", "json", "dump", "template", "--to-file", "dev"],
                            cwd=platform_root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"sceptre dump template failed:\n{result.stderr[-2000:]}")
    dumped = platform_root / ".dump"
    (root / "templates").mkdir(parents=True)
    config = root / "config"
    (config / "dev" / "support").mkdir(parents=True)
    (config / "config.yaml").write_text("project_code: fargate-platform\nregion: eu-west-1\n")
    (config / "dev" / "config.yaml").write_text("{}\n")
    for path, dependencies in DEPENDENCIES.items():
        name = "fargate-platform-dev-" + path[: -len(".yaml")].replace("/", "-")
        shutil.copy(dumped / name / "template.json", root / "templates" / f"{name}.json")
        (config / "dev" / path).write_text(stack_file(f"{name}.json", dependencies))
    for folder in sorted((platform_root / "config" / "dev" / "services").iterdir()):
        name = f"fargate-platform-dev-services-{folder.name}-service"
        shutil.copy(dumped / name / "template.json", root / "templates" / f"{name}.json")
        (config / "dev" / "services" / folder.name).mkdir(parents=True)
        (config / "dev" / "services" / folder.name / "service.yaml").write_text(
            stack_file(f"{name}.json", SERVICE_DEPENDENCIES)
        )
    return root


def time_generate(project, repeat):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        # One hash seed for both projects: Sceptre's graph building visits its stacks in set
        # order, and its cost varies by several seconds with that order at 500 services.
        result = subprocess.run([SCEPTRE, "--output", "json", "generate", "dev"], cwd=project,
                                capture_output=True, text=True,
                                env={**os.environ, "PYTHONHASHSEED": "0"})
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"sceptre generate failed in {project}:\n{result.stderr[-2000:]}")
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[50, 100, 500])
    parser.add_argument("--albs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'services':>8} {'albs':>4} {'stacks':>6} {'platform s':>10} {'baseline s':>10} {'ratio':>6} "
          f"{'added ms/stack':>14}")
    for count in args.services:
        with tempfile.TemporaryDirectory() as tmp:
            platform_root = platform_project(Path(tmp) / "platform", count, args.albs)
            baseline_root = baseline_project(Path(tmp) / "baseline", platform_root)
            platform = time_generate(platform_root, args.repeat)
            baseline = time_generate(baseline_root, args.repeat)
        stacks = count + len(SHARED_STACKS)
        added = (platform - baseline) / stacks * 1000
        print(f"{count:>8} {args.albs:>4} {stacks:>6} {platform:>10.2f} {baseline:>10.2f} "
              f"{platform / baseline:>6.2f} {added:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
