"""The network stack: subnets, a way out, or an existing VPC passed through and checked."""
import subprocess
import sys
from pathlib import Path

import yaml

SCEPTRE = str(Path(sys.executable).with_name("sceptre"))


def test_private_subnets_route_out_through_nat_and_reach_s3(templates):
    for environment, nat in (("local", 1), ("dev", 1), ("prod", 2)):
        resources = templates[environment][f"fargate-platform-{environment}-network"]["Resources"]
        kinds = [r["Type"] for r in resources.values()]
        assert kinds.count("AWS::EC2::NatGateway") == nat
        routes = [r for t, r in resources.items() if t.startswith("PrivateDefaultRoute")]
        assert len(routes) == 2 and all("NatGatewayId" in r["Properties"] for r in routes)
        assert resources["S3GatewayEndpoint"]["Properties"]["VpcEndpointType"] == "Gateway"
        for zone in "AB":
            assert resources[f"PrivateSubnet{zone}"]["Properties"]["MapPublicIpOnLaunch"] is False
    prod = templates["prod"]["fargate-platform-prod-network"]["Resources"]
    assert {"EndpointEcrApi", "EndpointEcrDkr", "EndpointLogs", "EndpointSsm"} <= set(prod)


def test_an_existing_vpc_is_passed_through_and_checked_before_launch(project_copy, render_environment):
    config_file = project_copy / "config" / "dev" / "config.yaml"
    settings = yaml.safe_load(config_file.read_text())
    settings["environment"]["network"] = {
        "existing": {
            "vpc_id": "vpc-0123456789abcdef0",
            "public_subnet_ids": ["subnet-00000000000000001", "subnet-00000000000000002"],
            "private_subnet_ids": ["subnet-00000000000000003", "subnet-00000000000000004"],
        },
        "has_way_out": True,
    }
    config_file.write_text(yaml.safe_dump(settings))
    network = render_environment(project_copy, "dev")["fargate-platform-dev-network"]
    assert [r["Type"] for r in network["Resources"].values()] == ["AWS::CloudFormation::WaitConditionHandle"]
    assert network["Outputs"]["VpcId"]["Value"] == "vpc-0123456789abcdef0"
    assert network["Outputs"]["PrivateSubnetIds"]["Value"] == "subnet-00000000000000003,subnet-00000000000000004"
    dumped = subprocess.run([SCEPTRE, "dump", "config", "dev/network.yaml"], cwd=project_copy,
                            capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr
    assert "CheckExistingNetwork" in dumped.stdout and "vpc-0123456789abcdef0" in dumped.stdout
