"""service_stability.py: a CloudFormation create or update of an ECS service ends once the
service is stable, and fails, rolling the stack back, when the circuit breaker fails its
deployment."""
import json
import time

SLEEPER = ["python3", "-c", "import time; time.sleep(600)"]
FAILING = ["python3", "-c", "print('cannot start: no configuration'); raise SystemExit(1)"]


def template(emulator, family, command):
    return json.dumps({"Resources": {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": family}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": family, "Memory": "512", "ContainerDefinitions": [{
                "Name": "app", "Image": "app:1", "Command": command, "StopTimeout": 2}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"},
            "ServiceName": "app", "DesiredCount": 1,
            "DeploymentConfiguration": {
                "MinimumHealthyPercent": 100, "MaximumPercent": 200,
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}}}}})


def wait_for_status(emulator, stack, bound):
    deadline = time.monotonic() + bound
    while True:
        status = emulator.stack(stack)["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def running(emulator, cluster):
    ecs = emulator.client("ecs")
    arns = ecs.list_tasks(cluster=cluster)["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def test_a_service_is_created_complete_only_once_its_task_runs(emulator):
    cfn, stack, family = emulator.client("cloudformation"), emulator.unique("stable"), emulator.unique("stable")
    started = time.monotonic()
    cfn.create_stack(StackName=stack, TemplateBody=template(emulator, family, SLEEPER))
    try:
        assert wait_for_status(emulator, stack, 60) == "CREATE_COMPLETE"
        # Complete means stable: its one task runs, and it has run long enough to count as
        # healthy (no target group: 2 s running), which moto alone never waits for.
        assert time.monotonic() - started >= 2
        [service] = emulator.client("ecs").describe_services(cluster=family, services=["app"])["services"]
        assert service["runningCount"] == 1 and len(running(emulator, family)) == 1
    finally:
        cfn.delete_stack(StackName=stack)


def test_a_failing_deployment_fails_the_update_and_the_previous_revision_keeps_serving(emulator):
    cfn, stack, family = emulator.client("cloudformation"), emulator.unique("breaker"), emulator.unique("breaker")
    cfn.create_stack(StackName=stack, TemplateBody=template(emulator, family, SLEEPER))
    try:
        assert wait_for_status(emulator, stack, 60) == "CREATE_COMPLETE"
        [before] = running(emulator, family)
        started = time.monotonic()
        cfn.update_stack(StackName=stack, TemplateBody=template(emulator, family, FAILING))
        assert wait_for_status(emulator, stack, 120) == "UPDATE_ROLLBACK_COMPLETE"
        assert time.monotonic() - started < 60  # 3 failed tasks, backing off 1, 2 s
        [failed] = [e for e in emulator.events(stack)
                    if e["LogicalResourceId"] == "Service" and e["ResourceStatus"] == "UPDATE_FAILED"]
        assert failed["ResourceStatusReason"].startswith(
            "Resource handler returned message: \"Error occurred during operation "
            "'ECS Deployment Circuit Breaker was triggered'.\" (RequestToken: ")
        assert failed["ResourceStatusReason"].endswith("HandlerErrorCode: GeneralServiceException)")
        # The old task served throughout; the service and the stack are on its revision again.
        assert [t["taskArn"] for t in running(emulator, family)] == [before["taskArn"]]
        [service] = emulator.client("ecs").describe_services(cluster=family, services=["app"])["services"]
        assert service["taskDefinition"] == before["taskDefinitionArn"]
        [resource] = [r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
                      if r["LogicalResourceId"] == "TaskDefinition"]
        assert resource["PhysicalResourceId"] == before["taskDefinitionArn"]
        # The failed tasks' reasons and output are what the deployment report hook prints.
        ecs = emulator.client("ecs")
        stopped = ecs.describe_tasks(cluster=family, tasks=ecs.list_tasks(
            cluster=family, desiredStatus="STOPPED")["taskArns"])["tasks"]
        assert [t["containers"][0]["exitCode"] for t in stopped if t["taskDefinitionArn"] !=
                before["taskDefinitionArn"]][:3] == [1, 1, 1]
    finally:
        cfn.delete_stack(StackName=stack)
