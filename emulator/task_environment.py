"""A local task's secrets, as the ECS agent resolves them with the execution role (the role's
start is decided first, task_start.py): SSM parameters from moto's SSM, decrypted."""


def secrets_of(container, account, region):
    from moto.ssm.models import ssm_backends

    values = {}
    for secret in container.get("secrets") or []:
        source = secret["valueFrom"]
        if ":secretsmanager:" in source:
            raise LookupError(f"Secrets Manager secret {source}: not emulated locally")
        name = source.split(":parameter", 1)[1] if source.startswith("arn:") else source
        parts = source.split(":")
        backend = ssm_backends[parts[4] if source.startswith("arn:") else account][
            parts[3] if source.startswith("arn:") else region]
        try:
            parameter = backend.get_parameter(name)
        except Exception:  # noqa: BLE001
            parameter = None
        if parameter is None:
            raise LookupError(f"unable to retrieve secret from ssm: ParameterNotFound: {name}")
        value = parameter.value
        if parameter.parameter_type == "SecureString":
            value = parameter.decrypt(value)
        values[secret["name"]] = value
    return values
