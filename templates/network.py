"""The network stack: a VPC over two AZs with public subnets (ALB, NAT) and private
subnets (tasks, database, in-VPC Lambda), an S3 gateway endpoint, and a way out of
the private subnets: NAT gateways, interface endpoints, or both.

An environment that names an existing VPC gets a stack that only passes its ids
on as outputs, so every other stack reads the network the same way.
"""
import ipaddress

from troposphere import GetAZs, Join, Select, Sub, cloudformation, ec2, logs

from fargate_platform import names
from fargate_platform.templates import common

# What the private subnets reach through interface endpoints when there is no NAT:
# image pulls (ECR + S3), logs, SSM parameters and the KMS key that encrypts them.
INTERFACE_ENDPOINTS = ["ecr.api", "ecr.dkr", "logs", "ssm", "kms", "sts"]


def subnet_cidrs(vpc_cidr):
    """Four equal subnets: public a, public b, private a, private b."""
    network = ipaddress.IPv4Network(vpc_cidr)
    return [str(subnet) for subnet in list(network.subnets(prefixlen_diff=2))]


def existing_network(template, environment):
    existing = environment.network.existing
    # CloudFormation needs one resource; this one creates nothing.
    template.add_resource(cloudformation.WaitConditionHandle("ExistingNetworkMarker"))
    common.output(template, "VpcId", existing["vpc_id"], "The existing VPC named in the environment's config")
    common.output(template, "PublicSubnetIds", ",".join(existing["public_subnet_ids"]), "Public subnets")
    common.output(template, "PrivateSubnetIds", ",".join(existing["private_subnet_ids"]), "Private subnets")


def subnet(template, environment, vpc, kind, zone, index, cidr):
    """`<kind>Subnet<zone>` in the index-th AZ. No public IPs on launch, public subnets
    included: only the ALB and the NAT gateways live there, with addresses of their own."""
    return template.add_resource(
        ec2.Subnet(
            f"{kind}Subnet{zone}",
            VpcId=vpc.ref(),
            CidrBlock=cidr,
            AvailabilityZone=Select(index, GetAZs("")),
            MapPublicIpOnLaunch=False,
            Tags=common.tags(environment, Name=common.name(environment, f"{kind.lower()}-{zone.lower()}")),
        )
    )


def new_network(template, environment):
    network = environment.network
    vpc = template.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=network.cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=common.tags(environment, Name=common.name(environment)),
        )
    )
    flow_logs(template, environment, vpc)
    gateway = template.add_resource(ec2.InternetGateway("InternetGateway", Tags=common.tags(environment)))
    attachment = template.add_resource(
        ec2.VPCGatewayAttachment("InternetGatewayAttachment", VpcId=vpc.ref(), InternetGatewayId=gateway.ref())
    )
    public_a, public_b, private_a, private_b = subnet_cidrs(network.cidr)

    public_routes = template.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=vpc.ref(), Tags=common.tags(environment)))
    template.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=attachment.title,
            RouteTableId=public_routes.ref(),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=gateway.ref(),
        )
    )
    public_subnets, private_subnets, private_route_tables = [], [], []
    for index, (zone, public_cidr, private_cidr) in enumerate((("A", public_a, private_a), ("B", public_b, private_b))):
        public = subnet(template, environment, vpc, "Public", zone, index, public_cidr)
        template.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{zone}Routes", SubnetId=public.ref(), RouteTableId=public_routes.ref()
            )
        )
        private = subnet(template, environment, vpc, "Private", zone, index, private_cidr)
        routes = template.add_resource(
            ec2.RouteTable(f"PrivateRouteTable{zone}", VpcId=vpc.ref(), Tags=common.tags(environment))
        )
        template.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{zone}Routes", SubnetId=private.ref(), RouteTableId=routes.ref()
            )
        )
        public_subnets.append(public)
        private_subnets.append(private)
        private_route_tables.append(routes)

    # One NAT gateway serves both AZs (cheaper); two keep each AZ independent.
    for index in range(network.nat_gateways):
        zone = "AB"[index]
        address = template.add_resource(
            ec2.EIP(f"NatAddress{zone}", Domain="vpc", DependsOn=attachment.title, Tags=common.tags(environment))
        )
        template.add_resource(
            ec2.NatGateway(
                f"NatGateway{zone}",
                AllocationId=address.get_att("AllocationId"),
                SubnetId=public_subnets[index].ref(),
                Tags=common.tags(environment),
            )
        )
    for index, routes in enumerate(private_route_tables):
        if network.nat_gateways:
            nat_zone = "AB"[min(index, network.nat_gateways - 1)]
            template.add_resource(
                ec2.Route(
                    f"PrivateDefaultRoute{'AB'[index]}",
                    RouteTableId=routes.ref(),
                    DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId=Sub(f"${{NatGateway{nat_zone}}}"),
                )
            )

    template.add_resource(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=vpc.ref(),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[routes.ref() for routes in private_route_tables],
        )
    )
    if network.interface_endpoints:
        interface_endpoints(template, environment, vpc, private_subnets)

    common.output(template, "VpcId", vpc.ref(), "The environment's VPC")
    common.output(template, "PublicSubnetIds", Join(",", [s.ref() for s in public_subnets]), "Public subnets (ALB, NAT)")
    common.output(
        template, "PrivateSubnetIds", Join(",", [s.ref() for s in private_subnets]),
        "Private subnets (tasks, database, in-VPC Lambda)",
    )


def flow_logs(template, environment, vpc):
    """Rejected traffic of the whole VPC, to a log group kept for the environment's retention."""
    log_group = template.add_resource(
        logs.LogGroup(
            "FlowLogGroup",
            LogGroupName=names.flow_log_group(common.PROJECT_CODE, environment.name),
            RetentionInDays=environment.log_retention_days,
            Metadata=common.checkov_skips(
                ("CKV_AWS_158", "Flow logs hold addresses and ports only; the Logs service encrypts them at rest."),
            ),
            Tags=common.tags(environment),
        )
    )
    writer = common.role(
        template,
        "FlowLogRole",
        environment,
        "vpc-flow-logs.amazonaws.com",
        [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group.get_att("Arn"), Sub("${FlowLogGroup.Arn}:*")],
            }
        ],
        "write-flow-logs",
    )
    template.add_resource(
        ec2.FlowLog(
            "FlowLog",
            ResourceId=vpc.ref(),
            ResourceType="VPC",
            TrafficType="REJECT",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=log_group.ref(),
            DeliverLogsPermissionArn=writer.get_att("Arn"),
        )
    )


def interface_endpoints(template, environment, vpc, private_subnets):
    endpoint_group = template.add_resource(
        ec2.SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription="HTTPS from inside the VPC to the interface endpoints",
            VpcId=vpc.ref(),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=environment.network.cidr,
                    Description="HTTPS from the VPC",
                )
            ],
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=environment.network.cidr,
                    Description="Replies stay inside the VPC",
                )
            ],
            Tags=common.tags(environment),
        )
    )
    for service in INTERFACE_ENDPOINTS:
        title = "Endpoint" + "".join(part.capitalize() for part in service.split("."))
        template.add_resource(
            ec2.VPCEndpoint(
                title,
                VpcId=vpc.ref(),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[subnet.ref() for subnet in private_subnets],
                SecurityGroupIds=[endpoint_group.ref()],
            )
        )


def sceptre_handler(sceptre_user_data):
    environment = common.load(sceptre_user_data)
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: network")
    if environment.network.existing:
        existing_network(template, environment)
    else:
        new_network(template, environment)
    return common.to_json(template)
