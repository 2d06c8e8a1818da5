"""Benchmark the emulator's property validation (emulator/property_validation.py): the time
to validate every resource of the platform's rendered templates (tests/templates/golden).

    PYTHONPATH=. .venvs/emulator/bin/python benchmarks/property_validation.py [--repeat N]

Prints, per environment folder, the number of templates and resources and the time of the
first pass (the registry schemas read from disk, as in a fresh emulator) and of the
fastest later pass (the schemas cached). Each environment is its own process, so each
first pass starts cold. Numbers only: tests/emulator/test_property_validation.py checks
that the same templates validate clean.
"""
import argparse
import glob
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "templates" / "golden"
REGION = "eu-west-1"


def resources_of(folder):
    """[(type, properties)] of every resource in the folder's templates, and the file count."""
    paths = sorted(glob.glob(str(GOLDEN / folder / "**" / "*.json"), recursive=True))
    resources = []
    for path in paths:
        for resource in json.loads(Path(path).read_text())["Resources"].values():
            resources.append((resource["Type"], resource.get("Properties", {})))
    return resources, len(paths)


def validate_all(resources):
    from emulator import property_validation

    started = time.perf_counter()
    for resource_type, properties in resources:
        property_validation.property_errors(resource_type, properties, REGION)
    return (time.perf_counter() - started) * 1000


def measure(folder, repeat):
    """One environment's numbers, in this process (run by main, one process each)."""
    resources, files = resources_of(folder)
    first = validate_all(resources)
    later = min(validate_all(resources) for _ in range(repeat))
    print(f"{folder:<10} {files:>5} {len(resources):>9} {first:>12.0f} {later:>12.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cached passes (the fastest shown)")
    parser.add_argument("--folder", help=argparse.SUPPRESS)  # one environment, in a child process
    args = parser.parse_args()
    if args.folder:
        return measure(args.folder, args.repeat)
    print(f"{'templates':<10} {'files':>5} {'resources':>9} {'first ms':>12} {'cached ms':>12}")
    for folder in sorted(path.name for path in GOLDEN.iterdir() if path.is_dir()):
        subprocess.run([sys.executable, __file__, "--folder", folder, "--repeat", str(args.repeat)],
                       cwd=REPO, check=True)


if __name__ == "__main__":
    main()
