"""The local ALB front's cost: requests through it vs straight to the task, in one run.

    .venv/bin/python benchmarks/alb_front.py [--requests 2000] [--rounds 5]

Three processes, as on the local platform: a task answering a fixed body from memory
(HTTP/1.1 keep-alive, one write per answer) on 127.0.0.1; the emulator's front
(emulator/alb_front.py) in this process, serving an ALB with a listener, five host rules
that do not match and one that forwards to the task's target group (moto's state, in
process); the clients, threads of a load process (this script with --load), as users'
programs are. Prints the added latency p50/p99 at 1 client and the requests per second at
8 and 32 clients, direct and through the front (the medians of alternating rounds). Targets (issue 14): p50 overhead under
1 ms, throughput at least half of direct. Only 127.0.0.1; bounded.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BODY = b'{"service": "bench", "ok": true}'


class FixedBody(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

    def log_message(self, *args):
        pass


def timed_gets(port, count, host="bench.local.test"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        response.read()
        times.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"unexpected status {response.status}")
    connection.close()
    return times


def load(port, clients, per_client):
    """{"rps": ..., "times": [...]} of `clients` threads each making `per_client` requests."""
    results = [None] * clients

    def client(index):
        results[index] = timed_gets(port, per_client)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": clients * per_client / (time.perf_counter() - started),
            "times": [t for times in results for t in times]}


def in_load_process(port, clients, per_client):
    """`load` run by another process (this script with --load): the clients' own CPU."""
    result = subprocess.run([sys.executable, __file__, "--load", str(port), str(clients), str(per_client)],
                            capture_output=True, text=True, timeout=600, check=True)
    return json.loads(result.stdout)


def task_process():
    """The task: FixedBody on a free port of 127.0.0.1, in its own process; (process, port)."""
    process = subprocess.Popen([sys.executable, __file__, "--task"], stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def serve_task():
    task = ThreadingHTTPServer(("127.0.0.1", 0), FixedBody)
    task.daemon_threads = True
    print(task.server_address[1], flush=True)
    threading.Timer(900, os._exit, args=(0,)).start()  # bounded, whatever happens to the parent
    task.serve_forever()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests at 1 client (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per client count, medians printed (default 5)")
    parser.add_argument("--task", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, nargs=3, metavar=("PORT", "CLIENTS", "PER_CLIENT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task:
        return serve_task()
    if args.load:
        print(json.dumps(load(*args.load)))
        return 0
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    import boto3
    from moto import mock_aws

    from emulator.alb_front import AlbFront
    from emulator.targets import TargetTable

    task, task_port = task_process()
    with mock_aws():
        ec2, elb = boto3.client("ec2"), boto3.client("elbv2")
        vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.90.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
                   ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        balancer = elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])["Listeners"][0]["ListenerArn"]
        group = elb.create_target_group(Name="bench", Protocol="HTTP", Port=8080, VpcId=vpc,
                                        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        for priority in range(1, 6):
            elb.create_rule(ListenerArn=listener, Priority=priority, Actions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"other{priority}.test"]}}])
        elb.create_rule(ListenerArn=listener, Priority=10, Actions=[{"Type": "forward", "TargetGroupArn": group}],
                        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.local.test"]}}])
        table = TargetTable()
        table.register(group, "10.90.1.10", 8080, task_port, "arn:aws:ecs:us-east-1:1:task/bench/1")
        table.set_health(group, "10.90.1.10", 8080, "healthy")
        from fargate_platform.local.ports import free_port

        front = AlbFront(table=table, port_base=free_port())
        front.start(None)
        try:
            front_port = front.ports()["bench"][80]
            in_load_process(task_port, 1, 200), in_load_process(front_port, 1, 200)  # warm up both
            direct = in_load_process(task_port, 1, args.requests)["times"]
            through = in_load_process(front_port, 1, args.requests)["times"]
            for name, fraction in (("p50", 0.5), ("p99", 0.99)):
                added = (percentile(through, fraction) - percentile(direct, fraction)) * 1000
                print(f"1 client, {name}: direct {percentile(direct, fraction) * 1000:.3f} ms, through the front "
                      f"{percentile(through, fraction) * 1000:.3f} ms, added {added:.3f} ms")
            print(f"1 client, mean added: {(statistics.mean(through) - statistics.mean(direct)) * 1000:.3f} ms")
            for clients in (8, 32):
                per_client = max(50, args.requests // clients)
                # Alternating rounds, the median of each: this machine's other work moves single runs.
                runs = [(in_load_process(task_port, clients, per_client)["rps"],
                         in_load_process(front_port, clients, per_client)["rps"]) for _ in range(args.rounds)]
                direct_rps = statistics.median(direct for direct, _ in runs)
                front_rps = statistics.median(front for _, front in runs)
                print(f"{clients} clients: direct {direct_rps:.0f} req/s, through the front {front_rps:.0f} req/s "
                      f"({front_rps / direct_rps:.0%} of direct)")
        finally:
            front.stop()
            task.terminate()
            task.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
