"""The service stack, the same for every microservice: its roles, task definition,
ECS service, target group, host-header listener rule, DNS record, log group and
autoscaling. Its database, role and credentials are made before the stack
launches, by the `!db_bootstrap` hook; the task receives the credentials from SSM
through ECS `secrets`, never as plain environment values.

Isolation: the execution role reads only the service's own SSM path, and decrypts
with the data key only under the encryption context of that path (how SSM
encrypts SecureStrings). The task role carries the statements the service's
config asks for, next to explicit Denies that no Allow can override: no other
service's parameters, no IAM. Every role carries the environment's permissions
boundary where one is configured.
"""
from troposphere import GetAtt, Join, Parameter, Select, Sub, applicationautoscaling as scaling, ecs, route53
from troposphere import elasticloadbalancingv2 as elb

from dataclasses import dataclass

from fargate_platform import config, config_model, names
from fargate_platform.templates import common
from fargate_platform.templates.iam import allow, deny


@dataclass(frozen=True)
class ServiceStack:
    """What each builder of the stack needs: the template, the environment, the service
    and the stack's parameters."""

    template: object
    environment: object
    service: object
    params: dict

    def ref(self, parameter):
        return self.params[parameter].ref()

    def add(self, resource):
        return self.template.add_resource(resource)

    def tags(self):
        return common.tags(self.environment, **{names.SERVICE_TAG: self.service.name})


def parameters(template, alias_record):
    specs = {
        "VpcId": ("String", "The network stack's VPC"),
        "PrivateSubnetIds": ("CommaDelimitedList", "Subnets of the tasks"),
        "ClusterName": ("String", "The ECS cluster (cluster stack)"),
        "ContainerSecurityGroupId": ("String", "The tasks' security group (cluster stack)"),
        "ListenerArn": ("String", "The listener of the service's ALB (cluster stack)"),
        "AlbDnsName": ("String", "DNS name of the service's ALB"),
        "HostedZoneId": ("String", "Route53 zone of the environment's domain"),
        "LogsKeyArn": ("String", "Encrypts the log group (support stack)"),
        "DataKeyArn": ("String", "Encrypts the service's credentials (rds stack)"),
        "DbHost": ("String", "Database writer endpoint (rds stack)"),
        "DbPort": ("String", "Database port (rds stack)"),
        "ListenerRulePriority": ("Number", "Priority of the host-header rule (from !rule_priority)"),
    }
    if alias_record:
        specs["AlbCanonicalHostedZoneId"] = ("String", "Route53 zone of the service's ALB (for the alias record)")
    return {
        key: template.add_parameter(Parameter(key, Type=kind, Description=description))
        for key, (kind, description) in specs.items()
    }


def image_pull_statements(image):
    """ECR pulls, for an image in an account's private ECR only, on its repository alone (an
    image from a public registry needs no permission)."""
    found = config.PRIVATE_ECR_IMAGE.match(image)
    if not found:
        return []
    account, region, repository = found.group("account"), found.group("region"), found.group("repository")
    return [
        allow("LogInToEcr", "ecr:GetAuthorizationToken", "*"),  # takes no resource ARN
        allow("PullItsImage", ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
              Sub(f"arn:${{AWS::Partition}}:ecr:{region}:{account}:repository/{repository}")),
    ]


def execution_role(stack):
    environment, service = stack.environment, stack.service
    own_path = common.ssm_parameter_arn(f"{names.service_parameter_path(environment.parameter_root, service.name)}/*")
    return common.role(
        stack.template,
        "ExecutionRole",
        environment,
        "ecs-tasks.amazonaws.com",
        [
            *image_pull_statements(service.image),
            allow("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], Sub("${LogGroup.Arn}:*")),
            allow("ReadOnlyItsOwnParameters", "ssm:GetParameters", own_path),
            allow("DecryptOnlyItsOwnParameters", "kms:Decrypt", stack.ref("DataKeyArn"),
                  {"StringLike": {"kms:EncryptionContext:PARAMETER_ARN": own_path}}),
        ],
        "task-execution",
    )


def task_role(stack):
    environment, service = stack.environment, stack.service
    own_folder = names.service_parameter_path(environment.parameter_root, service.name)
    own_path = common.ssm_parameter_arn(f"{own_folder}/*")
    guard_rails = [
        # The path itself too: it is the resource of GetParametersByPath.
        deny("NoOtherServicesParameters", ["ssm:GetParameter*", "ssm:PutParameter", "ssm:DeleteParameter*"],
             [own_path, common.ssm_parameter_arn(own_folder)], not_resource=True),
        deny("NoOtherServicesCredentials", "kms:Decrypt", stack.ref("DataKeyArn"),
             {"StringNotLike": {"kms:EncryptionContext:PARAMETER_ARN": own_path}}),
        deny("NoIamChanges", "iam:*", "*"),
    ]
    return common.role(
        stack.template, "TaskRole", environment, "ecs-tasks.amazonaws.com",
        [*service.task_role_statements, *guard_rails], "task",
    )


def task_definition(stack, execution, task):
    environment, service = stack.environment, stack.service
    root = environment.parameter_root
    username_parameter = names.db_username_parameter(root, service.name)
    password_parameter = names.db_password_parameter(root, service.name)
    environment_values = {
        "DB_HOST": stack.ref("DbHost"),
        "DB_PORT": stack.ref("DbPort"),
        "DB_NAME": service.database,
        "DB_SSLMODE": "verify-full",
        "DB_USERNAME_PARAMETER": username_parameter,
        "DB_PASSWORD_PARAMETER": password_parameter,
        **{key: str(value) for key, value in service.environment.items()},
        **{key: str(value) for key, value in (service.local.environment if service.local else {}).items()},
    }
    secrets = {
        "DB_USERNAME": username_parameter,
        "DB_PASSWORD": password_parameter,
        **service.secrets,
    }
    container = ecs.ContainerDefinition(
        Name=service.name,
        Image=service.image,
        Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=service.port, Protocol="tcp")],
        Environment=[ecs.Environment(Name=key, Value=value) for key, value in sorted(environment_values.items())],
        Secrets=[
            ecs.Secret(Name=key, ValueFrom=common.ssm_parameter_arn(parameter))
            for key, parameter in sorted(secrets.items())
        ],
        StopTimeout=service.deployment.stop_timeout,
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Sub("${LogGroup}"),
                "awslogs-region": Sub("${AWS::Region}"),
                "awslogs-stream-prefix": service.name,
            },
        ),
        Privileged=False,
        # The local platform runs the task as this process (config `local:`); AWS runs the image's own.
        **({"Command": list(service.local.command), "WorkingDirectory": service.local.working_directory}
           if service.local else {}),
    )
    return stack.add(
        ecs.TaskDefinition(
            "TaskDefinition",
            Family=common.name(environment, service.name),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=str(service.cpu),
            Memory=str(service.memory),
            RuntimePlatform=ecs.RuntimePlatform(OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"),
            ExecutionRoleArn=execution.get_att("Arn"),
            TaskRoleArn=task.get_att("Arn"),
            ContainerDefinitions=[container],
            Metadata=common.checkov_skips(
                ("CKV_AWS_336", "Whether the root filesystem can be read-only is the image's choice, not the platform's."),
            ),
            Tags=stack.tags(),
        )
    )


def log_group(stack):
    environment, service = stack.environment, stack.service
    return common.log_group(
        stack.template, "LogGroup", environment, names.service_log_group(common.PROJECT_CODE, environment.name, service.name),
        service.log_retention_days, key_arn=stack.ref("LogsKeyArn"), mask_personal_data=True,
    )


def target_group(stack):
    service, deployment = stack.service, stack.service.deployment
    return stack.add(
        elb.TargetGroup(
            "TargetGroup",
            TargetType="ip",
            Protocol="HTTP",
            Port=service.port,
            VpcId=stack.ref("VpcId"),
            HealthCheckPath=service.health_check_path,
            HealthCheckProtocol="HTTP",
            HealthCheckIntervalSeconds=deployment.health_check_interval,
            HealthCheckTimeoutSeconds=deployment.health_check_timeout,
            HealthyThresholdCount=deployment.healthy_threshold,
            UnhealthyThresholdCount=deployment.unhealthy_threshold,
            Matcher=elb.Matcher(HttpCode="200-399"),
            TargetGroupAttributes=[elb.TargetGroupAttribute(
                Key="deregistration_delay.timeout_seconds", Value=str(deployment.deregistration_delay))],
            Tags=stack.tags(),
        )
    )


def listener_rule(stack, targets):
    return stack.add(
        elb.ListenerRule(
            "ListenerRule",
            ListenerArn=stack.ref("ListenerArn"),
            Priority=stack.ref("ListenerRulePriority"),
            Conditions=[
                elb.Condition(Field="host-header", HostHeaderConfig=elb.HostHeaderConfig(Values=[stack.service.host]))
            ],
            Actions=[elb.ListenerRuleAction(Type="forward", TargetGroupArn=targets.ref())],
        )
    )


def ecs_service(stack, definition, targets, rule):
    service = stack.service
    return stack.add(
        ecs.Service(
            "Service",
            DependsOn=[rule.title],  # a target group must be on a listener before ECS registers tasks
            ServiceName=service.name,
            Cluster=stack.ref("ClusterName"),
            TaskDefinition=definition.ref(),
            LaunchType="FARGATE",
            # No DesiredCount: an update would reset what autoscaling set. The scalable
            # target's minimum (scaling.min, default desired_count) brings a new service up.
            HealthCheckGracePeriodSeconds=service.deployment.grace_period,
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                MinimumHealthyPercent=100,
                MaximumPercent=200,
            ),
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    AssignPublicIp="DISABLED",
                    Subnets=[Select(0, stack.ref("PrivateSubnetIds")), Select(1, stack.ref("PrivateSubnetIds"))],
                    SecurityGroups=[stack.ref("ContainerSecurityGroupId")],
                )
            ),
            LoadBalancers=[
                ecs.LoadBalancer(ContainerName=service.name, ContainerPort=service.port, TargetGroupArn=targets.ref())
            ],
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            Tags=stack.tags(),
        )
    )


def autoscaling(stack, running):
    service = stack.service
    scalable = stack.add(
        scaling.ScalableTarget(
            "ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", stack.ref("ClusterName"), GetAtt(running, "Name")]),
            MinCapacity=service.min_count,
            MaxCapacity=service.max_count,
        )
    )
    stack.add(
        scaling.ScalingPolicy(
            "CpuScaling",
            PolicyName=common.name(stack.environment, service.name, "cpu"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=scalable.ref(),
            TargetTrackingScalingPolicyConfiguration=scaling.TargetTrackingScalingPolicyConfiguration(
                TargetValue=service.cpu_target,
                PredefinedMetricSpecification=scaling.PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"
                ),
                ScaleInCooldown=120,
                ScaleOutCooldown=60,
            ),
        )
    )


def dns_record(stack, alias_record):
    """An alias record where the environment's zone is a real one; a CNAME for the local
    zone, which needs no ALB zone id (the local emulator does not resolve one)."""
    target = {"Type": "A", "AliasTarget": route53.AliasTarget(
        DNSName=stack.ref("AlbDnsName"), HostedZoneId=stack.ref("AlbCanonicalHostedZoneId"), EvaluateTargetHealth=True,
    )} if alias_record else {"Type": "CNAME", "TTL": "60", "ResourceRecords": [stack.ref("AlbDnsName")]}
    stack.add(route53.RecordSetType("DnsRecord", HostedZoneId=stack.ref("HostedZoneId"), Name=stack.service.host,
                                    **target))


def outputs(stack, running, targets, rule, logs):
    template, service, root = stack.template, stack.service, stack.environment.parameter_root
    common.output(template, "ServiceName", GetAtt(running, "Name"), "The ECS service")
    common.output(template, "LogGroupName", logs.ref(), "The service's log group (fargate-platform logs)")
    common.output(template, "Host", service.host, "Host name the ALB routes to this service")
    common.output(template, "TargetGroupArn", targets.ref(), "The service's target group")
    common.output(template, "ListenerRuleArn", rule.ref(), "The service's host-header rule")
    common.output(template, "DatabaseName", service.database, "The service's own database and role")
    common.output(template, "UsernameParameter", names.db_username_parameter(root, service.name), "SSM name")
    common.output(template, "PasswordParameter", names.db_password_parameter(root, service.name), "SSM name")


def sceptre_handler(sceptre_user_data):
    environment = common.load(sceptre_user_data)
    service_name = sceptre_user_data.get("service")
    if service_name not in environment.services:
        raise config_model.UserDataError(
            f"sceptre_user_data.service {service_name!r} has no folder under config/{environment.name}/services/"
        )
    service = environment.services[service_name]
    template = common.new_template(f"{common.PROJECT_CODE} {environment.name}: service {service.name}")
    alias_record = environment.hosted_zone_id is not None
    stack = ServiceStack(template, environment, service, parameters(template, alias_record))

    logs = log_group(stack)
    definition = task_definition(stack, execution_role(stack), task_role(stack))
    targets = target_group(stack)
    rule = listener_rule(stack, targets)
    running = ecs_service(stack, definition, targets, rule)
    autoscaling(stack, running)
    dns_record(stack, alias_record)
    outputs(stack, running, targets, rule, logs)
    return common.to_json(template)
