"""A local task's network, as Fargate gives it: a private IP of its service's subnet on an
ENI of its own, its targets registered in the service's target groups (moto's ELBv2 and
targets.TABLE, with the local port), and, on stop, the drain and the ENI's release."""
import ipaddress
import secrets as secrets_module
import sys

from emulator import targets

MAX_DRAIN_SECONDS = 30.0


def place(local, service, account, region, taken):
    """A private IP of the service's subnet, on the task's ENI."""
    from moto.ec2.models import ec2_backends

    vpc = (service.network_configuration or {}).get("awsvpcConfiguration") or {}
    if not vpc.get("subnets"):
        return
    ec2 = ec2_backends[account][region]
    mine = set(taken)  # the addresses of the emulator's other tasks
    for subnet_id in vpc["subnets"]:
        subnet = ec2.get_subnet(subnet_id)
        used = mine | {eni.private_ip_address for eni in list(ec2.enis.values())
                       if getattr(eni.subnet, "id", None) == subnet_id}
        network = ipaddress.ip_network(subnet.cidr_block)
        hosts = list(network.hosts())[3:-1] if network.num_addresses > 8 else list(network.hosts())
        free = next((str(ip) for ip in hosts if str(ip) not in used), None)
        if free is None:
            continue
        local.ip = free
        eni = ec2.create_network_interface(subnet=subnet_id, private_ip_address=free,
                                           group_ids=vpc.get("securityGroups") or [],
                                           description=f"ECS task {local.task.id}")
        eni.status, eni.device_index = "in-use", 0
        dns = f"ip-{free.replace('.', '-')}.{region}.compute.internal"
        local.task.attachments.append({
            "id": secrets_module.token_hex(16), "type": "ElasticNetworkInterface",
            "status": "ATTACHED", "details": [
                {"name": "subnetId", "value": subnet_id},
                {"name": "networkInterfaceId", "value": eni.id},
                {"name": "macAddress", "value": eni.mac_address},
                {"name": "privateDnsName", "value": dns},
                {"name": "privateIPv4Address", "value": free}]})
        return
    raise RuntimeError(f"no free address in the subnets {vpc['subnets']}")

def register(local, service, account, region):
    from moto.elbv2.models import elbv2_backends

    port_of = {m.get("containerPort") for m in local.container.get("portMappings") or []}
    for balancer in service.load_balancers or []:
        group = balancer.get("targetGroupArn")
        if not group or balancer.get("containerName") not in (None, local.container["name"]):
            continue
        port = int(balancer.get("containerPort") or next(iter(port_of), 0) or 80)
        local.container_port = port
        ip = local.ip or "127.0.0.1"
        local.ip = ip
        try:
            elbv2_backends[account][region].register_targets(group, [{"Id": ip, "Port": port}])
        except Exception as exc:  # noqa: BLE001 - the group is gone: the task runs unregistered
            print(f"task supervisor: register {ip}:{port} in {group}: {exc}", file=sys.stderr,
                  flush=True)
            continue
        targets.TABLE.register(group, ip, port, local.local_port, local.arn)
        local.groups.append(group)

def deregister(local, remove=False):
    from moto.elbv2.models import elbv2_backends

    account, region = local.task._account_id, local.task.region_name
    for group in local.groups:
        targets.TABLE.deregister(group, local.ip, local.container_port)
        try:
            elbv2_backends[account][region].deregister_targets(
                group, [{"Id": local.ip, "Port": local.container_port}])
        except Exception:  # noqa: BLE001 - already gone
            pass
        if remove:
            targets.TABLE.remove(group, local.ip, local.container_port)

def drain_seconds(local):
    from moto.elbv2.models import elbv2_backends

    account, region = local.task._account_id, local.task.region_name
    delays = []
    for group in local.groups:
        found = elbv2_backends[account][region].target_groups.get(group)
        if found is None:  # deleted (with its stack): no load balancer to drain from
            continue
        value = (getattr(found, "attributes", None) or {}).get("deregistration_delay.timeout_seconds", 300)
        try:
            delays.append(float(value))
        except (TypeError, ValueError):
            delays.append(300.0)
    return min(MAX_DRAIN_SECONDS, max(delays or [0.0]))


def release_eni(local):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[local.task._account_id][local.task.region_name]
    for attachment in local.task.attachments:
        details = {d["name"]: d["value"] for d in attachment["details"]}
        try:
            ec2.delete_network_interface(details["networkInterfaceId"])
        except Exception:  # noqa: BLE001 - already gone
            pass
        attachment["status"] = "DELETED"
