"""`!check_existing_network` against moto's EC2."""
import logging

import boto3
import pytest
from sceptre.exceptions import InvalidHookArgumentValueError
from sceptre.stack import Stack

from fargate_platform.hooks.existing_network import CheckExistingNetwork, ExistingNetworkError, check_existing_network


@pytest.fixture
def network(mocked_aws):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]

    def subnet(cidr, zone, vpc_id=vpc):
        return ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]

    return {
        "vpc": vpc,
        "public": [subnet("10.1.0.0/24", "us-east-1a"), subnet("10.1.1.0/24", "us-east-1b")],
        "private": [subnet("10.1.2.0/24", "us-east-1a"), subnet("10.1.3.0/24", "us-east-1b")],
        "same_zone": subnet("10.1.4.0/24", "us-east-1a"),
        "foreign": subnet("10.2.0.0/24", "us-east-1b", other_vpc),
        "ec2": ec2,
    }


def check(network, **changes):
    arguments = {"vpc_id": network["vpc"], "public_subnet_ids": network["public"],
                 "private_subnet_ids": network["private"], **changes}
    check_existing_network(lambda command, kwargs: getattr(network["ec2"], command)(**kwargs), **arguments)


def test_a_complete_network_passes_through_the_hook(network, caplog):
    caplog.set_level(logging.INFO)
    stack = Stack(name="dev/network", project_code="fargate-platform", region="us-east-1",
                  template_handler_config={"type": "file", "path": "network.py"})
    argument = {"vpc_id": network["vpc"], "public_subnet_ids": network["public"],
                "private_subnet_ids": network["private"]}
    CheckExistingNetwork(argument, stack).run()
    assert f"existing VPC {network['vpc']} and its subnets checked" in caplog.text


def test_missing_vpc(network):
    with pytest.raises(ExistingNetworkError, match="VPC vpc-0123456789abcdef0 does not exist"):
        check(network, vpc_id="vpc-0123456789abcdef0")


def test_missing_subnet(network):
    with pytest.raises(ExistingNetworkError, match=r"private subnet\(s\) subnet-0123456789abcdef0 do not exist"):
        check(network, private_subnet_ids=[network["private"][0], "subnet-0123456789abcdef0"])


def test_subnet_of_another_vpc(network):
    with pytest.raises(ExistingNetworkError, match=rf"public subnet\(s\) {network['foreign']} are not in"):
        check(network, public_subnet_ids=[network["public"][0], network["foreign"]])


def test_one_availability_zone(network):
    with pytest.raises(ExistingNetworkError, match="the first two private subnets are both in us-east-1a"):
        check(network, private_subnet_ids=[network["private"][0], network["same_zone"]])


def test_the_first_two_subnets_are_the_ones_that_count(network):
    # a third subnet in another zone does not help: the templates use the first two
    with pytest.raises(ExistingNetworkError, match="the first two private subnets are both in us-east-1a"):
        check(network, private_subnet_ids=[network["private"][0], network["same_zone"], network["private"][1]])


def test_bad_argument():
    stack = Stack(name="dev/network", project_code="fargate-platform", region="us-east-1",
                  template_handler_config={"type": "file", "path": "network.py"})
    with pytest.raises(InvalidHookArgumentValueError, match="takes a mapping of vpc_id"):
        CheckExistingNetwork({"vpc_id": "vpc-1"}, stack).run()
