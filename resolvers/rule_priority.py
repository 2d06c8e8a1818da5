"""`!rule_priority`: the priority of a service's ALB listener rule.

    Priority: !rule_priority
      listener: !stack_output dev/cluster.yaml::HttpsListenerArn   # a listener ARN
      host: orders.dev.example.com                                # the rule's host-header value
      priority: 120                                               # optional pin from the service's config

Resolves to the priority as a string (CloudFormation parameter values are strings):

1. `priority` given: it wins, with no AWS call (the environment's config check
   keeps pins unique). Pins are recorded in this run's reservations.
2. Otherwise, if a rule on the listener already has a host-header condition for
   `host`, and that rule is a resource of the stack being launched, its priority
   (an update never moves a rule). A rule for the host that belongs to anything
   else is an error naming the rule (and the platform service, when its target
   group is tagged `fargate-platform:service`). Ownership is decided by the stack
   rather than by the tag because moto's CloudFormation drops target-group tags;
   the tag only improves the error message.
3. Otherwise a free priority: a preferred slot derived from the host name (a
   SHA-256 of the host mapped into AUTO_FIRST..AUTO_LAST), probing upward and
   wrapping to the next slot that is neither on the listener nor reserved in
   this process. Reservations are held under a lock, so stacks resolved on
   Sceptre's thread pool in one run never collide; separate pipelines collide
   only if their hosts hash into the same free run of slots, and then
   CloudFormation fails the rule with PriorityInUse and a rerun (which re-reads
   the listener) succeeds.

Automatic slots start at AUTO_FIRST (1000) so that priorities 1-999 stay free for
pins: a pin there can never meet an automatic priority.

The listener's rules are read once per process ("per run": one Sceptre command),
paging through describe_rules, and kept with this run's reservations.
"""
import hashlib
import re
import threading

from botocore.exceptions import ClientError
from sceptre.exceptions import SceptreException
from sceptre.resolvers import Resolver

from fargate_platform import names
from fargate_platform.sceptre_errors import sceptre_errors

MIN_PRIORITY, MAX_PRIORITY = 1, 50000  # the ALB's range
AUTO_FIRST, AUTO_LAST = 1000, 50000
PAGE_SIZE = 400  # DescribeRules maximum: a listener within the default quota (100 rules) is one page
ARGUMENT_KEYS = {"listener", "host", "priority"}
HOST_PATTERN = re.compile(r"^[a-z0-9*?]([a-z0-9*?.-]{0,126}[a-z0-9*?])?$")


class RulePriorityError(SceptreException):
    """No priority can be given: the host is claimed by a rule this stack does not own."""


class RuleArgumentError(ValueError):
    pass


def parse_argument(argument):
    """(listener, host, pinned priority or None) from the tag's argument."""
    if not isinstance(argument, dict):
        raise RuleArgumentError(
            "!rule_priority takes a mapping {listener: ARN, host: HOST[, priority: N]}; "
            f"it was given {type(argument).__name__}"
        )
    unknown = sorted(set(argument) - ARGUMENT_KEYS)
    if unknown:
        raise RuleArgumentError(
            f"!rule_priority does not take the argument(s) {', '.join(unknown)}; "
            "it takes listener, host and priority"
        )
    listener = argument.get("listener")
    if not isinstance(listener, str) or not listener.startswith("arn:") or ":listener/" not in listener:
        raise RuleArgumentError(f"!rule_priority argument `listener` must be a listener ARN; it is {listener!r}")
    host = argument.get("host")
    if not isinstance(host, str) or not HOST_PATTERN.match(host.lower()):
        raise RuleArgumentError(f"!rule_priority argument `host` must be a host name; it is {host!r}")
    pinned = argument.get("priority")
    if pinned is not None:
        pinned = parse_priority(pinned)
    return listener, host.lower(), pinned


def parse_priority(value):
    text = str(value).strip() if not isinstance(value, bool) else ""
    # Pins stay below the automatic slots, so a pin can never meet an automatic priority.
    if not text.isdigit() or not MIN_PRIORITY <= int(text) < AUTO_FIRST:
        raise RuleArgumentError(
            f"!rule_priority argument `priority` must be an integer from {MIN_PRIORITY} "
            f"to {AUTO_FIRST - 1}; it is {value!r}"
        )
    return int(text)


def preferred_slot(host):
    """The same host always prefers the same slot, in every process."""
    digest = int.from_bytes(hashlib.sha256(host.lower().encode()).digest()[:8], "big")
    return AUTO_FIRST + digest % (AUTO_LAST - AUTO_FIRST + 1)


def next_free(preferred, taken):
    """The first slot from `preferred` upward (wrapping) that is not in `taken`."""
    span = AUTO_LAST - AUTO_FIRST + 1
    for step in range(span):
        slot = AUTO_FIRST + (preferred - AUTO_FIRST + step) % span
        if slot not in taken:
            return slot
    raise RulePriorityError(f"no free listener rule priority from {AUTO_FIRST} to {AUTO_LAST}")


class Rule:
    """What matters about one listener rule."""

    def __init__(self, arn, priority, hosts, target_groups):
        self.arn = arn
        self.priority = priority
        self.hosts = hosts
        self.target_groups = target_groups

    @classmethod
    def from_api(cls, rule):
        hosts = set()
        for condition in rule.get("Conditions", []):
            if condition.get("Field") == "host-header":
                values = condition.get("HostHeaderConfig", {}).get("Values") or condition.get("Values") or []
                hosts.update(value.lower() for value in values)
        target_groups = []
        for action in rule.get("Actions", []):
            if action.get("TargetGroupArn"):
                target_groups.append(action["TargetGroupArn"])
            for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
                target_groups.append(group["TargetGroupArn"])
        return cls(rule["RuleArn"], int(rule["Priority"]), hosts, sorted(set(target_groups)))


def fetch_rules(call, listener, page_size=PAGE_SIZE):
    """Every non-default rule of the listener. `call(command, kwargs)` is an elbv2 call."""
    rules, marker = [], None
    while True:
        kwargs = {"ListenerArn": listener, "PageSize": page_size}
        if marker:
            kwargs["Marker"] = marker
        response = call("describe_rules", kwargs)
        rules += [Rule.from_api(rule) for rule in response["Rules"] if not rule.get("IsDefault")]
        marker = response.get("NextMarker")
        if not marker:
            return rules


class ListenerState:
    """One listener as this run sees it: the rules read once, plus this run's reservations."""

    def __init__(self, rules):
        self.rules = rules
        self.taken = {rule.priority for rule in rules}
        self.reserved = {}  # host -> priority handed out in this run
        self.lock = threading.Lock()

    def rules_for(self, host):
        return [rule for rule in self.rules if host in rule.hosts]


class PriorityBook:
    """Per-run cache of listener states and reservations, safe across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners = {}

    def clear(self):
        with self._lock:
            self._listeners = {}

    def state(self, listener, load_rules):
        """The listener's state, reading its rules with `load_rules()` on first use only."""
        with self._lock:
            state = self._listeners.get(listener)
            if state is None:
                # Read under the book's lock so concurrent first uses read once.
                state = self._listeners[listener] = ListenerState(load_rules())
            return state

    def pin(self, listener, host, priority):
        """Record a pinned priority, if this listener is already known, so no automatic one takes it."""
        with self._lock:
            state = self._listeners.get(listener)
        if state is not None:
            with state.lock:
                state.taken.add(priority)
                state.reserved[host] = priority

    def allocate(self, listener, host, load_rules):
        """(priority, existing rules claiming the host). With existing rules, priority is theirs."""
        state = self.state(listener, load_rules)
        with state.lock:
            if host in state.reserved:
                return state.reserved[host], []
            existing = state.rules_for(host)
            if existing:
                return existing[0].priority, existing
            priority = next_free(preferred_slot(host), state.taken)
            state.taken.add(priority)
            state.reserved[host] = priority
            return priority, []


BOOK = PriorityBook()


def stack_resource_ids(call, stack_name):
    """Physical ids of the stack's resources; empty when the stack does not exist yet."""
    ids, token = set(), None
    while True:
        kwargs = {"StackName": stack_name}
        if token:
            kwargs["NextToken"] = token
        try:
            response = call("list_stack_resources", kwargs)
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                return set()
            raise
        ids.update(item.get("PhysicalResourceId") for item in response["StackResourceSummaries"])
        token = response.get("NextToken")
        if not token:
            return ids


def platform_services(call, target_groups):
    """The `fargate-platform:service` tag values of the target groups, where present."""
    services = []
    for start in range(0, len(target_groups), 20):  # describe_tags takes 20 ARNs
        response = call("describe_tags", {"ResourceArns": target_groups[start : start + 20]})
        for description in response["TagDescriptions"]:
            services += [tag["Value"] for tag in description["Tags"] if tag["Key"] == names.SERVICE_TAG]
    return services


def claim_error(stack_name, host, listener, rule, services):
    owner = (
        f"platform service '{services[0]}' (another stack)"
        if services
        else "something the platform did not create"
    )
    return RulePriorityError(
        f"{stack_name} - !rule_priority: host '{host}' on listener {listener} is already "
        f"claimed by rule {rule.arn} (priority {rule.priority}) of {owner}; "
        "remove that rule or give this service another host"
    )


def resolve_priority(
    elbv2, cloudformation, stack_name, listener, host, pinned=None, book=BOOK, label=None, page_size=None
):
    """The priority for `host`'s rule in the CloudFormation stack `stack_name`.

    `elbv2(command, kwargs)` and `cloudformation(command, kwargs)` make the AWS calls;
    `label` names the stack in errors (Sceptre's stack name; default `stack_name`).
    """
    if pinned is not None:
        book.pin(listener, host, pinned)
        return pinned
    page_size = page_size or PAGE_SIZE
    priority, existing = book.allocate(listener, host, lambda: fetch_rules(elbv2, listener, page_size))
    if not existing:
        return priority
    owned = stack_resource_ids(cloudformation, stack_name)
    for rule in existing:
        if rule.arn not in owned:
            services = platform_services(elbv2, rule.target_groups) if rule.target_groups else []
            raise claim_error(label or stack_name, host, listener, rule, services)
    return priority


class RulePriority(Resolver):
    """Resolves to a listener rule priority that is stable, pinned, or newly free."""

    @sceptre_errors
    def resolve(self):
        try:
            listener, host, pinned = parse_argument(self.argument)
        except RuleArgumentError as error:
            self.raise_invalid_argument_error(str(error))
        connection_manager = self.stack.connection_manager

        def elbv2(command, kwargs):
            return connection_manager.call("elbv2", command, kwargs)

        def cloudformation(command, kwargs):
            return connection_manager.call("cloudformation", command, kwargs)

        priority = resolve_priority(
            elbv2, cloudformation, self.stack.external_name, listener, host, pinned, label=self.stack.name
        )
        self.logger.debug(f"!rule_priority: host {host} on {listener}: priority {priority}")
        return str(priority)
