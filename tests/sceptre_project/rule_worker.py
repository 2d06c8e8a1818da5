"""One "pipeline" for the two-process collision test: its own process, its own cache.

    python rule_worker.py MOTO_URL LISTENER_ARN WORKER_NAME [FIXED_SLOT]

FIXED_SLOT makes every host prefer that slot (to force collisions and check the rerun).

Driven line by line on stdin so two workers act at the same moment:
  "resolve T" -> allocate a priority for host WORKER_NAME-tT.example.com with a fresh
                 per-run cache (a new pipeline run), answer {"priority": P}
  "create T"  -> create that rule; on PriorityInUse (a collision) rerun from a fresh
                 cache and create again; answer {"collided": bool, "priority": final, "rule": ARN}
  "delete T"  -> delete that rule, so the next trial starts from the same listener state
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

from fargate_platform.resolvers import rule_priority
from fargate_platform.resolvers.rule_priority import PriorityBook, resolve_priority


def main(moto_url, listener, worker, fixed_slot=None):
    if fixed_slot:
        rule_priority.preferred_slot = lambda host: int(fixed_slot)
    elbv2 = boto3.client(
        "elbv2", endpoint_url=moto_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )

    def elbv2_call(command, kwargs):
        return getattr(elbv2, command)(**kwargs)

    def no_stack(command, kwargs):
        return {"StackResourceSummaries": []}

    def allocate(host):
        return resolve_priority(elbv2_call, no_stack, "fp-test-worker", listener, host, book=PriorityBook())

    def create(host, priority):
        return elbv2.create_rule(
            ListenerArn=listener,
            Priority=priority,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [host]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )["Rules"][0]["RuleArn"]

    priorities, rules = {}, {}
    for line in sys.stdin:
        command, trial = line.split()
        host = f"{worker}-t{trial}.example.com"
        if command == "resolve":
            priorities[trial] = allocate(host)
            answer = {"priority": priorities[trial]}
        elif command == "create":
            collided = False
            try:
                rules[trial] = create(host, priorities[trial])
            except ClientError as error:
                if error.response["Error"]["Code"] != "PriorityInUse":
                    raise
                collided = True
                priorities[trial] = allocate(host)  # the rerun re-reads the listener
                rules[trial] = create(host, priorities[trial])
            answer = {"collided": collided, "priority": priorities[trial], "rule": rules[trial]}
        else:
            elbv2.delete_rule(RuleArn=rules.pop(trial))
            answer = {"deleted": True}
        print(json.dumps(answer), flush=True)

if __name__ == "__main__":
    main(*sys.argv[1:5])
