"""Small I/O helpers shared by the workflow scripts: logging, tables, JSON.

Scripts stay thin: they call :func:`configure_logging` with the rule's log file and hand
paths to the library. Tables are written deterministically (fixed float format, no index,
sorted keys in JSON) so that reruns give byte-identical files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, WriteError

SYNTHETIC_LABEL = "SYNTHETIC virtual experiment"


def configure_logging(log_path: str | os.PathLike | None = None, level=logging.INFO):
    """Log to the rule's log file (and stderr), with timestamps; return the root logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    sys.excepthook = _log_uncaught
    return logging.getLogger("intercluster")


def _log_uncaught(exc_type, exc, tb) -> None:
    """Uncaught exceptions of a rule script go to its log (and stderr); exit status stays 1.

    A user's input problem (:class:`~intercluster.errors.InputError`) and an output
    that could not be written (:class:`~intercluster.errors.WriteError`) are one line, no
    traceback; anything else is logged with its traceback.
    """
    logger = logging.getLogger("intercluster")
    if issubclass(exc_type, InputError | WriteError):
        logger.error("%s", exc)
    else:
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))


@contextlib.contextmanager
def writing(path: str | os.PathLike):
    """Write ``path`` inside this block: a failure to write (disk full, file too large, no
    permission) becomes one :class:`~intercluster.errors.WriteError` line naming the file,
    and what was written of it is removed (nothing partial is left)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(path).unlink(missing_ok=True)
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise WriteError(
            f"{path}: cannot be written ({reason}); nothing of it was kept; free disk space or "
            "fix the folder's permissions and run the same command again"
        ) from None


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike, float_format: str = "%.10g") -> None:
    """Write a tidy table as TSV with a fixed float format (byte-reproducible)."""
    with writing(path):
        frame.to_csv(path, sep="\t", index=False, float_format=float_format,
                     lineterminator="\n")  # fmt: skip


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write a text output (UTF-8)."""
    with writing(path), open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_tsv(path: str | os.PathLike) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write JSON with sorted keys; NaN/inf become null (strict JSON)."""
    with writing(path), open(path, "w", encoding="utf-8") as handle:
        json.dump(_jsonable(data), handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
