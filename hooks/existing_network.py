"""`!check_existing_network {vpc_id, public_subnet_ids, private_subnet_ids}` (before_launch
of the network stack, where the environment names an existing VPC).

The config check (fargate_platform.config) knows the ids are well formed; this hook
checks, before anything is launched, that they exist in the account and region, that
the subnets belong to that VPC, and that the first two of each list (the ones the
templates use) are in two availability zones.
"""
from sceptre.exceptions import InvalidHookArgumentValueError, SceptreException
from sceptre.hooks import Hook

from fargate_platform.sceptre_errors import sceptre_errors

KEYS = ("vpc_id", "public_subnet_ids", "private_subnet_ids")


class ExistingNetworkError(SceptreException):
    pass


def check_existing_network(call, vpc_id, public_subnet_ids, private_subnet_ids):
    """Raise ExistingNetworkError naming what is wrong; `call(command, kwargs)` calls EC2."""
    vpcs = call("describe_vpcs", {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]})["Vpcs"]
    if not vpcs:
        raise ExistingNetworkError(f"existing network: VPC {vpc_id} does not exist in this account and region")
    wanted = list(public_subnet_ids) + list(private_subnet_ids)
    found = {
        subnet["SubnetId"]: subnet
        for subnet in call("describe_subnets", {"Filters": [{"Name": "subnet-id", "Values": wanted}]})["Subnets"]
    }
    for role, ids in (("public", public_subnet_ids), ("private", private_subnet_ids)):
        missing = [i for i in ids if i not in found]
        if missing:
            raise ExistingNetworkError(f"existing network: {role} subnet(s) {', '.join(missing)} do not exist")
        elsewhere = [i for i in ids if found[i]["VpcId"] != vpc_id]
        if elsewhere:
            raise ExistingNetworkError(f"existing network: {role} subnet(s) {', '.join(elsewhere)} are not in {vpc_id}")
        # The templates use the first two subnets of each list: those must be in two zones.
        first, second = (found[i]["AvailabilityZone"] for i in ids[:2])
        if first == second:
            raise ExistingNetworkError(
                f"existing network: the first two {role} subnets are both in {first}: "
                "list first two subnets in different availability zones"
            )


class CheckExistingNetwork(Hook):
    @sceptre_errors
    def run(self):
        argument = self.argument
        if not isinstance(argument, dict) or set(argument) != set(KEYS):
            raise InvalidHookArgumentValueError(
                f"!check_existing_network takes a mapping of {', '.join(KEYS)}; got {argument!r}"
            )
        check_existing_network(
            lambda command, kwargs: self.stack.connection_manager.call("ec2", command, kwargs),
            **argument,
        )
        self.logger.info(f"{self.stack.name}: existing VPC {argument['vpc_id']} and its subnets checked")
