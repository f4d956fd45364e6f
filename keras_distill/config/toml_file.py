"""`RunConfig` as a TOML file: read with the standard library's `tomllib`, written by `dumps`.

A file has the top-level keys (`output`, `verbose`) and one table per section, with the
sections' own field names:

    output = "keras_distill_output"

    [distill]
    alpha = 0.7
    temperature = 4.0

Keys left out take the command's defaults; a key that is not a field is an error naming it.
TOML has no null, so a value that is `None` is left out (every such field defaults to `None`).
Search ranges are written as the command line writes them (`"0,1"`, `"2|8"`), so they read back
as ranges, not as lists of choices.

Example:

>>> flatten({"output": "out", "distill": {"alpha": 0.7}})
{'output': 'out', 'distill.alpha': 0.7}
>>> parse_override("distill.alpha=0.7"), parse_override("data.dataset=mnist1d")
(('distill.alpha', 0.7), ('data.dataset', 'mnist1d'))
"""

import json
import os
import tomllib

from keras_distill import validation


def flatten(table):
    """`{"section": {"field": v}, "top": w}` -> `{"section.field": v, "top": w}`."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            for name, inner in value.items():
                if isinstance(inner, dict):
                    raise validation.invalid("config key", "a section's field, not a table",
                                             f"{key}.{name}")
                flat[f"{key}.{name}"] = inner
        else:
            flat[key] = value
    return flat


def load(path):
    """Reads a config file into `{"section.field": value}`; `command` in it is ignored.

    Raises:
        ValueError: the file is missing or is not valid TOML (with the line).
    """
    path = validation.check_existing_path(path, "config", "a TOML config file")
    if not os.path.isfile(path):
        raise validation.invalid("config", "a TOML file, not a directory", path)
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"Invalid value for argument `config`. Expected a TOML file. "
                         f"Received: config={path!r} ({error})") from None
    table.pop("command", None)
    return flatten(table)


def parse_override(text):
    """`"section.key=value"` -> `("section.key", value)`; the value is read as TOML, or else
    taken as a plain string (so `data.dataset=mnist1d` needs no quotes)."""
    key, sep, raw = text.partition("=") if isinstance(text, str) else ("", "", "")
    if not sep or not key.strip():
        raise validation.invalid("set", "'section.key=value', e.g. 'distill.alpha=0.7'", text)
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # A TOML basic string: JSON's escapes are TOML's.
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"Cannot write {value!r} to TOML")


def _range_text(value):
    if isinstance(value, tuple):
        return f"{value[0]!r},{value[1]!r}"
    if isinstance(value, list):
        return "|".join(repr(v) for v in value)
    return value


def dumps(config):
    """The TOML text of a `RunConfig` (what `keras-distill COMMAND --config` reads back).

    A `tf.distribute.Strategy` object cannot be written: it is left out, with a comment.
    """
    lines = [f"# keras-distill {config.command} --config <this file>", ""]
    tables = {}
    for key, value in config.to_dict(raw=True).items():
        if key == "command":
            continue
        if isinstance(value, dict):
            tables[key] = value
        elif value is not None:
            lines.append(f"{key} = {_value(value)}")
    for name, fields in tables.items():
        lines += ["", f"[{name}]"]
        for field, value in fields.items():
            if name == "tune" and field in ("alpha", "temperature"):
                value = _range_text(value)
            if value is None:
                continue
            if not isinstance(value, (bool, int, float, str, list, tuple)):
                lines.append(f"# {field}: a {type(value).__name__} object, not written")
                continue
            lines.append(f"{field} = {_value(value)}")
    return "\n".join(lines) + "\n"
