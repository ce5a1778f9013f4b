"""The lab's one user-facing error type (light: imported by configs checks and data modules)."""


class ConfigError(ValueError):
    """An invalid configuration or input, caught before training; the message is one sentence
    that names the config key and says how to fix it."""


class MissingDataError(ConfigError, FileNotFoundError):
    """Data files are not where the config says (or are not what they claim to be)."""
