"""Patch (issue 15, item 2): a resource's properties are validated against its type's schema,
as CloudFormation validates them before it calls the resource's handler.

moto behaviour replaced:
- `moto.cloudformation.parsing.parse_and_create_resource` and `parse_and_update_resource`
  hand whatever properties the template gives to the model: a property the type does not
  have, or a missing required one, is ignored (or fails later in the model's own code
  with a Python error), and the resource ends CREATE_COMPLETE where AWS fails it.

What runs instead:
- Both are wrapped (outside resource_steps' wrapper): in a stack operation's thread,
  before moto builds the resource, its Properties are checked against the type's registry
  schema, with the intrinsic functions resolved by moto's own `clean_json` against the
  stack's resource map. A violation raises `resource_steps.ResourceFailure`, so the
  resource ends CREATE_FAILED (UPDATE_FAILED when an update changes it) and the stack
  rolls back, with AWS's reason:
  "Properties validation failed for resource <LogicalId> with message: <violations>",
  each violation in the wording of the JSON-schema validator AWS uses:
    "#: extraneous key [Invalid] is not permitted"       (additionalProperties: false)
    "#: required key [Name] not found"                   (required)
    "#/Tags: expected type: JSONArray, found: JSONObject" (type)
  nested ones with their JSON pointer ("#/Tags/0: required key [Value] not found"); more
  than one: "with message:" then one per line, as AWS prints them. (AWS's events also
  show a single one in brackets, "with message: [#: ...]"; the brief form is kept.)

What is checked, kept to what is certain to fail on AWS:
- unknown properties where the schema says additionalProperties: false (patternProperties
  honoured), required properties, at every level of the value;
- JSON types only where a container is involved: an object, an array, or a scalar where
  the schema wants one of the others. Scalars are not checked against each other: AWS
  converts template scalars to the schema's type ("5" for an integer, 5 for a string).
  Types given as a list (e.g. ["object", "string"] for a policy document) are not checked.
- `{"Ref": "AWS::NoValue"}` (directly or through Fn::If) removes the property, as on AWS.
  A value moto cannot resolve (an attribute it does not model, an intrinsic it does not
  know such as Fn::Cidr) is not checked; if resolving raises, the validation is skipped
  and moto's own step reports the error, as before.
- Not validated: custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`:
  their properties are free) and types without a schema. Other JSON-schema keywords
  (enum, pattern, lengths, oneOf/anyOf/allOf, if/then) are not checked: the templates'
  values for them are often only known after resolution by moto's approximations.

The schemas are the registry schemas cfn-lint ships (data/schemas/providers/<region>.json
names each type's file in data/schemas/resources/); cfn-lint is moto[cloudformation]'s
dependency, pinned in requirements/emulator.txt because this layout is cfn-lint 1.x's.
"""
import functools
import json
import re
from pathlib import Path

from emulator.resource_steps import ResourceFailure, in_operation

UNVALIDATED_TYPES = {"AWS::CloudFormation::CustomResource"}
DEFAULT_SCHEMA_REGION = "us-east-1"

# everit-json-schema's names (the validator behind AWS's messages)
EXPECTED_NAMES = {"object": "JSONObject", "array": "JSONArray", "string": "String",
                  "integer": "Integer", "number": "Number", "boolean": "Boolean"}
FOUND_NAMES = {"object": "JSONObject", "array": "JSONArray", "string": "String",
               "integer": "Integer", "number": "BigDecimal", "boolean": "Boolean"}
SCALARS = {"string", "integer", "number", "boolean"}


@functools.lru_cache(maxsize=None)
def _schemas_folder():
    import importlib.util

    # Found, not imported: importing cfnlint loads its whole linter (about half a second).
    package = importlib.util.find_spec("cfnlint")
    return Path(next(iter(package.submodule_search_locations))) / "data" / "schemas"


@functools.lru_cache(maxsize=None)
def _region_index(region):
    folder = _schemas_folder() / "providers"
    path = folder / f"{region}.json"
    if not path.is_file():
        path = folder / f"{DEFAULT_SCHEMA_REGION}.json"
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=None)
def _schema_file(name):
    return json.loads((_schemas_folder() / "resources" / f"{name}.json").read_text())


def resource_schema(resource_type, region):
    """The registry schema of `resource_type` in `region`, or None (custom, or unknown type)."""
    if resource_type.startswith("Custom::") or resource_type in UNVALIDATED_TYPES:
        return None
    name = _region_index(region).get(resource_type)
    return _schema_file(name) if name else None


# -- the check ------------------------------------------------------------------------------

UNKNOWN = object()  # a value moto could not resolve: not checked


def is_intrinsic(value):
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::")


def _is_if(value):
    return is_intrinsic(value) and isinstance(value.get("Fn::If"), list) \
        and len(value["Fn::If"]) == 3


def contains_intrinsic(value):
    if is_intrinsic(value):
        return True
    if isinstance(value, dict):
        return any(contains_intrinsic(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_intrinsic(item) for item in value)
    return False


def dereference(root, schema):
    """`schema`, or what its "$ref" names in `root` ({} when that is not in this schema)."""
    hops = 0
    while isinstance(schema, dict) and "$ref" in schema and hops < 20:
        reference, hops = schema["$ref"], hops + 1
        if not reference.startswith("#/"):
            return {}
        target = root
        for part in reference[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = target
    return schema if isinstance(schema, dict) else {}


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    for python_type, kind in ((str, "string"), (dict, "object"), (list, "array")):
        if isinstance(value, python_type):
            return kind
    return None  # a moto model object, None: nothing to say


class Validation:
    """The violations of one resource's properties.

    `resolve(intrinsic)` gives an intrinsic function's value (or UNKNOWN), and
    `condition(name)` a condition's value (None when unknown: both Fn::If branches are
    then checked, and a property present in one of them counts as maybe present).
    """

    def __init__(self, schema, resolve, condition):
        self.root = schema
        self.resolve = resolve
        self.condition = condition
        self.errors = []

    def run(self, properties):
        self.check(properties, dict(self.root, type="object"), "#")
        return self.errors

    def _branches(self, value):
        """The values an Fn::If may take (both when its condition is unknown)."""
        condition, if_true, if_false = value["Fn::If"]
        taken = self.condition(condition)
        return [if_true] if taken is True else [if_false] if taken is False else [if_true, if_false]

    def presence(self, value):
        """'absent' (null, AWS::NoValue), 'present', or 'maybe' (an unknown Fn::If)."""
        if value is None or value == {"Ref": "AWS::NoValue"}:
            return "absent"
        if _is_if(value):
            states = {self.presence(branch) for branch in self._branches(value)}
            return states.pop() if len(states) == 1 else "maybe"
        return "present"

    def check(self, value, schema, path):
        schema = dereference(self.root, schema)
        if is_intrinsic(value):
            if _is_if(value):
                for branch in self._branches(value):
                    if self.presence(branch) != "absent":
                        self.check(branch, schema, path)
                return
            value = self.resolve(value)
            if value is UNKNOWN or contains_intrinsic(value):
                return
        kind = _kind(value)
        if kind is None:
            return
        expected = schema.get("type")
        if isinstance(expected, str) and expected in EXPECTED_NAMES:
            if not (kind == expected or (kind in SCALARS and expected in SCALARS)):
                self.errors.append(f"{path}: expected type: {EXPECTED_NAMES[expected]}, "
                                   f"found: {FOUND_NAMES[kind]}")
                return
        elif isinstance(expected, list) and kind not in expected and \
                not (kind in SCALARS and SCALARS & set(expected)):
            return  # a mismatch, in a wording not certain: not reported
        if kind == "object":
            self.check_object(value, schema, path)
        elif kind == "array" and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                if self.presence(item) != "absent":
                    self.check(item, schema["items"], f"{path}/{index}")

    def check_object(self, value, schema, path):
        states = {key: self.presence(item) for key, item in value.items()}
        given = [key for key, state in states.items() if state != "absent"]
        properties = schema.get("properties") or {}
        patterns = schema.get("patternProperties") or {}
        for key in schema.get("required") or []:
            if key not in given:
                self.errors.append(f"{path}: required key [{key}] not found")
        for key in given:
            subschema = properties.get(key)
            if subschema is None:
                subschema = next((sub for pattern, sub in patterns.items()
                                  if _matches(pattern, key)), None)
            if subschema is None:
                additional = schema.get("additionalProperties")
                if additional is False:
                    self.errors.append(f"{path}: extraneous key [{key}] is not permitted")
                    continue
                subschema = additional if isinstance(additional, dict) else {}
            self.check(value[key], subschema, f"{path}/{key}")


def _matches(pattern, key):
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # a pattern Python cannot read: assume it allows the key


def property_errors(resource_type, properties, region, resolve=lambda value: UNKNOWN,
                    condition=lambda name: None):
    """The violations of `properties` against the type's schema ([] when valid or unchecked)."""
    schema = resource_schema(resource_type, region)
    if schema is None:
        return []
    return Validation(schema, resolve, condition).run(properties)


def failure_reason(logical_id, errors):
    if len(errors) == 1:
        return f"Properties validation failed for resource {logical_id} with message: {errors[0]}"
    return (f"Properties validation failed for resource {logical_id} with message:\n"
            + "\n".join(errors))


# -- the patch ------------------------------------------------------------------------------


class _CannotResolve(Exception):
    """Resolving a value raised: moto's own step reports that error."""


def _errors_for(logical_id, resource_json, resources_map, region_name):
    from moto.cloudformation.parsing import clean_json

    condition = resource_json.get("Condition")
    try:
        if condition and not resources_map.lazy_condition_map[condition]:
            return []  # not created
    except Exception as exc:  # noqa: BLE001 - an unknown condition: moto's step reports it
        raise _CannotResolve() from exc
    properties = resource_json.get("Properties")
    if properties is None:
        properties = {}

    def resolve(value):
        try:
            resolved = clean_json(value, resources_map)
        except ResourceFailure:
            raise  # a dependency moto created on the way failed: its own failure
        except Exception as exc:  # noqa: BLE001 - left to moto's step, which raises it again
            raise _CannotResolve() from exc
        return UNKNOWN if resolved is None else resolved

    def known_condition(name):
        try:
            return bool(resources_map.lazy_condition_map[name])
        except Exception as exc:  # noqa: BLE001 - as for resolve
            raise _CannotResolve() from exc

    return property_errors(resource_json.get("Type", ""), properties, region_name,
                           resolve, known_condition)


def validate_before_step(original, action):
    """parse_and_create_resource / parse_and_update_resource (`action`: "create" or "update"):
    the properties validated first, in a stack operation's thread (a reader's lookup makes
    nothing: there is nothing to validate)."""

    def step(logical_id, resource_json, resources_map, account_id, region_name):
        errors = []
        if in_operation():
            try:
                errors = _errors_for(logical_id, resource_json, resources_map, region_name)
            except _CannotResolve:
                errors = []
        if errors:
            failure = ResourceFailure(logical_id, resource_json.get("Type"),
                                      failure_reason(logical_id, errors))
            failure.action = action  # a resource an update adds fails its create, as on AWS
            raise failure
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    step.__wrapped__ = original
    return step


def apply():
    from moto.cloudformation import parsing

    parsing.parse_and_create_resource = validate_before_step(parsing.parse_and_create_resource,
                                                             "create")
    parsing.parse_and_update_resource = validate_before_step(parsing.parse_and_update_resource,
                                                             "update")
