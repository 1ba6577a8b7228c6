"""The error a user's input raises: standard library only, so that every rule's environment
can import it (``from intercluster.errors import InputError``) without the validation
module's dependencies (jsonschema, pandas, yaml).
"""


class InputError(ValueError):
    """A problem with the user's config, sample sheet or data files (one-line message)."""


class WriteError(OSError):
    """An output file that could not be written (disk full, no permission): one line naming
    the file and the system's reason; the partial file is removed."""
