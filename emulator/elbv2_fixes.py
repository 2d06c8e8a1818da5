"""moto ELBv2 behaviours replaced for the local data plane (alb_front.py, health_checks.py).

- `moto.elbv2.models.ELBv2Backend.describe_target_health` says every registered target
  is "healthy" (and an ip target it does not know "unavailable", Target.NotRegistered),
  whatever runs behind it. Wrapped: a target of emulator.targets.TABLE (the tasks the
  supervisor registered, their health as the checker found it) is answered from the
  table, with ELBv2's State, Reason and Description (initial Elb.RegistrationInProgress,
  healthy, unhealthy Target.Timeout / Target.ResponseCodeMismatch /
  Target.FailedHealthChecks, draining Target.DeregistrationInProgress); with no Targets
  asked, the table's targets of the group come first, then moto's other ones as moto says.
- `moto.elbv2.models.FakeTargetGroup.create_from_cloudformation_json` drops the
  template's `TargetGroupAttributes` (deregistration_delay.timeout_seconds stays moto's
  300, what the task supervisor waits before stopping a deregistered task): they are
  applied after the create, through moto's own modify_target_group_attributes.
- `moto.elbv2.models.FakeTargetGroup` has no CloudFormation update: a stack update that
  changes a target group (its health check, its attributes) left moto's ResourceMap
  holding None for it (Ref then gives nothing). It gets one, in place as AWS updates
  these properties: HealthCheck* and Matcher through moto's modify_target_group, the
  TargetGroupAttributes through modify_target_group_attributes. (Properties that make
  AWS replace the group, Name/Port/Protocol/VpcId/TargetType, are left as they were.)
- `moto.elbv2.models.FakeLoadBalancer.create_from_cloudformation_json` drops the
  template's `LoadBalancerAttributes` (idle_timeout.timeout_seconds, which the ALB front
  honours, among them): applied the same way, through modify_load_balancer_attributes.

`patches()` lists (owner, attribute, replacement): apply() sets them once; a test can
set them with monkeypatch instead (moto then plain again after the test).
"""
from emulator import targets as target_table


def _health_status(group, target):
    from moto.elbv2.models import FakeHealthStatus

    health_port = group.health_check_port
    if health_port in (None, "traffic-port"):
        health_port = str(target.port)
    if target.state == "healthy":
        return FakeHealthStatus(target.ip, target.port, health_port, "healthy")
    return FakeHealthStatus(target.ip, target.port, health_port, target.state,
                            target.reason, target.description)


def wrap_describe_target_health(original):
    def describe_target_health(self, target_group_arn, targets):
        answers = original(self, target_group_arn, targets)  # TargetGroupNotFound first
        local = {(t.ip, t.port): t for t in target_table.TABLE.targets(target_group_arn)}
        if not local:
            return answers
        group = self.target_groups[target_group_arn]
        if not targets:
            known = [_health_status(group, t) for t in local.values()]
            return known + [a for a in answers if (a.instance_id, _port(a.port)) not in local]
        result = []
        for asked, answer in zip(targets, answers):
            key = (asked.get("Id"), _port(asked.get("Port", group.port)))
            result.append(_health_status(group, local[key]) if key in local else answer)
        return result

    describe_target_health.__wrapped__ = original
    return describe_target_health


def _port(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def keeping_attributes(original, property_name, modify_method):
    """create_from_cloudformation_json that applies the template's `property_name` (Key/Value
    pairs) with the ELBv2 backend's `modify_method` (moto drops them)."""
    function = original.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        from moto.elbv2.models import elbv2_backends

        created = function(cls, resource_name, cloudformation_json, account_id, region_name,
                           **kwargs)
        attributes = _key_values(cloudformation_json.get("Properties", {}).get(property_name))
        if attributes:
            getattr(elbv2_backends[account_id][region_name], modify_method)(created.arn, attributes)
        return created

    create_from_cloudformation_json.__wrapped__ = function
    return classmethod(create_from_cloudformation_json)


def wrap_target_group_create(original):
    return keeping_attributes(original, "TargetGroupAttributes", "modify_target_group_attributes")


def update_target_group(cls, original_resource, new_resource_name, cloudformation_json,
                        account_id, region_name):
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account_id][region_name]
    properties = cloudformation_json.get("Properties", {})

    def number(key):
        value = properties.get(key)
        return None if value is None else int(value)

    enabled = properties.get("HealthCheckEnabled")
    backend.modify_target_group(
        original_resource.arn,
        health_check_proto=properties.get("HealthCheckProtocol"),
        health_check_port=_text(properties.get("HealthCheckPort")),
        health_check_path=properties.get("HealthCheckPath"),
        health_check_interval=number("HealthCheckIntervalSeconds"),
        health_check_timeout=number("HealthCheckTimeoutSeconds"),
        healthy_threshold_count=_text(properties.get("HealthyThresholdCount")),
        unhealthy_threshold_count=_text(properties.get("UnhealthyThresholdCount")),
        http_codes=(properties.get("Matcher") or {}).get("HttpCode"),
        health_check_enabled=None if enabled is None else str(enabled).lower() == "true",
    )
    attributes = _key_values(properties.get("TargetGroupAttributes"))
    if attributes:
        backend.modify_target_group_attributes(original_resource.arn, attributes)
    return original_resource


def _text(value):
    return None if value is None else str(value)


def wrap_load_balancer_create(original):
    return keeping_attributes(original, "LoadBalancerAttributes", "modify_load_balancer_attributes")


def _key_values(pairs):
    return {str(p["Key"]): str(p["Value"]) for p in pairs or [] if "Key" in p}


def patches():
    """(owner, attribute, replacement) of each patch, made from moto as it is now."""
    from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer, FakeTargetGroup

    return [
        (ELBv2Backend, "describe_target_health",
         wrap_describe_target_health(ELBv2Backend.describe_target_health)),
        (FakeTargetGroup, "create_from_cloudformation_json",
         wrap_target_group_create(FakeTargetGroup.create_from_cloudformation_json)),
        (FakeLoadBalancer, "create_from_cloudformation_json",
         wrap_load_balancer_create(FakeLoadBalancer.create_from_cloudformation_json)),
    ] + ([] if "update_from_cloudformation_json" in vars(FakeTargetGroup)  # moto grew one
         else [(FakeTargetGroup, "update_from_cloudformation_json",
                classmethod(update_target_group))])


_applied = False


def apply():
    global _applied
    if _applied:
        return
    for owner, attribute, replacement in patches():
        setattr(owner, attribute, replacement)
    _applied = True
