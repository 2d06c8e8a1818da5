"""The bootstrap function's three kinds of failure; each message is safe to show (no secret)."""


class InvalidRequest(ValueError):
    """The event is refused; nothing was done."""


class ConfigurationError(ValueError):
    """The function's environment is wrong; nothing was done."""


class BootstrapError(RuntimeError):
    """The bootstrap failed; the message names what and never carries a secret."""
