"""Reading the user's text files (sample sheets, config and system YAML) defensively.

* Every text file is read as UTF-8 (a byte-order mark, as Excel and Notepad write one, is
  dropped); text with a UTF-16 byte-order mark (Excel's "Unicode Text") is read as UTF-16.
  A file in another encoding is refused with one line naming the file, the line and the
  byte offset of the first byte that is not UTF-8, instead of a ``UnicodeDecodeError``
  traceback.
* YAML is loaded with PyYAML's safe loader plus two bounds PyYAML itself does not have: the
  document size (:data:`MAX_YAML_BYTES`) and the size of the document with its aliases
  expanded (:data:`MAX_YAML_NODES`). PyYAML shares the node an alias points to, so a
  "billion laughs" document (nine aliases of nine aliases ...) loads in microseconds, but
  every consumer that walks it (the schema validator, ``copy.deepcopy``, ``repr`` in an
  error message) walks the expanded tree: 10^9 nodes, minutes and gigabytes. Counting the
  expanded nodes of the composed graph (memoised per node, so the count itself is cheap)
  refuses such a file before anything walks it.
* :func:`quote` shortens a value quoted in an error message: a 5 MB string in a file must
  not become a 5 MB error line.

Standard library and PyYAML only (PyYAML is imported where YAML is read).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_NODES", "load_yaml", "quote", "read_text"]

#: A config or a system file is a few kB; 1 MB leaves room for long comments and tables.
MAX_YAML_BYTES = 1_000_000
#: Scalars, sequences and mappings after alias expansion: far above any real config (the
#: shipped config/config.yaml has ~600) and far below what makes a validator walk for seconds.
MAX_YAML_NODES = 100_000
#: Characters of a value shown in an error message.
QUOTE_CHARS = 80


def quote(value) -> str:
    """``repr(value)``, cut to its first :data:`QUOTE_CHARS` characters plus "… (N characters)"."""
    text = repr(value)
    if len(text) <= QUOTE_CHARS:
        return text
    return f"{text[:QUOTE_CHARS]}… ({len(text)} characters)"


def decode(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped), or one line naming the
    byte offset where it is not UTF-8. Text with a UTF-16 byte-order mark (what Excel's
    "Unicode Text" writes) is read as UTF-16."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{where}: not UTF-16 text after its UTF-16 byte-order mark (byte offset "
                f"{exc.start}); expected a UTF-8 file"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data[:offset].count(b"\n") + 1
        raise InputError(
            f"{where}, line {line}: not UTF-8 text (byte 0x{data[offset]:02x} at byte offset "
            f"{offset}); expected a UTF-8 file (save it with the encoding UTF-8)"
        ) from None


def read_text(path: str | os.PathLike, where: str | None = None,
              max_bytes: int | None = None) -> str:  # fmt: skip
    """The file's text (UTF-8, see :func:`decode`); ``max_bytes``: refuse a larger file."""
    where = where or str(path)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{where}: file not found")
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise InputError(
            f"{where}: {path.stat().st_size} bytes; expected at most {max_bytes} bytes for this "
            "kind of file (a text file this large is not a config or system file)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    return decode(data, where)


def _expanded_nodes(root, limit: int) -> int:
    """Nodes of the composed YAML graph with every alias expanded; stops counting past
    ``limit``. Memoised per node: a node shared by aliases is counted once per use, but its
    subtree is walked once."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a recursive alias (a node inside itself) counts once here
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
                if total > limit:
                    break
        sizes[key] = total
        return total

    return size(root)


def load_yaml(path: str | os.PathLike, where: str | None = None):
    """A YAML file read as UTF-8 and loaded with PyYAML's safe loader, within the bounds above.

    Raises :class:`InputError` with one line for a file that is not UTF-8, larger than
    :data:`MAX_YAML_BYTES`, not valid YAML or larger than :data:`MAX_YAML_NODES` nodes once
    its aliases are expanded.
    """
    import yaml

    where = where or str(path)
    text = read_text(path, where, max_bytes=MAX_YAML_BYTES)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(f"{where}: not valid YAML ({first_line})") from None
    if root is None:
        return None
    n_nodes = _expanded_nodes(root, MAX_YAML_NODES)
    if n_nodes > MAX_YAML_NODES:
        raise InputError(
            f"{where}: more than {MAX_YAML_NODES} YAML nodes once its aliases (*name) are "
            "expanded; refused, because every check would walk the expanded document (a file "
            "of repeated aliases can grow beyond any memory); write the values out instead"
        )
    loader = yaml.SafeLoader(text)
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(f"{where}: not valid YAML ({first_line})") from None
    finally:
        loader.dispose()


def yaml_line(path: str | os.PathLike, keys) -> int | None:
    """The line (1-based) of the value at ``keys`` (a path of mapping keys and sequence
    indices) in a YAML file, None where it cannot be found (for messages only)."""
    import yaml

    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if getattr(k, "value", None) == str(key)]
            if not found:
                return None
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return node.start_mark.line + 1 if node is not None else None
