"""What a new template and new parameter values change against a stack, as CloudFormation
decides it.

A helper, not a patch (it replaces nothing in moto). It decides, for:
- UpdateStack (cloudformation_fixes.validate_different_update): whether the update changes
  nothing, AWS's "No updates are to be performed.";
- CreateChangeSet (change_sets.py): whether an UPDATE change set "didn't contain changes",
  and which resources it adds, modifies and removes.

- given_parameters: the {key: value} an API call's Parameters give. UsePreviousValue takes
  the value the stack has, which for a parameter the stack was made without is its
  template's Default (AWS keeps every parameter's value); a key the stack's template does
  not declare is refused with AWS's ValidationError.
- no_changes: the same template once parsed (JSON or YAML: formatting, comments and key
  order do not count) and the same parameter values, an omitted one taking its Default.
- resource_changes: Add, Modify (its definition, or a parameter it uses, changed) and
  Remove, from the stack's template.
"""
import json

from emulator.cloudformation_messages import validation_error

NOT_IN_PREVIOUS_TEMPLATE = ("Cannot specify usePreviousValue as true for a parameter key "
                            "not in the previous template")


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _parameter_values(template, given):
    """The value each parameter the template declares takes: given, else its Default."""
    values = {}
    for name, definition in (template.get("Parameters") or {}).items():
        if name in given:
            values[name] = given[name]
        elif isinstance(definition, dict) and "Default" in definition:
            values[name] = _as_text(definition["Default"])
    return values


def _parsed(template):
    from moto.cloudformation.models import Stack

    if isinstance(template, dict):
        return template
    try:
        parsed = Stack.parse_template(template)  # JSON or YAML, CloudFormation's tags read
    except Exception:  # noqa: BLE001 - not a template: a change, the update's check reports it
        return None
    return parsed if isinstance(parsed, dict) else None


def _stack_values(stack):
    """The value of each parameter of the stack's template, as AWS keeps them."""
    if stack is None:
        return {}
    return _parameter_values(_parsed(stack.template) or {}, stack.parameters or {})


def given_parameters(incoming, stack):
    """{key: value} of an API call's Parameters list; UsePreviousValue takes `stack`'s value
    (None for `stack`: there is no previous one)."""
    previous = _stack_values(stack)
    values = {}
    for parameter in incoming or []:
        key = parameter.get("ParameterKey")
        if parameter.get("UsePreviousValue"):
            if key not in previous:
                raise validation_error(NOT_IN_PREVIOUS_TEMPLATE)
            values[key] = previous[key]
        else:
            values[key] = parameter.get("ParameterValue")
    return values


def no_changes(stack, template, parameters):
    """True when `template` and `parameters` ({key: value}) are what `stack` has: the same
    parsed template (formatting and key order aside) and the same parameter values."""
    old, new = _parsed(stack.template), _parsed(template)
    if old is None or new is None or old != new:
        return False
    return _parameter_values(old, stack.parameters or {}) == _parameter_values(new, parameters)


def _uses(definition, parameter):
    text = json.dumps(definition)
    return json.dumps({"Ref": parameter}) in text or "${" + parameter + "}" in text


def resource_changes(stack, template, parameters):
    """moto Changes: what `template` with `parameters` adds, modifies (its definition, or a
    parameter it uses, changed) and removes, from the stack's template."""
    from moto.cloudformation.models import Change

    old_template, new_template = _parsed(stack.template) or {}, _parsed(template) or {}
    old, new = old_template.get("Resources") or {}, new_template.get("Resources") or {}
    old_values = _parameter_values(old_template, stack.parameters or {})
    new_values = _parameter_values(new_template, parameters)
    changed = [key for key in {**old_values, **new_values} if old_values.get(key) != new_values.get(key)]
    return ([Change("Add", name, new[name].get("Type")) for name in new if name not in old]
            + [Change("Modify", name, new[name].get("Type")) for name in new if name in old and (
                old[name] != new[name] or any(_uses(new[name], key) for key in changed))]
            + [Change("Remove", name, old[name].get("Type")) for name in old if name not in new])
