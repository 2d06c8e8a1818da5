"""The cluster stack: the ECS cluster, the environment's load balancers with their
listeners, the container security group, and the DNS zone the services' records go in.

An environment with a certificate serves HTTPS (TLS 1.2+) and redirects HTTP to
it; one without (local) serves HTTP. An environment may hold several ALBs (one
holds at most 100 target groups): each gets its own outputs, prefixed by its name.
"""
from troposphere import Parameter, Select, Sub, ec2, ecs, route53, s3
from troposphere import elasticloadbalancingv2 as elb

from fargate_platform import names
from fargate_platform.templates import common

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

# Regions older than August 2022 deliver ALB access logs from a regional ELB
# account; newer ones from the log delivery service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-3": "383597477331",
    "me-south-1": "076674570225",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "sa-east-1": "507241528517",
}


def log_delivery_principal(region):
    account = ELB_LOG_ACCOUNTS.get(region)
    if account:
        return {"AWS": Sub(f"arn:${{AWS::Partition}}:iam::{account}:root")}
    return {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def access_logs_bucket(template, environment):
    return common.private_bucket(
        template,
        "AccessLogsBucket",
        environment,
        s3.LifecycleRule(
            Id="ExpireAccessLogs",
            Status="Enabled",
            ExpirationInDays=environment.log_retention_days,
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=1),
        ),
        policy_statements=[
            {
                "Sid": "LoadBalancersWriteAccessLogs",
                "Effect": "Allow",
                "Principal": log_delivery_principal(environment.region),
                "Action": "s3:PutObject",
                "Resource": Sub("${AccessLogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"),
            }
        ],
        skips=[("CKV_AWS_18", "This bucket is the access log destination itself.")],
    )


def security_groups(template, environment, vpc_id, https):
    ports = [443, 80] if https else [80]
    alb_group = template.add_resource(
        ec2.SecurityGroup(
            "AlbSecurityGroup",
            GroupDescription="Internet to the load balancers",
            VpcId=vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0",
                    Description="HTTPS from anywhere" if port == 443 else "HTTP from anywhere",
                )
                for port in ports
            ],
            SecurityGroupEgress=[common.NO_EGRESS],  # AlbToContainers is its only egress
            Metadata=common.checkov_skips(
                ("CKV_AWS_260", "The public load balancer takes HTTP on 80 to redirect it to HTTPS (or, with no "
                                "certificate configured, to serve it)."),
            ),
            Tags=common.tags(environment, Name=common.name(environment, "alb")),
        )
    )
    container_group = template.add_resource(
        ec2.SecurityGroup(
            "ContainerSecurityGroup",
            GroupDescription="Fargate tasks: traffic from the load balancers only",
            VpcId=vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=1, ToPort=65535, SourceSecurityGroupId=alb_group.ref(),
                    Description="From the load balancers, to whichever port a service listens on",
                )
            ],
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="-1", CidrIp="0.0.0.0/0",
                    Description="Tasks call ECR, SSM, Logs, the database and the APIs they use",
                )
            ],
            Tags=common.tags(environment, Name=common.name(environment, "containers")),
        )
    )
    common.egress_to_group(template, "AlbToContainers", alb_group, container_group, 1, 65535, "To the tasks")
    return alb_group, container_group


def load_balancer(template, environment, alb, alb_group, subnets, logs_bucket):
    prefix = names.alb_output_prefix(alb)
    https = environment.certificate_arn is not None
    skips = []
    if not environment.deletion_protection:
        skips.append(("CKV_AWS_150", f"{environment.name} can be torn down: deletion protection is off by config."))
    balancer = template.add_resource(
        elb.LoadBalancer(
            f"{prefix}LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=subnets,
            SecurityGroups=[alb_group.ref()],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=logs_bucket.ref()),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value="alb"),
                elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
                elb.LoadBalancerAttributes(
                    Key="deletion_protection.enabled", Value=str(environment.deletion_protection).lower()
                ),
            ],
            DependsOn=["AccessLogsBucketPolicy"],
            Tags=common.tags(environment, Name=common.name(environment, alb)),
        )
    )
    if skips:
        balancer.Metadata = common.checkov_skips(*skips)
    not_found = elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(StatusCode="404", ContentType="text/plain", MessageBody="no such service"),
    )
    if https:
        listener = template.add_resource(
            elb.Listener(
                f"{prefix}HttpsListener",
                LoadBalancerArn=balancer.ref(),
                Port=443,
                Protocol="HTTPS",
                SslPolicy=TLS_POLICY,
                Certificates=[elb.Certificate(CertificateArn=environment.certificate_arn)],
                DefaultActions=[not_found],
            )
        )
        template.add_resource(
            elb.Listener(
                f"{prefix}HttpRedirectListener",
                LoadBalancerArn=balancer.ref(),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[
                    elb.Action(
                        Type="redirect",
                        RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
                    )
                ],
            )
        )
    else:
        listener = template.add_resource(
            elb.Listener(
                f"{prefix}HttpListener",
                LoadBalancerArn=balancer.ref(),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[not_found],
                Metadata=common.checkov_skips(
                    ("CKV_AWS_2", f"{environment.name} has no certificate by config: it serves HTTP only."),
                    ("CKV_AWS_103", f"{environment.name} has no certificate by config: no TLS to configure."),
                ),
            )
        )
    count = len(environment.services_on(alb))
    common.output(template, f"{prefix}ListenerArn", listener.ref(), f"Listener of ALB {alb} ({count} services)")
    common.output(template, f"{prefix}DnsName", balancer.get_att("DNSName"), f"DNS name of ALB {alb}")
    if environment.hosted_zone_id:  # only alias records need it (the local emulator cannot resolve it)
        common.output(
            template, f"{prefix}CanonicalHostedZoneId", balancer.get_att("CanonicalHostedZoneID"), f"Zone of ALB {alb}"
        )


def sceptre_handler(sceptre_user_data):
    environment = common.load(sceptre_user_data)
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: ECS cluster and load balancers")
    vpc_id = template.add_parameter(Parameter("VpcId", Type="String", Description="The network stack's VPC"))
    public_subnets = template.add_parameter(
        Parameter("PublicSubnetIds", Type="CommaDelimitedList", Description="Subnets of the load balancers")
    )
    cluster = template.add_resource(
        ecs.Cluster(
            "Cluster",
            # A fixed name: moto replaces an unnamed cluster on every update, and operators find it.
            ClusterName=common.name(environment),
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
            Tags=common.tags(environment),
        )
    )
    https = environment.certificate_arn is not None
    alb_group, container_group = security_groups(template, environment, vpc_id.ref(), https)
    logs_bucket = access_logs_bucket(template, environment)
    subnets = [Select(0, public_subnets.ref()), Select(1, public_subnets.ref())]
    for alb in environment.albs:
        load_balancer(template, environment, alb, alb_group, subnets, logs_bucket)

    if environment.hosted_zone_id:
        zone_id = environment.hosted_zone_id
    else:
        zone = template.add_resource(
            route53.HostedZone(
                "HostedZone",
                Name=environment.domain,
                HostedZoneConfig=route53.HostedZoneConfiguration(
                    Comment=f"{common.PROJECT_CODE} {environment.name}: services' names"
                ),
                Metadata=common.checkov_skips(
                    ("CKV2_AWS_38", "A zone made for an environment without a registered domain: nothing to sign."),
                    ("CKV2_AWS_39", "A zone made for an environment without a registered domain: no queries to log."),
                ),
            )
        )
        zone_id = zone.ref()

    common.output(template, "ClusterName", cluster.ref(), "The ECS cluster")
    common.output(template, "ClusterArn", cluster.get_att("Arn"), "The ECS cluster's ARN")
    common.output(template, "ContainerSecurityGroupId", container_group.ref(), "Security group of every task")
    common.output(template, "AlbSecurityGroupId", alb_group.ref(), "Security group of the load balancers")
    common.output(template, "HostedZoneId", zone_id, "Route53 zone of the services' names")
    return common.to_json(template)
