"""Patch 7: an AWS::ECS::Service from CloudFormation is the service the template describes.

moto behaviour replaced:
- `moto.ecs.models.Service.create_from_cloudformation_json` passes only the cluster, the
  name, DesiredCount and the task definition's *family* to `create_service`: the
  template's LoadBalancers, NetworkConfiguration, DeploymentConfiguration,
  HealthCheckGracePeriodSeconds, LaunchType (moto then says EC2), PropagateTags and Tags
  are dropped, and a service without DesiredCount starts with 0 tasks (ECS: 1).
  `Service.update_from_cloudformation_json` likewise passes only the family (the service
  then names the family, not the new revision) and drops the same properties.
- `moto.cloudformation.parsing.ResourceMap.build_resource_diff` marks a resource as
  modified only when its own template text changes: a service whose `TaskDefinition`
  is a `Ref` to a task definition that got a new revision is not updated (on AWS the
  Ref's value changes, so CloudFormation updates the service and ECS rolls its tasks).
- `moto.ecs.models.EC2ContainerServiceBackend.list_tasks` ignores `serviceName` (its
  tasks never belonged to a service): ListTasks of one service lists the cluster's tasks.
- AWS::ApplicationAutoScaling::ScalableTarget is not modelled by moto's CloudFormation
  (ignored with a warning), and `ApplicationAutoscalingBackend.register_scalable_target`
  leaves an ECS service's desired count below MinCapacity (Application Auto Scaling
  raises it to MinCapacity, and lowers it to MaxCapacity, when it registers the target).

What runs instead:
- create/update register the service with every property above (ECS's camelCase), the
  task definition by its ARN (the exact revision), DesiredCount 1 when absent, and keep
  the deployment configuration (defaults MinimumHealthyPercent 100, MaximumPercent 200)
  and the grace period on the service for the task supervisor (tasks.py). Before both,
  task_start's check of the execution role runs, as before (patch 6).
- A service whose TaskDefinition refers to a modified task definition is modified too,
  after it.
- Both end once the service is stable, or fail when its deployment does
  (service_stability.py), as CloudFormation's ECS handler does.
- ListTasks with serviceName lists that service's tasks (those the task supervisor started
  for it: group `service:<name>`).
- ScalableTarget: registered in moto's Application Auto Scaling (deregistered on delete);
  the registration clamps an ECS service's desired count into [MinCapacity, MaxCapacity].
"""
import json

from emulator import service_stability

DEFAULT_DEPLOYMENT = {"minimumHealthyPercent": 100, "maximumPercent": 200,
                      "deploymentCircuitBreaker": {"enable": False, "rollback": False}}


def _camel(value):
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    return remap_nested_keys(value, pascal_to_camelcase) if value else value


def _names(properties):
    from moto.ecs.models import Cluster, TaskDefinition

    cluster = properties.get("Cluster", "default")
    cluster = cluster.name if isinstance(cluster, Cluster) else cluster.split("/")[-1]
    definition = properties["TaskDefinition"]
    definition = definition.arn if isinstance(definition, TaskDefinition) else definition
    return cluster, definition


def _load_balancers(properties):
    balancers = []
    for balancer in properties.get("LoadBalancers") or []:
        entry = _camel(dict(balancer))
        if "containerPort" in entry:
            entry["containerPort"] = int(entry["containerPort"])
        balancers.append(entry)
    return balancers


def _network(properties):
    network = _camel(properties.get("NetworkConfiguration"))
    if not network:
        return None
    vpc = network.setdefault("awsvpcConfiguration", {})
    vpc.setdefault("subnets", [])
    vpc.setdefault("securityGroups", [])
    return network


def _deployment(properties):
    given = _camel(properties.get("DeploymentConfiguration")) or {}
    deployment = json.loads(json.dumps(DEFAULT_DEPLOYMENT))
    for key in ("minimumHealthyPercent", "maximumPercent"):
        if given.get(key) is not None:
            deployment[key] = int(given[key])
    breaker = given.get("deploymentCircuitBreaker") or {}
    for key in ("enable", "rollback"):
        if key in breaker:
            value = breaker[key]
            deployment["deploymentCircuitBreaker"][key] = value if isinstance(value, bool) \
                else str(value).lower() == "true"
    return deployment


def _keep(service, properties):
    """What moto's Service has no constructor argument for."""
    service.deployment_configuration = _deployment(properties)
    grace = properties.get("HealthCheckGracePeriodSeconds")
    service.health_check_grace_period_seconds = int(grace) if grace is not None else None
    service.template_properties = properties
    return service


def create_service(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    from moto.ecs.models import ecs_backends

    from emulator import task_start

    task_start.check_start(cloudformation_json, account_id, region_name)
    properties = cloudformation_json["Properties"]
    cluster, definition = _names(properties)
    desired = properties.get("DesiredCount")
    tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
    service = ecs_backends[account_id][region_name].create_service(
        cluster, properties.get("ServiceName") or resource_name,
        int(desired) if desired is not None else 1, task_definition_str=definition,
        load_balancers=_load_balancers(properties), tags=tags or None,
        launch_type=properties.get("LaunchType") or "FARGATE",
        propagate_tags=properties.get("PropagateTags") or "NONE",
        network_configuration=_network(properties))
    _keep(service, properties)
    service_stability.wait_until_stable(service, ecs_backends[account_id][region_name],
                                        kwargs.get("LogicalId") or resource_name)
    return service


def update_service(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                   region_name):
    from moto.ecs.models import ecs_backends

    from emulator import task_start

    task_start.check_start(cloudformation_json, account_id, region_name)
    properties = cloudformation_json["Properties"]
    cluster, definition = _names(properties)
    backend = ecs_backends[account_id][region_name]
    if cluster != original_resource.cluster_name or \
            (properties.get("ServiceName") or original_resource.name) != original_resource.name:
        backend.delete_service(original_resource.cluster_name, original_resource.name, force=True)
        return create_service(cls, new_resource_name, cloudformation_json, account_id, region_name)
    desired = properties.get("DesiredCount")
    service = original_resource
    service.task_definition = backend.describe_task_definition(definition).arn
    if desired is not None:
        service.desired_count = int(desired)
    service.load_balancers = _load_balancers(properties)
    network = _network(properties)
    service.network_configuration = service._validate_network(network) if network else {}
    service.launch_type = properties.get("LaunchType") or service.launch_type
    service.propagate_tags = properties.get("PropagateTags") or "NONE"
    service.tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
    if service.deployments:
        service.deployments[0]["taskDefinition"] = service.task_definition
    _keep(service, properties)
    service_stability.wait_until_stable(
        service, backend, getattr(original_resource, "logical_resource_id", None) or service.name)
    return service


# -- a service follows its task definition's new revision ----------------------------------

def _refers_to(value, names):
    if isinstance(value, dict):
        if value.get("Ref") in names:
            return True
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and attribute[0] in names:
            return True
        return any(_refers_to(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, names) for v in value)
    return False


def wrap_build_resource_diff(original):
    def build_resource_diff(self, other_template, parameters=None):
        actions = original(self, other_template, parameters)
        resources = other_template.get("Resources", {})
        modified = [name for name in actions["Modify"]
                    if resources.get(name, {}).get("Type") == "AWS::ECS::TaskDefinition"]
        if modified:
            for name, resource in resources.items():
                if resource.get("Type") != "AWS::ECS::Service" or name in actions["Add"]:
                    continue
                if _refers_to(resource.get("Properties", {}).get("TaskDefinition"), modified):
                    if name in actions["Modify"]:
                        actions["Modify"].remove(name)
                    actions["Modify"].append(name)  # after the task definition
        return actions

    build_resource_diff.__wrapped__ = original
    return build_resource_diff


# -- ListTasks by service ------------------------------------------------------------------

def wrap_list_tasks(original):
    def list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None,
                   service_name=None, desiredStatus=None):  # noqa: N803 - moto's name
        tasks = original(self, cluster_str, container_instance, family, started_by, service_name,
                         desiredStatus)
        if service_name:
            name = service_name.rsplit("/", 1)[-1]  # a name or an ARN
            tasks = [task for task in tasks if task.group == f"service:{name}"]
        return tasks

    list_tasks.__wrapped__ = original
    return list_tasks


# -- AWS::ApplicationAutoScaling::ScalableTarget -------------------------------------------

def clamp_ecs_desired_count(backend, resource_id, minimum, maximum):
    """Application Auto Scaling's registration: the service's desired count in [min, max]."""
    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service":
        return
    try:
        [service], _ = backend.ecs_backend.describe_services(parts[1], [parts[2]])
    except Exception:  # noqa: BLE001 - moto's own check reports a missing service
        return
    if minimum is not None and service.desired_count < int(minimum):
        service.desired_count = int(minimum)
    if maximum is not None and service.desired_count > int(maximum):
        service.desired_count = int(maximum)


def wrap_register_scalable_target(original):
    def register_scalable_target(self, namespace, r_id, dimension, min_capacity, max_capacity,
                                 role_arn, suspended_state):
        target = original(self, namespace, r_id, dimension, min_capacity, max_capacity, role_arn,
                          suspended_state)
        if namespace == "ecs" and dimension == "ecs:service:DesiredCount":
            clamp_ecs_desired_count(self, r_id, target.min_capacity, target.max_capacity)
        return target

    register_scalable_target.__wrapped__ = original
    return register_scalable_target


def _scalable_target_class():
    from moto.core.common_models import CloudFormationModel

    class ScalableTarget(CloudFormationModel):
        def __init__(self, target, account_id, region_name):
            self.target, self.account_id, self.region_name = target, account_id, region_name

        @staticmethod
        def cloudformation_name_type():
            return ""

        @staticmethod
        def cloudformation_type():
            return "AWS::ApplicationAutoScaling::ScalableTarget"

        @property
        def physical_resource_id(self):
            t = self.target
            return f"{t.resource_id}|{t.scalable_dimension}|{t.service_namespace}"

        def is_created(self):
            return True

        @staticmethod
        def _register(properties, account_id, region_name):
            from moto.applicationautoscaling.models import applicationautoscaling_backends

            backend = applicationautoscaling_backends[account_id][region_name]
            return backend.register_scalable_target(
                properties["ServiceNamespace"], properties["ResourceId"],
                properties["ScalableDimension"], int(properties["MinCapacity"]),
                int(properties["MaxCapacity"]), properties.get("RoleARN", ""),
                properties.get("SuspendedState"))

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name, **kwargs):
            target = cls._register(cloudformation_json["Properties"], account_id, region_name)
            return cls(target, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                            cloudformation_json, account_id, region_name):
            properties = cloudformation_json["Properties"]
            old = original_resource.target
            if (old.resource_id, old.scalable_dimension) != (properties["ResourceId"],
                                                             properties["ScalableDimension"]):
                original_resource.delete(account_id, region_name)
            target = cls._register(properties, account_id, region_name)
            return cls(target, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                            region_name):
            """Unused: delete() deletes it."""

        def delete(self, account_id, region_name):
            from moto.applicationautoscaling.models import applicationautoscaling_backends

            backend = applicationautoscaling_backends[self.account_id][self.region_name]
            try:
                backend.deregister_scalable_target(self.target.service_namespace,
                                                   self.target.resource_id,
                                                   self.target.scalable_dimension)
            except Exception:  # noqa: BLE001 - already gone (e.g. with its service)
                pass

    return ScalableTarget


ScalableTarget = None


def apply():
    global ScalableTarget
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.cloudformation import parsing
    from moto.ecs.models import EC2ContainerServiceBackend, Service

    EC2ContainerServiceBackend.list_tasks = wrap_list_tasks(EC2ContainerServiceBackend.list_tasks)
    Service.create_from_cloudformation_json = classmethod(create_service)
    Service.update_from_cloudformation_json = classmethod(update_service)
    parsing.ResourceMap.build_resource_diff = wrap_build_resource_diff(
        parsing.ResourceMap.build_resource_diff)
    ApplicationAutoscalingBackend.register_scalable_target = wrap_register_scalable_target(
        ApplicationAutoscalingBackend.register_scalable_target)
    ScalableTarget = _scalable_target_class()
    parsing.get_model_map()["AWS::ApplicationAutoScaling::ScalableTarget"] = ScalableTarget
    parsing.get_name_type_map()["AWS::ApplicationAutoScaling::ScalableTarget"] = ""
