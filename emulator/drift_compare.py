"""How drift.py compares a template's properties with a live resource's, as CloudFormation
does: scalars as text after conversion to the registry schema's type ("7" equals 7), objects
key by key, arrays in order unless the schema says insertionOrder: false (then as sets);
each difference a PropertyDifference {PropertyPath, ExpectedValue, ActualValue (text, JSON
for objects, "null" for none), DifferenceType NOT_EQUAL | ADD | REMOVE}. Patches nothing.
"""
import json

from emulator import property_validation


def _property_schema(schema, key):
    additional = schema.get("additionalProperties")
    return (schema.get("properties") or {}).get(
        key, additional if isinstance(additional, dict) else {})


def coerce(value, schema, root):
    """Template and live scalars in the schema's type, as CloudFormation converts them."""
    schema = property_validation.dereference(root, schema)
    expected = schema.get("type")
    if isinstance(value, dict):
        return {key: coerce(item, _property_schema(schema, key), root)
                for key, item in value.items()}
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [coerce(item, items, root) for item in value]
    if isinstance(value, str):
        try:
            if expected == "integer":
                return int(value)
            if expected == "number":
                return float(value) if "." in value else int(value)
        except ValueError:
            return value
        if expected == "boolean" and value.lower() in ("true", "false"):
            return value.lower() == "true"
    return value


def _text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _difference(path, expected, actual, kind):
    return {"PropertyPath": path, "ExpectedValue": _text(expected), "ActualValue": _text(actual),
            "DifferenceType": kind}


def differences(expected, actual, path, schema, root):
    """PropertyDifferences between a template value and the live one, at `path`."""
    schema = property_validation.dereference(root, schema)
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual or actual[key] is None:
                found.append(_difference(f"{path}/{key}", expected[key], None, "REMOVE"))
            elif key not in expected:
                found.append(_difference(f"{path}/{key}", None, actual[key], "ADD"))
            else:
                found += differences(expected[key], actual[key], f"{path}/{key}",
                                     _property_schema(schema, key), root)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if schema.get("insertionOrder") is False:
            return _set_differences(expected, actual, path)
        found = []
        for index in range(max(len(expected), len(actual))):
            if index >= len(actual):
                found.append(_difference(f"{path}/{index}", expected[index], None, "REMOVE"))
            elif index >= len(expected):
                found.append(_difference(f"{path}/{index}", None, actual[index], "ADD"))
            else:
                found += differences(expected[index], actual[index], f"{path}/{index}", items, root)
        return found
    if _text(expected) != _text(actual):
        return [_difference(path, expected, actual, "NOT_EQUAL")]
    return []


def _set_differences(expected, actual, path):
    unmatched = [_text(item) for item in actual]
    found = []
    for index, item in enumerate(expected):
        if _text(item) in unmatched:
            unmatched.remove(_text(item))
        else:
            found.append(_difference(f"{path}/{index}", item, None, "REMOVE"))
    for index, item in enumerate(actual):
        if _text(item) in unmatched:
            unmatched.remove(_text(item))
            found.append(_difference(f"{path}/{index}", None, item, "ADD"))
    return found


def _member_key(item):
    return item.get("PolicyName") if isinstance(item, dict) else _text(item)


def members(expected, actual):
    """The live list's items that are the template's members (by name for policies)."""
    if not isinstance(expected, list) or not isinstance(actual, list):
        return actual
    declared = {_member_key(item) for item in expected}
    return [item for item in actual if _member_key(item) in declared]
