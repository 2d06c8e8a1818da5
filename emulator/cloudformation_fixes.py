"""Patch 4: moto CloudFormation behaviours that differ from AWS where the platform meets them.

moto behaviour replaced, one small wrapper each (templates stay what AWS gets):
- `moto.kms.models.Key.create_from_cloudformation_json` hands the template's
  `Tags` ([{Key, Value}], CloudFormation's shape) to the KMS API code, which
  expects [{TagKey, TagValue}] and fails with KeyError 'TagKey': the tags are
  translated to the KMS shape first.
- `moto.cloudformation.responses.CloudFormationResponse._validate_different_update`
  answers "No updates are to be performed." only when the update passes
  parameters and they equal the stack's *resolved* values (lists for
  CommaDelimitedList, numbers for Number), so a relaunch of a stack without
  parameters, or with such parameters, runs a full update every time. Replaced by
  the comparison AWS makes (template_changes.no_changes, which also decides that a change
  set "didn't contain changes"): the same template once parsed (JSON or YAML, so
  Sceptre's leading `---`, comments, quoting and key order do not count) and the
  same parameter values (as given, UsePreviousValue taking the previous one, an
  omitted one its Default). Sceptre then reports "No updates to perform" at once,
  instead of updating and polling each stack.
- `moto.cloudformation.models.CloudFormationBackend._resolve_update_parameters` takes a
  UsePreviousValue parameter's value from the values given at create: a parameter the
  stack took its Default for raises KeyError, and the update fails. Replaced by
  template_changes.given_parameters (the value the stack has, its Default included).
- Several models have no delete, so deleting a stack leaves them in moto:
  `moto.elbv2.models.FakeListenerRule`, `FakeTargetGroup` and
  `moto.ecs.models.Service` (a service stack deleted and launched again would
  find its own listener rule held by "something else" and its ECS service still
  ACTIVE), and the network's `RouteTable`, `SubnetRouteTableAssociation`,
  `NatGateway`, `ElasticAddress`, `InternetGateway`, `VPCGatewayAttachment` and
  `VPCEndPoint` (the VPC then cannot be deleted: `sceptre delete local` ends in
  DELETE_FAILED). Each gets a `delete(account_id, region)` calling moto's own
  API-level delete. (moto's ResourceMap._delete_resource treats an AttributeError
  or TypeError from delete() as "no delete": these functions must not raise them.)
- `moto.iam.models.Role.create_from_cloudformation_json` ignores `ManagedPolicyArns`,
  and `Role.update_from_cloudformation_json` ignores `Policies`,
  `PermissionsBoundary` and `ManagedPolicyArns` (it only sets the description), so a
  stack update that changes a role's permissions left the role as it was created.
  Both are wrapped to apply them as AWS does: the inline policies become exactly the
  template's, the boundary is put or removed, managed policies are attached and
  detached to match (an AWS managed policy, which moto does not load by default, is
  loaded from moto's own copy when a role names it). The emulator's IAM enforcement
  (iam_enforcement.py) then judges a relaunch's functions under the policies as they
  are now. (Inline policies are kept as JSON text, as IAM's API keeps them: moto kept
  the template's dict, which GetRolePolicy then answered unparseable.)
- `moto.iam.models.ManagedPolicy` (AWS::IAM::ManagedPolicy) has no update: a changed
  document left the policy as created, and moto's ResourceMap then kept None as the
  resource. It gets the update AWS makes: a new default policy version (the oldest
  non-default one deleted at IAM's limit of 5) and its Roles attached/detached.
"""
import json


def _kms_tags(tags):
    return [{"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
            for tag in tags or []]


def wrap_kms_key_create(original):
    function = original.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = dict(cloudformation_json.get("Properties", {}))
        if "Tags" in properties:
            properties["Tags"] = _kms_tags(properties["Tags"])
        cloudformation_json = dict(cloudformation_json, Properties=properties)
        return function(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    create_from_cloudformation_json.__wrapped__ = function
    return classmethod(create_from_cloudformation_json)


def validate_different_update(self, incoming_params, stack_body, old_stack):
    from moto.cloudformation.exceptions import ValidationError
    from emulator.template_changes import given_parameters, no_changes

    parameters = given_parameters(incoming_params, old_stack)
    if stack_body and no_changes(old_stack, stack_body, parameters):
        raise ValidationError(old_stack.name, message="No updates are to be performed.")


def resolve_update_parameters(self, instance, incoming_params):
    from emulator.template_changes import given_parameters

    return given_parameters(incoming_params, instance)


def delete_listener_rule(self, account_id, region_name):
    from moto.elbv2.models import elbv2_backends

    elbv2_backends[account_id][region_name].delete_rule(self.arn)


def delete_target_group(self, account_id, region_name):
    from moto.elbv2.models import elbv2_backends

    elbv2_backends[account_id][region_name].delete_target_group(self.arn)


def delete_ecs_service(self, account_id, region_name):
    from moto.ecs.models import ecs_backends

    ecs_backends[account_id][region_name].delete_service(self.cluster_name, self.name, force=True)


def _ec2(account_id, region_name):
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region_name]


def delete_route_table(self, account_id, region_name):
    backend = _ec2(account_id, region_name)
    for association_id in list(self._associations):  # made through the API, if any
        backend.disassociate_route_table(association_id)
    backend.delete_route_table(self.id)


def delete_subnet_route_table_association(self, account_id, region_name):
    _ec2(account_id, region_name).subnet_associations.pop(
        f"{self.route_table_id}:{self.subnet_id}", None)


def delete_nat_gateway(self, account_id, region_name):
    _ec2(account_id, region_name).delete_nat_gateway(self.id)


def delete_elastic_address(self, account_id, region_name):
    _ec2(account_id, region_name).release_address(allocation_id=self.allocation_id)


def delete_internet_gateway(self, account_id, region_name):
    backend = _ec2(account_id, region_name)
    if self.vpc is not None:
        backend.detach_internet_gateway(self.id, self.vpc.id)
    backend.delete_internet_gateway(self.id)


def delete_gateway_attachment(self, account_id, region_name):
    backend = _ec2(account_id, region_name)
    gateway = backend.internet_gateways.get(self.gateway_id)
    if gateway is not None and gateway.vpc is not None and gateway.vpc.id == self.vpc_id:
        backend.detach_internet_gateway(self.gateway_id, self.vpc_id)


def delete_vpc_endpoint(self, account_id, region_name):
    if self.vpc_endpoint_type is None:
        # moto leaves CloudFormation's default type unset; its delete needs one.
        self.vpc_endpoint_type = "Gateway"
    _ec2(account_id, region_name).delete_vpc_endpoints([self.id])


def _iam(account_id, region_name):
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region_name)]


def _policy_json(document):
    return document if isinstance(document, str) else json.dumps(document)


def _ensure_managed_policy(backend, policy_arn):
    """An AWS managed policy a role names, loaded from moto's copy if moto has not."""
    if policy_arn in backend.managed_policies or ":iam::aws:policy/" not in policy_arn:
        return
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    name = policy_arn.rsplit("/", 1)[-1]
    data = json.loads(aws_managed_policies_data).get(name)
    if data is not None:
        policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        backend.managed_policies[policy.arn] = policy


def _sync_managed_policies(backend, role, wanted):
    wanted = list(dict.fromkeys(wanted or []))
    for arn in [arn for arn in role.managed_policies if arn not in wanted]:
        backend.detach_role_policy(arn, role.name)
    for arn in wanted:
        if arn not in role.managed_policies:
            _ensure_managed_policy(backend, arn)
            backend.attach_role_policy(arn, role.name)


def wrap_role_create(original):
    function = original.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        role = function(cls, resource_name, cloudformation_json, account_id, region_name,
                        **kwargs)
        for name, document in list(role.policies.items()):  # as IAM's API keeps them: JSON text
            role.put_policy(name, _policy_json(document))
        properties = cloudformation_json.get("Properties", {})
        if properties.get("ManagedPolicyArns"):
            _sync_managed_policies(_iam(account_id, region_name), role,
                                   properties["ManagedPolicyArns"])
        return role

    create_from_cloudformation_json.__wrapped__ = function
    return classmethod(create_from_cloudformation_json)


def wrap_role_update(original):
    function = original.__func__

    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        role = function(cls, original_resource, new_resource_name, cloudformation_json,
                        account_id, region_name)
        backend = _iam(account_id, region_name)
        properties = cloudformation_json.get("Properties", {})
        wanted = {policy["PolicyName"]: policy["PolicyDocument"]
                  for policy in properties.get("Policies") or []}
        for name in [name for name in role.policies if name not in wanted]:
            role.delete_policy(name)
        for name, document in wanted.items():
            role.put_policy(name, _policy_json(document))
        boundary = properties.get("PermissionsBoundary")
        if boundary:
            backend.put_role_permissions_boundary(role.name, boundary)
        elif role.permissions_boundary_arn:
            backend.delete_role_permissions_boundary(role.name)
        _sync_managed_policies(backend, role, properties.get("ManagedPolicyArns"))
        return role

    update_from_cloudformation_json.__wrapped__ = function
    return classmethod(update_from_cloudformation_json)


IAM_POLICY_VERSION_LIMIT = 5


def update_managed_policy(cls, original_resource, new_resource_name, cloudformation_json,
                          account_id, region_name):
    backend = _iam(account_id, region_name)
    policy = original_resource
    properties = cloudformation_json.get("Properties", {})
    document = _policy_json(properties.get("PolicyDocument"))
    current = next((v for v in policy.versions if v.is_default), None)
    if current is None or json.loads(_policy_json(current.document)) != json.loads(document):
        if len(policy.versions) >= IAM_POLICY_VERSION_LIMIT:
            oldest = next(v for v in policy.versions if not v.is_default)
            backend.delete_policy_version(policy.arn, oldest.version_id)
        backend.create_policy_version(policy.arn, document, set_as_default=True)
    wanted = list(properties.get("Roles") or [])
    attached = [role for role in backend.roles.values() if policy.arn in role.managed_policies]
    for role in attached:
        if role.name not in wanted:
            backend.detach_role_policy(policy.arn, role.name)
    for name in wanted:
        if name not in [role.name for role in attached]:
            backend.attach_role_policy(policy.arn, name)
    return policy


MISSING_DELETES = (
    ("moto.elbv2.models", "FakeListenerRule", delete_listener_rule),
    ("moto.elbv2.models", "FakeTargetGroup", delete_target_group),
    ("moto.ecs.models", "Service", delete_ecs_service),
    ("moto.ec2.models.route_tables", "RouteTable", delete_route_table),
    ("moto.ec2.models.subnets", "SubnetRouteTableAssociation",
     delete_subnet_route_table_association),
    ("moto.ec2.models.nat_gateways", "NatGateway", delete_nat_gateway),
    ("moto.ec2.models.elastic_ip_addresses", "ElasticAddress", delete_elastic_address),
    ("moto.ec2.models.internet_gateways", "InternetGateway", delete_internet_gateway),
    ("moto.ec2.models.vpn_gateway", "VPCGatewayAttachment", delete_gateway_attachment),
    ("moto.ec2.models.vpcs", "VPCEndPoint", delete_vpc_endpoint),
)


def apply():
    import importlib

    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.iam.models import ManagedPolicy, Role
    from moto.kms.models import Key

    for module_name, class_name, delete in MISSING_DELETES:
        model = getattr(importlib.import_module(module_name), class_name)
        if "delete" in vars(model):  # moto grew its own: patches.check() reports it
            continue
        model.delete = delete

    Key.create_from_cloudformation_json = wrap_kms_key_create(Key.create_from_cloudformation_json)
    CloudFormationResponse._validate_different_update = validate_different_update
    CloudFormationBackend._resolve_update_parameters = resolve_update_parameters
    Role.create_from_cloudformation_json = wrap_role_create(Role.create_from_cloudformation_json)
    Role.update_from_cloudformation_json = wrap_role_update(Role.update_from_cloudformation_json)
    if "update_from_cloudformation_json" not in vars(ManagedPolicy):  # else: check() reports it
        ManagedPolicy.update_from_cloudformation_json = classmethod(update_managed_policy)
