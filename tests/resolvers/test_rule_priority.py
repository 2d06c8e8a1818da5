"""`!rule_priority` against moto's ELBv2 and CloudFormation (moto's server, real HTTP).

moto's server rather than the in-process mock: the "keeps its priority after an
update" case needs CloudFormation, which cannot be imported in this virtualenv.
"""
import json
import subprocess
import sys
import threading

import pytest
from sceptre.context import SceptreContext
from sceptre.exceptions import InvalidResolverArgumentError
from sceptre.plan.plan import SceptrePlan
from sceptre.stack import Stack

from fargate_platform.resolvers import rule_priority as rp
from fargate_platform.resolvers.rule_priority import RulePriority, RulePriorityError

import harness  # tests/sceptre_project/harness.py, on sys.path by tests/conftest.py

TEMPLATE = (harness.PROJECT / "templates" / "rule.yaml").read_text()
SERVICE_STACK = "fp-test-test-services-orders-service"




@pytest.fixture
def aws(moto_server, monkeypatch, tmp_path):
    """A fresh moto state with a VPC, an ALB and its listener; the resolver's cache emptied."""
    moto_server.reset()
    for name, value in harness.aws_environment(moto_server.url, tmp_path=tmp_path).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    harness.forget_sceptre_clients()
    rp.BOOK.clear()
    elbv2, ec2 = moto_server.client("elbv2"), moto_server.client("ec2")
    vpc, listener = harness.create_listener(elbv2, ec2)
    yield type("Aws", (), {"elbv2": elbv2, "vpc": vpc, "listener": listener, "server": moto_server})
    rp.BOOK.clear()
    harness.forget_sceptre_clients()


def make_stack(name="test/services/orders/service"):
    return Stack(name=name, project_code="fp-test", region="us-east-1",
                 template_handler_config={"type": "file", "path": "rule.yaml"})


def resolve(argument, stack=None):
    return RulePriority(argument, stack or make_stack()).resolve()


class Counting:
    """An elbv2 or cloudformation call function over a real client, counting calls by command."""

    def __init__(self, client):
        self.client, self.calls = client, {}

    def __call__(self, command, kwargs):
        self.calls[command] = self.calls.get(command, 0) + 1
        return getattr(self.client, command)(**kwargs)


# --- arguments and pure functions -----------------------------------------------------

LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2"


@pytest.mark.parametrize(
    "argument, message",
    [
        ("x", "!rule_priority takes a mapping {listener: ARN, host: HOST[, priority: N]}; it was given str"),
        ({"listener": LISTENER, "host": "a.example.com", "weight": 1}, "!rule_priority does not take the argument(s) weight; it takes listener, host and priority"),
        ({"host": "a.example.com"}, "!rule_priority argument `listener` must be a listener ARN; it is None"),
        ({"listener": "my-listener", "host": "a.example.com"}, "!rule_priority argument `listener` must be a listener ARN; it is 'my-listener'"),
        ({"listener": LISTENER}, "!rule_priority argument `host` must be a host name; it is None"),
        ({"listener": LISTENER, "host": "bad host"}, "!rule_priority argument `host` must be a host name; it is 'bad host'"),
        ({"listener": LISTENER, "host": "a.example.com", "priority": 0}, "!rule_priority argument `priority` must be an integer from 1 to 999; it is 0"),
        ({"listener": LISTENER, "host": "a.example.com", "priority": 1000}, "!rule_priority argument `priority` must be an integer from 1 to 999; it is 1000"),
        ({"listener": LISTENER, "host": "a.example.com", "priority": "high"}, "!rule_priority argument `priority` must be an integer from 1 to 999; it is 'high'"),
        ({"listener": LISTENER, "host": "a.example.com", "priority": True}, "!rule_priority argument `priority` must be an integer from 1 to 999; it is True"),
    ],
)
def test_argument_errors_are_exact(argument, message):
    with pytest.raises(InvalidResolverArgumentError) as error:
        resolve(argument)
    assert str(error.value) == f"test/services/orders/service - {message}"


def test_preferred_slot_is_stable_and_in_the_automatic_range():
    slots = {rp.preferred_slot(f"s{i}.example.com") for i in range(2000)}
    assert rp.preferred_slot("Orders.Example.com") == rp.preferred_slot("orders.example.com")
    assert min(slots) >= rp.AUTO_FIRST and max(slots) <= rp.AUTO_LAST
    assert len(slots) > 1900  # uniform would give ~1959 distinct of 2000: spread out, not clustered


def test_probing_moves_up_and_wraps():
    assert rp.next_free(5000, {5000, 5001}) == 5002
    assert rp.next_free(rp.AUTO_LAST, {rp.AUTO_LAST}) == rp.AUTO_FIRST
    with pytest.raises(RulePriorityError, match="no free listener rule priority"):
        rp.next_free(rp.AUTO_FIRST, set(range(rp.AUTO_FIRST, rp.AUTO_LAST + 1)))


def test_pinned_priority_wins_without_any_aws_call(monkeypatch):
    harness.forget_sceptre_clients()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{harness.free_port()}")  # nothing listens
    assert resolve({"listener": LISTENER, "host": "a.example.com", "priority": 120}) == "120"
    assert resolve({"listener": LISTENER, "host": "a.example.com", "priority": "7"}) == "7"
    harness.forget_sceptre_clients()


# --- against moto -----------------------------------------------------------------------


def test_pages_through_rules_and_probes_past_taken_slots(aws):
    host = "orders.test.example.com"
    preferred = rp.preferred_slot(host)
    filler = [p for p in range(rp.AUTO_FIRST, rp.AUTO_FIRST + 300) if p not in range(preferred, preferred + 3)][:227]
    for index, priority in enumerate(filler):
        aws.elbv2.create_rule(
            ListenerArn=aws.listener, Priority=priority,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"f{index}.example.com"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )
    # the slots this host prefers are taken by the last rules: on the third page of 100
    for offset in range(3):
        harness.add_rule(aws.elbv2, aws.listener, aws.vpc, f"blocker{offset}.example.com", preferred + offset)
    elbv2 = Counting(aws.elbv2)
    rules = rp.fetch_rules(elbv2, aws.listener, page_size=100)
    assert len(rules) == 230 and elbv2.calls == {"describe_rules": 3}

    elbv2 = Counting(aws.elbv2)
    priority = rp.resolve_priority(elbv2, None, SERVICE_STACK, aws.listener, host, book=rp.PriorityBook(), page_size=100)
    assert priority == preferred + 3
    assert elbv2.calls == {"describe_rules": 3}


def test_new_host_through_the_resolver_takes_its_preferred_slot(aws):
    argument = {"listener": aws.listener, "host": "Orders.Test.Example.com"}
    assert resolve(argument) == str(rp.preferred_slot("orders.test.example.com"))


def _launch_service_stack(aws, priority, health_check_path="/health", update=False):
    cloudformation = aws.server.client("cloudformation")
    parameters = {
        "ListenerArn": aws.listener, "VpcId": aws.vpc, "Host": "orders.test.example.com",
        "HealthCheckPath": health_check_path, "Priority": str(priority),
    }
    method = cloudformation.update_stack if update else cloudformation.create_stack
    method(StackName=SERVICE_STACK, TemplateBody=TEMPLATE,
           Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    outputs = cloudformation.describe_stacks(StackName=SERVICE_STACK)["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}["RuleArn"]


def test_existing_host_keeps_its_priority_across_updates(aws):
    host = "orders.test.example.com"
    preferred = rp.preferred_slot(host)
    blocker = harness.add_rule(aws.elbv2, aws.listener, aws.vpc, "blocker.example.com", preferred)
    argument = {"listener": aws.listener, "host": host}

    first = int(resolve(argument))
    assert first == preferred + 1  # its preferred slot was taken at creation time
    rule_arn = _launch_service_stack(aws, first)

    aws.elbv2.delete_rule(RuleArn=blocker["RuleArn"])  # now the preferred slot is free
    rp.BOOK.clear()  # a new Sceptre run
    second = int(resolve(argument))
    assert second == first  # the stack's own rule wins over the now-free preferred slot
    assert _launch_service_stack(aws, second, "/ready", update=True) == rule_arn
    (rule,) = [r for r in aws.elbv2.describe_rules(ListenerArn=aws.listener)["Rules"] if r["RuleArn"] == rule_arn]
    assert rule["Priority"] == str(first)


def test_a_foreign_rule_claiming_the_host_is_a_clear_error(aws):
    rule = harness.add_rule(aws.elbv2, aws.listener, aws.vpc, "orders.test.example.com", 7)
    with pytest.raises(RulePriorityError) as error:
        resolve({"listener": aws.listener, "host": "orders.test.example.com"})
    assert str(error.value) == (
        f"test/services/orders/service - !rule_priority: host 'orders.test.example.com' on listener "
        f"{aws.listener} is already claimed by rule {rule['RuleArn']} (priority 7) of something the "
        "platform did not create; remove that rule or give this service another host"
    )


def test_another_platform_service_claiming_the_host_is_named(aws):
    harness.add_rule(aws.elbv2, aws.listener, aws.vpc, "orders.test.example.com", 8, service="billing")
    with pytest.raises(RulePriorityError, match=r"\(priority 8\) of platform service 'billing' \(another stack\)"):
        resolve({"listener": aws.listener, "host": "orders.test.example.com"})


def test_200_new_hosts_get_200_distinct_free_priorities(aws):
    existing = {harness.add_rule(aws.elbv2, aws.listener, aws.vpc, f"old{i}.example.com", 1000 + i)["Priority"] for i in range(20)}
    priorities = [resolve({"listener": aws.listener, "host": f"svc{i}.example.com"}) for i in range(200)]
    assert len(set(priorities)) == 200
    assert not set(priorities) & existing
    assert all(rp.AUTO_FIRST <= int(p) <= rp.AUTO_LAST for p in priorities)
    # resolved again in the same run: the same answers
    assert [resolve({"listener": aws.listener, "host": f"svc{i}.example.com"}) for i in range(200)] == priorities


def test_20_threads_at_once_get_distinct_priorities(aws, monkeypatch):
    # every host prefers the same slot: only the in-process reservation keeps them apart
    monkeypatch.setattr(rp, "preferred_slot", lambda host: 4242)
    barrier, results, errors = threading.Barrier(20), {}, []

    def worker(index):
        stack = make_stack(f"test/services/s{index}/service")
        resolver = RulePriority({"listener": aws.listener, "host": f"s{index}.example.com"}, stack)
        barrier.wait()
        try:
            results[index] = resolver.resolve()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(int(p) for p in results.values()) == list(range(4242, 4262))


class Pipelines:
    """Two worker processes (tests/sceptre_project/rule_worker.py) driven in lockstep."""

    def __init__(self, aws, *extra):
        self.workers = [
            subprocess.Popen(
                [sys.executable, str(harness.PROJECT / "rule_worker.py"), aws.server.url, aws.listener, name, *extra],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            )
            for name in ("pipeline-a", "pipeline-b")
        ]

    def step(self, command, trial):
        for worker in self.workers:
            worker.stdin.write(f"{command} {trial}\n")
        return [json.loads(worker.stdout.readline()) for worker in self.workers]

    def run(self, aws, trials):
        """Per trial: both resolve from the same listener state, then both create; returns collisions."""
        collisions = 0
        try:
            for trial in range(trials):
                self.step("resolve", trial)  # both read the listener before either creates
                created = self.step("create", trial)
                collisions += any(answer["collided"] for answer in created)
                # both rules exist on distinct priorities (a collision was fixed by its rerun)
                assert created[0]["priority"] != created[1]["priority"]
                for answer in created:
                    (rule,) = aws.elbv2.describe_rules(RuleArns=[answer["rule"]])["Rules"]
                    assert rule["Priority"] == str(answer["priority"])
                self.step("delete", trial)  # every trial starts from the same listener state
        finally:
            for worker in self.workers:
                worker.stdin.close()
                worker.wait(timeout=30)
        return collisions


@pytest.mark.slow
def test_two_processes_at_the_same_moment_collision_rate(aws, capsys):
    """Two pipelines (separate processes, separate caches) each allocate a different new
    host from the same listener state (20 rules), then both create their rule; 200 trials."""
    for i in range(20):
        harness.add_rule(aws.elbv2, aws.listener, aws.vpc, f"bg{i}.example.com", 1000 + 491 * i)
    trials = 200
    collisions = Pipelines(aws).run(aws, trials)
    with capsys.disabled():
        print(f"\n!rule_priority two-process collision rate: {collisions}/{trials} trials "
              f"({100 * collisions / trials:.2f}%), each collision fixed by one rerun")
    assert collisions / trials <= 0.02


def test_a_collision_fails_cleanly_and_a_rerun_succeeds(aws):
    # both pipelines prefer one slot: every trial collides, and each rerun finds a free one
    assert Pipelines(aws, "7777").run(aws, 5) == 5


# --- loaded through the entry point by Sceptre's config reading, and the real CLI ------


def test_tag_resolves_through_sceptre_config_reading(aws):
    variables = {"listener_arn": aws.listener, "vpc_id": aws.vpc, "host": "orders.test.example.com",
                 "health_check_path": "/health"}
    context = SceptreContext(project_path=str(harness.PROJECT), command_path="test/rule.yaml", user_variables=variables)
    (stack,) = SceptrePlan(context).command_stacks
    assert type(stack.config["parameters"]["Priority"]) is RulePriority
    assert stack.parameters["Priority"] == str(rp.preferred_slot("orders.test.example.com"))


@pytest.mark.slow
def test_cli_launch_then_update_keeps_the_rule_and_its_priority(aws, tmp_path):
    env = harness.aws_environment(aws.server.url, tmp_path=tmp_path)
    host = "orders.test.example.com"
    blocker = harness.add_rule(aws.elbv2, aws.listener, aws.vpc, "blocker.example.com", rp.preferred_slot(host))

    def launch(path):
        variables = {"listener_arn": aws.listener, "vpc_id": aws.vpc, "host": host, "health_check_path": path}
        args = [item for key, value in variables.items() for item in ("--var", f"{key}={value}")]
        return harness.run_sceptre([*args, "launch", "-y", "test/rule.yaml"], env)

    def rule_of_stack():
        rules = aws.elbv2.describe_rules(ListenerArn=aws.listener)["Rules"]
        return [(r["RuleArn"], r["Priority"]) for r in rules if host in json.dumps(r["Conditions"])]

    first = launch("/health")
    assert first.returncode == 0, first.stderr
    created = rule_of_stack()
    assert [priority for _, priority in created] == [str(rp.preferred_slot(host) + 1)]

    aws.elbv2.delete_rule(RuleArn=blocker["RuleArn"])  # the preferred slot is free now
    second = launch("/ready")
    assert second.returncode == 0, second.stderr
    assert rule_of_stack() == created
    stack = aws.server.client("cloudformation").describe_stacks(StackName="fp-test-test-rule")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"  # the update did happen
    assert {"ParameterKey": "HealthCheckPath", "ParameterValue": "/ready"} in stack["Parameters"]
