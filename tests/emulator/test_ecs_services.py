"""Patch 7 (ecs_services.py): an AWS::ECS::Service from CloudFormation keeps what its template
sets, starts with 1 task without DesiredCount, follows a ScalableTarget's MinCapacity and a
new revision of its task definition. Each property is also shown missing in plain moto."""
import functools
import json
import subprocess
from pathlib import Path

EMULATOR_PYTHON = Path(__file__).resolve().parents[2] / ".venvs" / "emulator" / "bin" / "python"
REGION = "eu-west-1"


# A task that answers its target group's health checks on HOST:PORT.
SERVER = ("sh", "-c", "exec python3 -m http.server --bind \"$HOST\" \"$PORT\"")


def template(environment_value="one", command=SERVER):
    """A network, a target group, a cluster and a Fargate service with every property."""
    return {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.91.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.91.1.0/24"}},
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "tasks", "VpcId": {"Ref": "Vpc"}}},
        "TargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": 8080, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "Vpc"},
            "HealthCheckIntervalSeconds": 5,
            "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}]}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "props", "NetworkMode": "awsvpc", "Cpu": "256", "Memory": "512",
            "RequiresCompatibilities": ["FARGATE"],
            "ContainerDefinitions": [{
                "Name": "app", "Image": "app:1", "Command": list(command),
                "Environment": [{"Name": "VALUE", "Value": environment_value}],
                "PortMappings": [{"ContainerPort": 8080}]}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "TaskDefinition"},
            "ServiceName": "props", "LaunchType": "FARGATE", "PropagateTags": "SERVICE",
            "HealthCheckGracePeriodSeconds": 45,
            "DeploymentConfiguration": {
                "MinimumHealthyPercent": 50, "MaximumPercent": 150,
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
            "LoadBalancers": [{"ContainerName": "app", "ContainerPort": 8080,
                               "TargetGroupArn": {"Ref": "TargetGroup"}}],
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "AssignPublicIp": "DISABLED", "Subnets": [{"Ref": "Subnet"}],
                "SecurityGroups": [{"Ref": "Group"}]}},
            "Tags": [{"Key": "team", "Value": "orders"}]}},
        "ScalableTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "MinCapacity": 2, "MaxCapacity": 4, "ScalableDimension": "ecs:service:DesiredCount",
            "ServiceNamespace": "ecs", "ResourceId": {"Fn::Join": ["/", [
                "service", {"Ref": "Cluster"}, {"Fn::GetAtt": ["Service", "Name"]}]]}}},
    }}


# What a script prints about the service, run against plain moto or the emulator.
FACTS = r'''
import json, time
def facts(cfn, ecs, stack, template, update):
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    for _ in range(600):  # the emulator's create ends once the service is stable
        if not cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    cluster = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Cluster")[
        "StackResourceDetail"]["PhysicalResourceId"].split("/")[-1]
    service = ecs.describe_services(cluster=cluster, services=["props"], include=["TAGS"])["services"][0]
    before = service["taskDefinition"]
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(update))
    for _ in range(600):
        if not cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    after = ecs.describe_services(cluster=cluster, services=["props"])["services"][0]
    return {"loadBalancers": service.get("loadBalancers"),
            "networkConfiguration": service.get("networkConfiguration"),
            "deploymentConfiguration": service.get("deploymentConfiguration"),
            "healthCheckGracePeriodSeconds": service.get("healthCheckGracePeriodSeconds"),
            "launchType": service.get("launchType"), "propagateTags": service.get("propagateTags"),
            "tags": service.get("tags"), "desiredCount": service.get("desiredCount"),
            "taskDefinitionBefore": before, "taskDefinitionAfter": after["taskDefinition"],
            "cluster": cluster}
'''

PLAIN = FACTS + r'''
import boto3, sys
from moto import mock_aws
with mock_aws():
    args = json.loads(sys.stdin.read())
    print(json.dumps(facts(boto3.client("cloudformation", region_name="eu-west-1"),
                           boto3.client("ecs", region_name="eu-west-1"), "s", *args)))
'''


def _without_scalable_target(document):
    document = json.loads(json.dumps(document))
    del document["Resources"]["ScalableTarget"]
    return document


@functools.lru_cache(maxsize=None)
def plain_moto_facts():
    """Plain moto 5.2.5 (no layer), in a subprocess; ScalableTarget left out of the first
    template (moto ignores it; kept in the update to show the count stays)."""
    result = subprocess.run(
        [str(EMULATOR_PYTHON), "-c", PLAIN], capture_output=True, text=True, timeout=120,
        input=json.dumps([template(), template("two")]),
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


_emulator_facts = {}


def emulator_facts(emulator):
    if "facts" not in _emulator_facts:
        namespace = {}
        exec(FACTS, namespace)  # noqa: S102 - the same script as for plain moto
        stack = emulator.unique("props")
        cfn, ecs = emulator.client("cloudformation"), emulator.client("ecs")
        facts = namespace["facts"](cfn, ecs, stack, template(), template("two"))
        service = ecs.describe_services(cluster=facts["cluster"], services=["props"])["services"][0]
        facts["desiredCountWithScalableTarget"] = service["desiredCount"]
        _emulator_facts["facts"] = facts
        _emulator_facts["cleanup"] = lambda: cfn.delete_stack(StackName=stack)
    return _emulator_facts["facts"]


def test_plain_moto_drops_the_services_properties():
    facts = plain_moto_facts()
    assert not facts["loadBalancers"]
    assert not facts["networkConfiguration"]
    assert not facts["deploymentConfiguration"]
    assert facts["healthCheckGracePeriodSeconds"] is None
    assert facts["launchType"] == "EC2"
    assert facts["propagateTags"] == "NONE"
    assert not facts["tags"]
    assert facts["desiredCount"] == 0  # ECS: 1 when DesiredCount is absent
    # The task definition's new revision does not reach the service.
    assert facts["taskDefinitionAfter"] == facts["taskDefinitionBefore"]


def test_plain_moto_has_no_scalable_target_in_cloudformation():
    script = ("from moto.cloudformation import parsing\n"
              "print('AWS::ApplicationAutoScaling::ScalableTarget' in parsing.get_model_map())\n")
    result = subprocess.run([str(EMULATOR_PYTHON), "-c", script], capture_output=True, text=True,
                            timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "False", result.stderr


def test_a_service_keeps_its_load_balancers_network_and_deployment_configuration(emulator):
    facts = emulator_facts(emulator)
    [balancer] = facts["loadBalancers"]
    assert balancer["containerName"] == "app" and balancer["containerPort"] == 8080
    assert balancer["targetGroupArn"].startswith("arn:aws:elasticloadbalancing:")
    vpc = facts["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["subnets"][0].startswith("subnet-") and vpc["securityGroups"][0].startswith("sg-")
    assert vpc["assignPublicIp"] == "DISABLED"
    deployment = facts["deploymentConfiguration"]
    assert deployment["minimumHealthyPercent"] == 50 and deployment["maximumPercent"] == 150
    assert deployment["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert facts["healthCheckGracePeriodSeconds"] == 45


def test_a_service_keeps_its_launch_type_propagate_tags_and_tags(emulator):
    facts = emulator_facts(emulator)
    assert facts["launchType"] == "FARGATE"
    assert facts["propagateTags"] == "SERVICE"
    assert facts["tags"] == [{"key": "team", "value": "orders"}]


def test_a_scalable_target_raises_the_desired_count_to_its_min_capacity(emulator):
    facts = emulator_facts(emulator)
    assert facts["desiredCountWithScalableTarget"] == 2
    targets = emulator.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs")["ScalableTargets"]
    assert any(t["ResourceId"] == f"service/{facts['cluster']}/props" and t["MinCapacity"] == 2
               for t in targets)


def test_a_new_task_definition_revision_updates_the_service(emulator):
    facts = emulator_facts(emulator)
    before, after = facts["taskDefinitionBefore"], facts["taskDefinitionAfter"]
    assert before.endswith(":1") or before.rsplit(":", 1)[1].isdigit()
    assert after != before and after.rsplit(":", 1)[0] == before.rsplit(":", 1)[0]
    definition = emulator.client("ecs").describe_task_definition(taskDefinition=after)["taskDefinition"]
    assert definition["containerDefinitions"][0]["environment"] == [{"name": "VALUE", "value": "two"}]
    _emulator_facts.pop("cleanup")()


def test_a_service_without_desired_count_starts_with_one(emulator):
    document = _without_scalable_target(template())
    document["Resources"]["Service"]["Properties"]["ServiceName"] = "single"
    stack = emulator.unique("single")
    cfn = emulator.client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(document))
    cluster = emulator.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="Cluster")["StackResourceDetail"]["PhysicalResourceId"]
    [service] = emulator.client("ecs").describe_services(cluster=cluster, services=["single"])["services"]
    assert service["desiredCount"] == 1
    cfn.delete_stack(StackName=stack)
