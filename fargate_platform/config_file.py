"""One config file's mappings, read key by key: the type and check of each key, its
default, and unknown keys refused, every error naming the file and the key's path."""
import yaml

from fargate_platform.config_model import ConfigError


class Section:
    """Reads one mapping of a config file, tracking the keys it has used."""

    def __init__(self, data, file, path):
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: {path}: expected a mapping, got {type(data).__name__}")
        self.data, self.file, self.path = data, file, path
        self.used = set()

    def where(self, key):
        return f"{self.file}: {self.path}.{key}"

    def get(self, key, kind, default=..., check=None, explain=""):
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise ConfigError(f"{self.where(key)}: required key is missing")
            return default
        value = self.data[key]
        # bool is an int in Python: do not let `port: true` pass as 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"{self.where(key)}: expected {expected}, got {value!r}")
        if check is not None and not check(value):
            raise ConfigError(f"{self.where(key)}: invalid value {value!r}{': ' + explain if explain else ''}")
        return value

    def section(self, key, default=...):
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise ConfigError(f"{self.where(key)}: required key is missing")
            return Section(default, self.file, f"{self.path}.{key}")
        return Section(self.data[key], self.file, f"{self.path}.{key}")

    def finish(self):
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(
                f"{self.where(unknown[0])}: unknown key (known keys: {', '.join(sorted(self.used))})"
            )


class Loader(yaml.SafeLoader):
    """Safe YAML that tolerates Sceptre's tags (!stack_output, !secret...) in config files."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def read_yaml(path):
    try:
        with open(path) as stream:
            return yaml.load(stream, Loader=Loader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def between(low, high):
    return lambda value: low <= value <= high
