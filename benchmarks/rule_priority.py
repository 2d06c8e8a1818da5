"""Benchmark `!rule_priority`: API calls and time to resolve 100 services on a listener
holding 100 rules, with the per-run cache and without it (a fresh cache per resolution).

    .venv/bin/python benchmarks/rule_priority.py [--endpoint URL] [--services N]

Without --endpoint it starts moto's server from .venvs/emulator on a free port (and
stops it at the end). Two cases:
  updates:  the 100 rules belong to the 100 services' own stacks (CloudFormation
            stacks in moto), and each service resolves its existing priority;
  new:      100 new hosts on a listener whose 100 rules belong to other services.
Also prints a simulated two-pipeline collision rate (pure computation, no AWS).
"""
import argparse
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

from fargate_platform.resolvers import rule_priority as rp

REPO = Path(__file__).resolve().parents[1]
MOTO_SERVER = REPO / ".venvs" / "emulator" / "bin" / "moto_server"
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
RULE_TEMPLATE = """
Parameters:
  Listener: {Type: String}
  Host: {Type: String}
  Priority: {Type: Number}
Resources:
  Rule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Listener
      Priority: !Ref Priority
      Conditions: [{Field: host-header, HostHeaderConfig: {Values: [!Ref Host]}}]
      Actions: [{Type: fixed-response, FixedResponseConfig: {StatusCode: "200"}}]
"""


def start_moto():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start")


class Counting:
    def __init__(self, client):
        self.client, self.count = client, 0

    def __call__(self, command, kwargs):
        self.count += 1
        return getattr(self.client, command)(**kwargs)


def listener(url):
    ec2, elbv2 = (boto3.client(s, endpoint_url=url, **CREDENTIALS) for s in ("ec2", "elbv2"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name=f"bench-{time.time_ns() % 10**6}", Subnets=subnets)
    return elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]


def measure(url, arn, jobs, cached):
    """Resolve every (stack, host) in jobs; returns (calls by service, seconds, priorities)."""
    elbv2 = Counting(boto3.client("elbv2", endpoint_url=url, **CREDENTIALS))
    cloudformation = Counting(boto3.client("cloudformation", endpoint_url=url, **CREDENTIALS))
    book = rp.PriorityBook()
    start = time.perf_counter()
    priorities = []
    for stack, host in jobs:
        if not cached:
            book = rp.PriorityBook()
        priorities.append(rp.resolve_priority(elbv2, cloudformation, stack, arn, host, book=book))
    return {"elbv2": elbv2.count, "cloudformation": cloudformation.count}, time.perf_counter() - start, priorities


def report(case, url, arn, jobs):
    for cached in (True, False):
        calls, seconds, priorities = measure(url, arn, jobs, cached)
        label = "with cache   " if cached else "without cache"
        print(
            f"{case:8s} {label}: {sum(calls.values()):4d} API calls "
            f"(elbv2 {calls['elbv2']}, cloudformation {calls['cloudformation']}), "
            f"{seconds:6.2f} s, {1000 * seconds / len(jobs):6.1f} ms/service, "
            f"{len(set(priorities))} distinct priorities of {len(jobs)}"
        )


def simulated_collision_rate(trials, existing_rules, seed=7):
    """Two pipelines, each with its own cache, allocate one new host each from the same state."""
    rng = random.Random(seed)
    taken = set(rng.sample(range(rp.AUTO_FIRST, rp.AUTO_LAST + 1), existing_rules))
    collisions = 0
    for trial in range(trials):
        a = rp.next_free(rp.preferred_slot(f"a{trial}-{rng.random()}.example.com"), taken)
        b = rp.next_free(rp.preferred_slot(f"b{trial}-{rng.random()}.example.com"), taken)
        collisions += a == b
    return collisions


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="a running moto server (default: start one)")
    parser.add_argument("--services", type=int, default=100)
    args = parser.parse_args()
    process, url = (None, args.endpoint) if args.endpoint else start_moto()
    try:
        n = args.services
        cloudformation = boto3.client("cloudformation", endpoint_url=url, **CREDENTIALS)

        # updates: each service's own stack holds its rule
        arn = listener(url)
        setup = time.perf_counter()
        jobs = []
        for i in range(n):
            stack, host = f"bench-svc-{i}-service", f"svc{i}.example.com"
            cloudformation.create_stack(
                StackName=stack, TemplateBody=RULE_TEMPLATE,
                Parameters=[{"ParameterKey": "Listener", "ParameterValue": arn},
                            {"ParameterKey": "Host", "ParameterValue": host},
                            {"ParameterKey": "Priority", "ParameterValue": str(rp.AUTO_FIRST + 7 * i)}],
            )
            jobs.append((stack, host))
        print(f"set-up: {n} service stacks with their rules in {time.perf_counter() - setup:.1f} s")
        report("updates", url, arn, jobs)

        # new hosts on a listener holding n rules of other services
        arn = listener(url)
        elbv2 = boto3.client("elbv2", endpoint_url=url, **CREDENTIALS)
        for i in range(n):
            elbv2.create_rule(
                ListenerArn=arn, Priority=rp.AUTO_FIRST + 7 * i,
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"other{i}.example.com"]}}],
                Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
            )
        report("new", url, arn, [(f"bench-new-{i}-service", f"new{i}.example.com") for i in range(n)])

        trials = 100_000
        collisions = simulated_collision_rate(trials, n)
        print(
            f"simulated two-pipeline collisions ({n} rules on the listener): {collisions}/{trials} "
            f"= {100 * collisions / trials:.4f}% (uniform expectation ~{100 / (rp.AUTO_LAST - rp.AUTO_FIRST + 1):.4f}%)"
        )
    finally:
        if process:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
