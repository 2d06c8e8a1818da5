"""The ALB's routing, as AWS documents it: which rule of a listener a request matches
(conditions, priority order) and what its action answers (fixed-response, redirect,
forward); used by the local ALB front (alb_front.py)."""
import functools
import ipaddress
import re
import urllib.parse


# -- rules ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _wildcard(pattern, ignore_case):
    """ALB's wildcards: `*` any characters, `?` one character, nothing else special."""
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(pattern, value, ignore_case=False):
    return _wildcard(str(pattern), ignore_case).fullmatch(value) is not None


def _values(condition, config_key):
    config = condition.get(config_key) or {}
    return config.get("Values") or condition.get("Values") or []


def _host_without_port(host):
    host = host.strip()
    if host.startswith("["):  # [v6]:port
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


class Request:
    """What the rules look at."""

    __slots__ = ("method", "host", "path", "query", "headers", "client_ip")

    def __init__(self, method, target, headers, client_ip):
        self.method = method
        path, _, self.query = target.partition("?")
        self.path = path or "/"
        self.host = _host_without_port(headers.get("Host") or "")
        self.headers = headers
        self.client_ip = client_ip


def condition_matches(condition, request):
    field = condition.get("Field")
    if field == "host-header":
        return any(_matches(v, request.host, True) for v in _values(condition, "HostHeaderConfig"))
    if field == "path-pattern":
        return any(_matches(v, request.path) for v in _values(condition, "PathPatternConfig"))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        found = request.headers.get_all(config.get("HttpHeaderName") or "") or []
        return any(_matches(v, h, True) for v in config.get("Values") or [] for h in found)
    if field == "http-request-method":
        return request.method in _values(condition, "HttpRequestMethodConfig")
    if field == "query-string":
        pairs = urllib.parse.parse_qsl(request.query, keep_blank_values=True)
        for wanted in (condition.get("QueryStringConfig") or {}).get("Values") or []:
            for key, value in pairs:
                if ("Key" not in wanted or _matches(wanted["Key"], key, True)) \
                        and _matches(wanted.get("Value", ""), value, True):
                    return True
        return False
    if field == "source-ip":
        try:
            address = ipaddress.ip_address(request.client_ip)
            return any(address in ipaddress.ip_network(v, strict=False)
                       for v in _values(condition, "SourceIpConfig"))
        except ValueError:
            return False
    return False  # a condition this front does not know never matches


def _priority(rule):
    try:
        return int(rule.priority)
    except (TypeError, ValueError):
        return 1 << 30


def rule_actions(listener, request):
    """The actions of the first matching rule (priority order), else the default actions."""
    for _ in range(5):
        try:  # moto's rules may change while they are read (a rule created meanwhile)
            rules = [r for r in list(listener.rules.values())
                     if not getattr(r, "is_default", False)]
            break
        except RuntimeError:
            continue
    else:
        rules = []
    for rule in sorted(rules, key=_priority):
        conditions = rule.conditions or []
        if conditions and all(condition_matches(c, request) for c in conditions):
            return rule.actions
    return listener.default_actions


def terminal_action(actions):
    """The action that answers (after any authenticate-* one, which is skipped locally)."""
    def order(action):
        try:
            return int(action.data.get("Order") or 0)
        except (TypeError, ValueError):
            return 0

    for action in sorted(actions or [], key=order):
        if action.type in ("fixed-response", "redirect", "forward"):
            return action
    return None


def redirect_location(config, request, listener_protocol, listener_port):
    values = {"#{protocol}": listener_protocol.upper(), "#{host}": request.host,
              "#{port}": str(listener_port), "#{path}": request.path[1:],
              "#{query}": request.query}

    def part(key, default):
        text = str(config.get(key) or default)
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    protocol = part("Protocol", "#{protocol}").lower()
    location = f"{protocol}://{part('Host', '#{host}')}:{part('Port', '#{port}')}"
    path = part("Path", "/#{path}")
    location += path if path.startswith("/") else "/" + path
    query = part("Query", "#{query}")
    return location + (f"?{query}" if query else "")
