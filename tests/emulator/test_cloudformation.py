"""Patch 4: moto CloudFormation differences the platform's launches meet (KMS tags, no-op updates)."""
import json

import botocore.exceptions
import pytest

LIST_TEMPLATE = json.dumps({
    "Parameters": {"Names": {"Type": "CommaDelimitedList"}, "Size": {"Type": "Number"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
})
BARE_TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def test_a_kms_key_with_cloudformation_tags_is_created_with_them(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("kms-stack")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
            "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
            "Tags": [{"Key": "Project", "Value": "fargate-platform"}]}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}},
    }))
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"
    key_id = emulator.outputs(name)["KeyArn"].rsplit("/", 1)[1]
    tags = emulator.client("kms").list_resource_tags(KeyId=key_id)["Tags"]
    assert tags == [{"TagKey": "Project", "TagValue": "fargate-platform"}]


@pytest.mark.parametrize("template, parameters", [
    (LIST_TEMPLATE, [{"ParameterKey": "Names", "ParameterValue": "a,b"},
                     {"ParameterKey": "Size", "ParameterValue": "3"}]),
    (BARE_TEMPLATE, []),
])
def test_an_unchanged_update_is_refused_like_aws(emulator, template, parameters):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("noop-stack")
    cfn.create_stack(StackName=name, TemplateBody=template, Parameters=parameters)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cfn.update_stack(StackName=name, TemplateBody=template, Parameters=parameters)
    assert refused.value.response["Error"]["Message"] == "No updates are to be performed."
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE"


def test_previous_values_count_as_unchanged_and_a_new_value_updates(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("noop-stack")
    given = [{"ParameterKey": "Names", "ParameterValue": "a,b"},
             {"ParameterKey": "Size", "ParameterValue": "3"}]
    cfn.create_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=given)
    previous = [{"ParameterKey": "Names", "UsePreviousValue": True},
                {"ParameterKey": "Size", "UsePreviousValue": True}]
    with pytest.raises(botocore.exceptions.ClientError):
        cfn.update_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=previous)
    changed = [{"ParameterKey": "Names", "ParameterValue": "a,b,c"},
               {"ParameterKey": "Size", "UsePreviousValue": True}]
    cfn.update_stack(StackName=name, TemplateBody=LIST_TEMPLATE, Parameters=changed)
    assert emulator.stack(name)["StackStatus"] == "UPDATE_COMPLETE"


def shared_template(name):
    """What the cluster stack holds: network, load balancer, listener, ECS cluster."""
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "eu-west-1a"}},
        "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "eu-west-1b"}},
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Alb"}, "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "404"}}]}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": name}},
    }, "Outputs": {"Listener": {"Value": {"Ref": "Listener"}}, "Vpc": {"Value": {"Ref": "Vpc"}}}})


def service_template(name):
    """What a service stack holds that moto never deleted: rule, target group, ECS service."""
    return json.dumps({
        "Parameters": {"Listener": {"Type": "String"}, "Vpc": {"Type": "String"}},
        "Resources": {
            "TargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
                "Port": 80, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"}, "TargetType": "ip"}},
            "Rule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
                "ListenerArn": {"Ref": "Listener"}, "Priority": 10,
                "Conditions": [{"Field": "host-header", "Values": [f"{name}.test"]}],
                "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]}},
            "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": name,
                "ContainerDefinitions": [{"Name": "app", "Image": "nginx", "Memory": 512}]}},
            "Service": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": name, "ServiceName": name, "DesiredCount": 1,
                "TaskDefinition": {"Ref": "TaskDefinition"}}},
        }})


def test_deleting_a_stack_deletes_its_listener_rule_target_group_and_ecs_service(emulator):
    cfn = emulator.client("cloudformation")
    name = emulator.unique("svc")
    cfn.create_stack(StackName=f"{name}-shared", TemplateBody=shared_template(name))
    shared = emulator.outputs(f"{name}-shared")
    parameters = [{"ParameterKey": key, "ParameterValue": shared[key]}
                  for key in ("Listener", "Vpc")]
    for attempt in ("first", "again"):  # launched, deleted, launched again
        cfn.create_stack(StackName=name, TemplateBody=service_template(name),
                         Parameters=parameters)
        assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE", [
            e.get("ResourceStatusReason") for e in emulator.events(name)]
        elb, ecs = emulator.client("elbv2"), emulator.client("ecs")
        rules = [r for r in elb.describe_rules(ListenerArn=shared["Listener"])["Rules"]
                 if not r["IsDefault"]]
        assert len(rules) == 1, attempt
        target_groups = elb.describe_target_groups()["TargetGroups"]
        cfn.delete_stack(StackName=name)
        assert [r for r in elb.describe_rules(ListenerArn=shared["Listener"])["Rules"]
                if not r["IsDefault"]] == []
        assert len(elb.describe_target_groups()["TargetGroups"]) == len(target_groups) - 1
        services = ecs.describe_services(cluster=name, services=[name])["services"]
        assert all(s["status"] != "ACTIVE" for s in services)


NETWORK_TEMPLATE = json.dumps({"Resources": {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}},
    "Gateway": {"Type": "AWS::EC2::InternetGateway"},
    "Attachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}}},
    "Public": {"Type": "AWS::EC2::Subnet", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.2.1.0/24"}},
    "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
    "DefaultRoute": {"Type": "AWS::EC2::Route", "DependsOn": "Attachment", "Properties": {
        "RouteTableId": {"Ref": "Routes"}, "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": {"Ref": "Gateway"}}},
    "PublicRoutes": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
        "SubnetId": {"Ref": "Public"}, "RouteTableId": {"Ref": "Routes"}}},
    "NatAddress": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
    "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {
        "SubnetId": {"Ref": "Public"},
        "AllocationId": {"Fn::GetAtt": ["NatAddress", "AllocationId"]}}},
    "S3Endpoint": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.eu-west-1.s3",
        "RouteTableIds": [{"Ref": "Routes"}]}},
}, "Outputs": {"Vpc": {"Value": {"Ref": "Vpc"}}}})


def test_a_network_stack_deletes_completely(emulator):
    cfn, ec2 = emulator.client("cloudformation"), emulator.client("ec2")
    name = emulator.unique("network")
    cfn.create_stack(StackName=name, TemplateBody=NETWORK_TEMPLATE)
    assert emulator.stack(name)["StackStatus"] == "CREATE_COMPLETE", [
        e.get("ResourceStatusReason") for e in emulator.events(name)]
    vpc = emulator.outputs(name)["Vpc"]
    cfn.delete_stack(StackName=name)
    assert name not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert vpc not in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert not [g for g in ec2.describe_internet_gateways()["InternetGateways"]
                if any(a.get("VpcId") == vpc for a in g.get("Attachments", []))]
    assert not [e for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                if e["VpcId"] == vpc and e["State"].lower() != "deleted"]
    assert not [n for n in ec2.describe_nat_gateways()["NatGateways"]
                if n.get("VpcId") == vpc and n["State"] != "deleted"]
