"""Wall times of the local platform; prints numbers.

    .venv/bin/python benchmarks/local_platform.py [--services 2 10 20]
    .venv/bin/python benchmarks/local_platform.py --api-calls 10 50 100

In one run, on a copy of the project (config/ and templates/) in a temporary
folder with its own emulator port and AWS config files (a running local platform
of yours is not touched):
- `bash scripts/bootstrap.sh` with everything installed (what the README's main
  command, `bash scripts/local.sh up`, runs first), then `fargate-platform local up`
  on a fresh state (emulator, PostgreSQL with a new CA, the whole launch, the
  summary): their sum is the main command's time on this machine;
- `fargate-platform local up` again (a no-change relaunch);
- for each service count: `sceptre launch local -y` of the platform on a fresh
  emulator state (it ends once every service's task runs, healthy: CloudFormation's
  ECS service waits for stability), then whether every service answers through the
  local ALB by its host with its own name (the sample, samples/service); and plain
  Sceptre launching a baseline project with the same stacks and the same dependency
  graph (read from the platform's Sceptre config) but one trivial resource per stack
  and no hooks or resolvers, against the same emulator; and their ratio.

With --api-calls N...: for each service count, the AWS API calls of one `sceptre launch
local -y` on a fresh emulator state, by operation, as the emulator counted them
(GET /_fargate_platform/api-calls; the Lambda functions' own calls included), and what
each operation costs per added service between the first and the last count: constant
per service means the calls grow linearly with the environment.

Targets (issue 5): the main command under 60 s; the ratio at most 1.3.
The first-time installation (`bash scripts/bootstrap.sh` on a fresh machine:
the PostgreSQL packages and three virtualenvs) is not timed here: it depends on
the network and the package caches.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TRIVIAL_TEMPLATE = """\
Resources:
  Nothing:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Name:
    Value: !Ref AWS::StackName
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Bench:
    def __init__(self, services):
        self.root = Path(tempfile.mkdtemp(prefix="fp-bench-"))
        self.platform = self.root / "platform"
        self.baseline = self.root / "baseline"
        self.sizes = services
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update({"AWS_CONFIG_FILE": str(self.root / "aws-config"),
                         "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "aws-credentials"),
                         "FARGATE_PLATFORM_EMULATOR_PORT": str(self.port)})
        shutil.copytree(PROJECT / "config", self.platform / "config")  # local needs account/local.yaml
        shutil.copytree(PROJECT / "templates", self.platform / "templates",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(PROJECT / "samples", self.platform / "samples",
                        ignore=shutil.ignore_patterns("__pycache__"))

    def run(self, argv, cwd, env=None, quiet=True):
        started = time.time()
        result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env or self.env,
                                stdout=subprocess.PIPE if quiet else None,
                                stderr=subprocess.STDOUT if quiet else None, text=True)
        seconds = time.time() - started
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, argv))} failed ({result.returncode}):\n"
                             f"{(result.stdout or '')[-4000:]}")
        return seconds

    def local(self, *args):
        return self.run([BIN / "fargate-platform", "local", *args], self.platform)

    # -- the projects ------------------------------------------------------------------------

    def set_services(self, count):
        """services/: order, inventory, then copies of order up to `count` services."""
        folder = self.platform / "config" / "local" / "services"
        keep = ["order", "inventory"][:count]
        for service in folder.iterdir():
            if service.name not in keep:
                shutil.rmtree(service)
        for index in range(len(keep), count):
            name = f"svc{index:02d}"
            shutil.copytree(folder / "order", folder / name)
            text = (folder / name / "config.yaml").read_text()
            (folder / name / "config.yaml").write_text(text.replace("order", name))

    def dependency_graph(self):
        """{stack path: [dependency paths]} of the platform's `local`, from Sceptre itself."""
        code = (
            "import json, sys\n"
            "from sceptre.context import SceptreContext\n"
            "from sceptre.plan.plan import SceptrePlan\n"
            "plan = SceptrePlan(SceptreContext(project_path='.', command_path='local'))\n"
            "print(json.dumps({s.name: sorted(d.name for d in s.dependencies)"
            " for s in plan.graph}))\n")
        result = subprocess.run([sys.executable, "-c", code], cwd=self.platform, env=self.env,
                                capture_output=True, text=True, check=True)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def write_baseline(self, graph):
        """Same stacks and dependencies, one trivial resource each, no hooks or resolvers."""
        if self.baseline.exists():
            shutil.rmtree(self.baseline)
        (self.baseline / "templates").mkdir(parents=True)
        (self.baseline / "templates" / "trivial.yaml").write_text(TRIVIAL_TEMPLATE)
        config = self.baseline / "config"
        (config / "local").mkdir(parents=True)
        (config / "config.yaml").write_text(yaml.safe_dump(
            {"project_code": "baseline", "region": "eu-west-1"}))
        (config / "local" / "config.yaml").write_text("{}\n")
        for stack, dependencies in graph.items():
            path = config / f"{stack}.yaml"  # local's stacks, and account/local.yaml it depends on
            path.parent.mkdir(parents=True, exist_ok=True)
            body = {"template": {"type": "file", "path": "trivial.yaml"}}
            if dependencies:
                body["dependencies"] = [f"{d}.yaml" for d in dependencies]
            path.write_text(yaml.safe_dump(body))

    # -- measurements ------------------------------------------------------------------------

    def launch_pair(self, count):
        self.set_services(count)
        self.local("down")
        self.local("up", "--no-launch")  # a fresh emulator and PostgreSQL: not timed
        graph = self.dependency_graph()
        self.write_baseline(graph)
        endpoint = {**self.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "eu-west-1"}
        baseline = self.run([BIN / "sceptre", "launch", "local", "-y"], self.baseline, endpoint)
        platform = self.run([BIN / "sceptre", "launch", "local", "-y"], self.platform)
        return len(graph), platform, baseline, self.answering()

    def answering(self, bound=120):
        """How many services answer GET / through the local ALB with their own name."""
        services = sorted(p.name for p in (self.platform / "config" / "local" / "services").iterdir())
        [listener] = self.control("listeners")["listeners"]
        pending, deadline = set(services), time.monotonic() + bound
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                request = urllib.request.Request(f"http://127.0.0.1:{listener['local_port']}/",
                                                 headers={"Host": f"{name}.local.fargate-platform.test"})
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        if json.loads(response.read()).get("service") == name:
                            pending.discard(name)
                except OSError:
                    pass
            time.sleep(0.5 if pending else 0)
        return len(services) - len(pending), len(services)

    def control(self, route, method="GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/_fargate_platform/{route}",
                                         method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def launch_calls(self, count):
        """The AWS calls, by operation, of one `sceptre launch local -y` of `count` services."""
        self.set_services(count)
        self.local("down")
        self.local("up", "--no-launch")
        self.control("api-calls", method="DELETE")
        seconds = self.run([BIN / "sceptre", "launch", "local", "-y"], self.platform)
        return seconds, self.control("api-calls")

    def clean_up(self):
        subprocess.run([BIN / "fargate-platform", "local", "down"], cwd=self.platform,
                       env=self.env, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def api_calls(self, counts):
        measured = {}
        try:
            for count in counts:
                seconds, calls = measured[count] = self.launch_calls(count)
                print(f"{count:4d} services: {calls['total']:6d} calls in {seconds:5.1f} s, "
                      f"{calls['total'] / count:6.1f} per service", flush=True)
        finally:
            self.clean_up()
        first, last = min(counts), max(counts)
        operations = sorted({op for _, calls in measured.values() for op in calls["calls"]})
        header = "".join(f"{count:>7d}" for count in counts)
        print(f"\n{'operation':<48}{header}  per added service ({first} -> {last})")
        for operation in operations:
            values = [measured[count][1]["calls"].get(operation, 0) for count in counts]
            slope = (values[-1] - values[0]) / (last - first) if last > first else 0
            print(f"{operation:<48}{''.join(f'{v:>7d}' for v in values)}  {slope:6.2f}")

    def main(self):
        rows = []
        try:
            install = self.run(["bash", "scripts/bootstrap.sh"], PROJECT)
            self.set_services(2)
            fresh = self.local("up")
            relaunch = self.local("up")
            print(f"bash scripts/bootstrap.sh (all installed):   {install:6.1f} s")
            print(f"fargate-platform local up, fresh state:      {fresh:6.1f} s")
            print(f"main command (bootstrap.sh + local up):      {install + fresh:6.1f} s"
                  "   target < 60 s")
            print(f"no-change relaunch (local up again):         {relaunch:6.1f} s")
            print()
            print("services  stacks  platform launch  baseline launch  ratio (target <= 1.3)  answering")
            for count in self.sizes:
                stacks, platform, baseline, (answered, services) = self.launch_pair(count)
                rows.append((count, platform, baseline, answered))
                print(f"{count:8d}  {stacks:6d}  {platform:13.1f} s  {baseline:13.1f} s  "
                      f"{platform / baseline:5.2f}                  {answered}/{services}", flush=True)
        finally:
            self.clean_up()
        return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, nargs="+", default=[2, 10, 20])
    parser.add_argument("--api-calls", type=int, nargs="+", metavar="SERVICES",
                        help="count the API calls of a launch at these service counts instead")
    args = parser.parse_args(argv)
    if args.api_calls:
        Bench(args.api_calls).api_calls(sorted(args.api_calls))
    else:
        Bench(args.services).main()


if __name__ == "__main__":
    main()
