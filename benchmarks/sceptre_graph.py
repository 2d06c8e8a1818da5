"""Sceptre 4.7's StackGraph, on this platform's graph shape, at 50 to 1000 stacks: the
time to build it as Sceptre does (a full cycle search after every edge it adds), against
the proposed change (add every edge, then one acyclicity check; find the cycle only when
there is one). Plain Sceptre and networkx only: nothing of this project is imported.

    .venv/bin/python benchmarks/sceptre_graph.py [--stacks 50 100 500 1000] [--repeat 3]

The graph: 5 shared stacks (network <- artefacts <- functions, network <- cluster, and
rds <- all four) and N - 5 service stacks that each depend on network, cluster, artefacts
and rds, as `!stack_output` makes them. Also times `sceptre generate` of a plain project
of N trivial stacks with that graph (the whole CLI), to show where the wall time goes.
See docs/sceptre-stack-graph.md for the report.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
from sceptre.config.graph import StackGraph
from sceptre.exceptions import CircularDependenciesError

SCEPTRE = str(Path(sys.executable).with_name("sceptre"))
SHARED = {
    "network": [],
    "support/artefacts": ["network"],
    "support/functions": ["support/artefacts"],
    "cluster": ["network"],
    "rds": ["network", "cluster", "support/functions", "support/artefacts"],
}
SERVICE_DEPENDENCIES = ["network", "cluster", "support/artefacts", "rds"]


class FakeStack:
    """What StackGraph reads of a stack: a hashable name and its dependencies."""

    def __init__(self, name):
        self.name, self.dependencies = name, []

    def __repr__(self):
        return self.name


def graph_shape(stacks):
    """{name: [dependency names]} for `stacks` stacks in the platform's shape."""
    shape = dict(SHARED)
    for index in range(stacks - len(SHARED)):
        shape[f"services/svc{index:04d}/service"] = SERVICE_DEPENDENCIES
    return shape


def fake_stacks(shape):
    stacks = {name: FakeStack(name) for name in shape}
    for name, dependencies in shape.items():
        stacks[name].dependencies = [stacks[d] for d in dependencies]
    return set(stacks.values())


def proposed_graph(stacks):
    """The proposed StackGraph._generate_graph: every edge first, one check after."""
    graph = nx.DiGraph()
    for stack in stacks:
        graph.add_node(stack)
        graph.add_edges_from((dependency, stack) for dependency in set(stack.dependencies))
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph, orientation="original")
        raise CircularDependenciesError(
            "Dependency cycle detected: " + ", ".join(f"{a} -> {b}" for a, b, _ in cycle))
    graph.remove_edges_from(nx.selfloop_edges(graph))
    return graph


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_project(root, shape):
    (root / "templates").mkdir(parents=True)
    (root / "templates" / "trivial.yaml").write_text(
        "Resources:\n  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\n")
    (root / "config" / "dev").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("project_code: plain\nregion: eu-west-1\n")
    for name, dependencies in shape.items():
        path = root / "config" / "dev" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "template:\n  path: trivial.yaml\n"
        if dependencies:
            text += "dependencies:\n" + "".join(f"  - dev/{d}.yaml\n" for d in dependencies)
        path.write_text(text)


def time_generate(root):
    start = time.perf_counter()
    result = subprocess.run([SCEPTRE, "--output", "json", "generate", "dev"], cwd=root,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"sceptre generate failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, nargs="+", default=[50, 100, 500, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the `sceptre generate` column")
    args = parser.parse_args()
    print(f"{'stacks':>6} {'edges':>6} {'StackGraph s':>12} {'proposed s':>10} {'speed-up':>8} "
          f"{'generate s':>10}")
    for count in args.stacks:
        shape = graph_shape(count)
        stacks = fake_stacks(shape)
        today = best_of(args.repeat, lambda: StackGraph(stacks))
        proposed = best_of(args.repeat, lambda: proposed_graph(stacks))
        assert set(proposed_graph(stacks).edges) == set(StackGraph(stacks).graph.edges)
        generate = ""
        if not args.no_cli:
            folder = Path(tempfile.mkdtemp(prefix="fp-plain-graph-"))
            try:
                plain_project(folder, shape)
                generate = f"{time_generate(folder):.2f}"
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        edges = sum(len(d) for d in shape.values())
        print(f"{count:>6} {edges:>6} {today:>12.3f} {proposed:>10.4f} {today / proposed:>8.0f} "
              f"{generate:>10}", flush=True)


if __name__ == "__main__":
    main()
