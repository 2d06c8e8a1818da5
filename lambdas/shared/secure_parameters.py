"""SecureStrings both functions keep: generated passwords, and a kept parameter moved to
the current data key (the rds stack retains its key on delete, so a relaunch brings a
new one and the kept credentials are re-encrypted under it: same value, new version).
"""
import secrets

# SSM's alphabet for a parameter path (a leading '/', no empty segment or trailing '/').
SSM_PARAMETER_PATH = r"(/[A-Za-z0-9_.-]+)+"
# A KMS key as SSM takes it: a key ARN or alias ARN, alias/NAME, or a key id.
KMS_KEY_REFERENCE = (
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]{1,64}|alias/[A-Za-z0-9/_-]{1,250})"
    r"|alias/[A-Za-z0-9/_-]{1,250}|(mrk-)?[A-Za-z0-9-]{1,64}"
)

SSM_DEFAULT_KEY_ALIAS = "aws/ssm"


def kms_key_reference(key):
    """('key', id) or ('alias', name) for a key id, key ARN, alias/NAME or alias ARN;
    None for anything else."""
    if not isinstance(key, str) or not key:
        return None
    resource = key.split(":", 5)[5] if key.startswith("arn:") and key.count(":") >= 5 else key
    if resource.startswith("alias/"):
        return ("alias", resource[len("alias/"):])
    if resource.startswith("key/"):
        resource = resource[len("key/"):]
    if resource and "/" not in resource and ":" not in resource:
        return ("key", resource)
    return None


def same_kms_key(first, second):
    """Whether two references name the same KMS key, as far as can be told without
    asking KMS: key ids by their last segment, aliases by name. Mixed or unknown forms
    count as the same key (a needless re-encryption is worse than none), except SSM's
    default key, which is never the configured data key."""
    one, other = kms_key_reference(first), kms_key_reference(second)
    if one is not None and other is not None and one[0] == other[0]:
        return one[1] == other[1]
    default = ("alias", SSM_DEFAULT_KEY_ALIAS)
    return (one == default) == (other == default)


def parameter_key_id(ssm, name):
    """The KeyId SSM reports for a parameter (None if absent or not a SecureString).
    Never decrypts."""
    found = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    ).get("Parameters", [])
    return found[0].get("KeyId") if found else None


def random_password(length, alphabet):
    return "".join(secrets.choice(alphabet) for _ in range(length))


def key_to_move_from(ssm, name, key_id):
    """The key of a kept SecureString when it is not `key_id` (None when it is, or when
    the parameter is absent). Never decrypts."""
    current = parameter_key_id(ssm, name)
    return None if current is None or same_kms_key(current, key_id) else current


def put_under(ssm, name, value, key_id):
    """`value` as the parameter's new version, encrypted under `key_id`; the version."""
    return ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId=key_id, Overwrite=True)["Version"]
