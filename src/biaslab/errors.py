"""The lab's one user-facing error type (light: imported by configs checks and data modules)."""


class ConfigError(ValueError):
    """An invalid configuration or input, caught before training; the message is one sentence
    that names the config key and says how to fix it."""


class MissingDataError(ConfigError, FileNotFoundError):
    """Data files are not where the config says (or are not what they claim to be)."""


def reason_of(err: BaseException, limit: int = 100) -> str:
    """An exception's message cut to its first clause (no sentence break: it goes inside a
    one-sentence error) and `limit` characters."""
    text = (str(err).strip().splitlines() or [""])[0].split(". ")[0].rstrip(".")
    return text[:limit] or type(err).__name__
