"""Find, read and validate ``ennio.yaml``.

Errors always name the file, the line and the key path, with a suggestion for a misspelt key
or provider; the loader never lets anything but a :class:`ConfigError` escape.

Size: over 400 lines because reading YAML with line numbers, ``${VAR}`` expansion and one-line errors
with did-you-mean belong together: every error needs all three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ennio.core.errors import ConfigError, EnnioError

if TYPE_CHECKING:
    import yaml
    from pydantic import ValidationError

    from ennio.core.config import EnnioConfig

# PyYAML, pydantic and the config models are imported inside the functions that need them: building
# the models takes ~150 ms, and read-only commands (`ennio status`) only need the storage settings,
# often without parsing anything.

CONFIG_NAMES = ("ennio.yaml", "ennio.yml", ".ennio.yaml")
CONFIG_ENV = "ENNIO_CONFIG"

_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MAX_DEPTH = 64
#: values built from one file, aliases expanded (a "billion laughs" file stops here)
_MAX_VALUES = 100_000

PathKey = tuple[str | int, ...]
_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_UNION_TAGS = frozenset({"github", "linear", "local", "desktop", "slack", "webhook", "apprise"})


@dataclass
class LoadedConfig:
    config: EnnioConfig
    path: Path | None
    #: line (1-based) of each key path in the file
    lines: dict[PathKey, int] = field(default_factory=dict)


def find_config(start: Path | None = None) -> Path | None:
    """``$ENNIO_CONFIG``, else the first ennio.yaml / ennio.yml / .ennio.yaml walking up from ``start``."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """``${VAR}`` and ``${VAR:-default}`` (default when unset or empty); ``$$`` is a literal ``$``."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value == "":
            return ""
        raise _MissingVar(name)

    return _VAR_RE.sub(repl, text)


class _MissingVar(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _path_str(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


class _Builder:
    """Turns a composed YAML node tree into plain data, expanding ``${VAR}`` and recording lines."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.lines: dict[PathKey, int] = {}
        import yaml

        self.constructor = yaml.constructor.SafeConstructor()
        self.active: set[int] = set()
        self.count = 0

    def build(self, node: yaml.Node, path: PathKey = ()) -> Any:
        import yaml

        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        self.count += 1
        if self.count > _MAX_VALUES:
            raise ConfigError(
                f"too many values (more than {_MAX_VALUES:,} once aliases are expanded)",
                file=self.file,
                line=line,
                key=_path_str(path),
            )
        if len(path) > _MAX_DEPTH:
            raise ConfigError("nesting is too deep", file=self.file, line=line, key=_path_str(path))
        if id(node) in self.active:
            raise ConfigError("an alias refers to itself", file=self.file, line=line, key=_path_str(path))
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
            raise ConfigError(f"unsupported YAML tag {node.tag!r}", file=self.file, line=line, key=_path_str(path))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        import yaml

        own_count = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        # `<<: *anchor` merge keys: flattening puts the merged pairs first; the mapping's own keys
        # come after them and override them, as YAML specifies
        self.constructor.flatten_mapping(node)
        merged_count = len(node.value) - own_count
        out: dict[str, Any] = {}
        own_keys: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "keys must be plain text", file=self.file, line=key_node.start_mark.line + 1, key=_path_str(path)
                )
            key = str(self.constructor.construct_object(key_node))
            if index >= merged_count:
                if key in own_keys:
                    raise ConfigError(
                        f"key {key!r} appears twice",
                        file=self.file,
                        line=key_node.start_mark.line + 1,
                        key=_path_str(path),
                    )
                own_keys.add(key)
            if key in out:  # a merged value being replaced: forget the lines recorded under it
                sub = (*path, key)
                for recorded in [p for p in self.lines if p[: len(sub)] == sub]:
                    del self.lines[recorded]
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, (*path, key))
        return out

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag == "tag:yaml.org,2002:str" and isinstance(node.value, str) and "$" in node.value:
            try:
                return expand_vars(node.value, self.env)
            except _MissingVar as missing:
                raise ConfigError(
                    f"environment variable {missing.name} is not set",
                    hint=f"export {missing.name}=… or write ${{{missing.name}:-default}}",
                    file=self.file,
                    line=node.start_mark.line + 1,
                    key=_path_str(path),
                ) from None
        return self.constructor.construct_object(node, deep=True)


def parse_yaml(text: str, file: str, env: Mapping[str, str] | None = None) -> tuple[Any, dict[PathKey, int]]:
    import yaml

    """Parse YAML text into plain data plus a line map; every problem is a :class:`ConfigError`."""
    builder = _Builder(file, os.environ if env is None else env)
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        data = builder.build(node) if node is not None else {}
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    return data, builder.lines


def load_config(path: Path | None = None, *, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load the config at ``path`` (or the one found from the working directory).

    With no file at all, an empty configuration is returned (Ennio runs on defaults).
    """
    if path is None:
        path = find_config()
        if path is None:
            from ennio.core.config import EnnioConfig

            return LoadedConfig(EnnioConfig(), None)
    text = _read(path)
    return load_config_text(text, file=str(path), base_dir=path.resolve().parent, env=env, path=path)


def _read(path: Path) -> str:
    file = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found", file=file, hint="run `ennio init` to write a starter configuration"
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a configuration file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=file) from None


def load_config_text(
    text: str,
    *,
    file: str = "ennio.yaml",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> LoadedConfig:
    from pydantic import ValidationError

    from ennio.core.config import EnnioConfig

    data, lines = _parse_top(text, file, env)
    try:
        config = EnnioConfig.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, data, lines, file) from None
    except EnnioError as exc:
        raise ConfigError(exc.message, hint=exc.hint, file=file) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise ConfigError(str(exc), file=file) from None
    if base_dir is not None:
        for project in config.projects:
            if not project.path.is_absolute():
                project.path = (base_dir / project.path).resolve()
        if config.data_dir is not None and not config.data_dir.is_absolute():
            config.data_dir = (base_dir / config.data_dir).resolve()
    return LoadedConfig(config, path, lines)


# --------------------------------------------------------------------------- error explanation


def _parse_top(text: str, file: str, env: Mapping[str, str] | None) -> tuple[dict[str, Any], dict[PathKey, int]]:
    data, lines = parse_yaml(text, file, env)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys (server:, projects:, …)", file=file, line=1)
    return data, lines


# --------------------------------------------------------------------------- storage settings only


_STORAGE_KEY_RE = re.compile(r"database_url|data_dir")
_COMMENT_LINE_RE = re.compile(r"^[ \t]*#.*$", re.MULTILINE)


@dataclass(frozen=True)
class StorageSettings:
    """Where the database is: all that read-only commands need from the configuration."""

    #: ``database_url`` as written (after ``${VAR}`` expansion); ``None`` means SQLite in ``data_dir``
    database_url: str | None
    #: ``data_dir`` from the file (``~`` expanded, relative to the file's folder), or ``None``
    data_dir: Path | None
    path: Path | None


def load_storage_settings(path: Path | None = None, *, env: Mapping[str, str] | None = None) -> StorageSettings:
    """Read only ``database_url`` and ``data_dir``, without validating the rest of the file.

    Same discovery, ``${VAR}`` expansion and path rules as :func:`load_config`, at a fraction of
    its start-up cost (no pydantic). Other keys are not checked here: commands that use them load
    the whole configuration and report its problems.
    """
    if path is None:
        path = find_config()
        if path is None:
            return StorageSettings(None, None, None)
    file = str(path)
    text = _read(path)
    if not _STORAGE_KEY_RE.search(_COMMENT_LINE_RE.sub("", text)):
        return StorageSettings(None, None, path)  # neither key is set: no need to parse YAML at all
    data, lines = _parse_top(text, file, env)

    def text_value(key: str) -> str | None:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise ConfigError(f"must be text, not {type(value).__name__}", file=file, line=lines.get((key,)), key=key)

    url = text_value("database_url")
    raw_dir = text_value("data_dir")
    data_dir = None
    if raw_dir is not None:
        data_dir = Path(raw_dir).expanduser()
        if not data_dir.is_absolute():
            data_dir = (path.resolve().parent / data_dir).resolve()
    return StorageSettings(url, data_dir, path)


def _real_path(loc: tuple[Any, ...], data: Any) -> tuple[PathKey, tuple[Any, ...]]:
    """Split a pydantic ``loc`` into the part that exists in the data and the rest.

    Union tags and validator names in ``loc`` are skipped.
    """
    path: list[str | int] = []
    current = data
    rest: list[Any] = []
    for part in loc:
        in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif isinstance(part, str) and (part in _UNION_TAGS or "[" in part or part.startswith("function-")):
            continue
        else:
            rest.append(part)
    return tuple(path), tuple(rest)


def _line_for(path: PathKey, lines: dict[PathKey, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            return line
    return None


def _schema_keys(path: PathKey) -> list[str]:
    """Known keys at ``path`` (for "did you mean" on unknown keys), from the JSON Schema."""
    from ennio.core.config import EnnioConfig

    schema = EnnioConfig.model_json_schema()
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return resolve(defs[node["$ref"].split("/")[-1]])
        options = node.get("anyOf") or node.get("oneOf")
        if options:
            out: list[dict[str, Any]] = []
            for option in options:
                out += resolve(option)
            return out
        return [node]

    nodes = resolve(schema)
    for part in path:
        nxt: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(part, int) and "items" in node:
                nxt += resolve(node["items"])
            elif isinstance(part, str):
                if part in node.get("properties", {}):
                    nxt += resolve(node["properties"][part])
                elif isinstance(node.get("additionalProperties"), dict):
                    nxt += resolve(node["additionalProperties"])
        nodes = nxt
    keys: set[str] = set()
    for node in nodes:
        keys |= set(node.get("properties", {}))
    return sorted(keys)


def _explain(exc: ValidationError, data: Any, lines: dict[PathKey, int], file: str) -> ConfigError:
    from ennio.core.config import suggest

    errors = exc.errors(include_url=False)
    messages: list[tuple[str, int | None, str]] = []
    for err in errors:
        path, rest = _real_path(tuple(err["loc"]), data)
        kind = err["type"]
        ctx = err.get("ctx") or {}
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "extra_forbidden" and path:
            key = str(path[-1])
            hint = suggest(key, _schema_keys(path[:-1]))
            msg = f"unknown key {key!r}" + (f" — did you mean {hint!r}?" if hint else "")
        elif kind == "union_tag_invalid":
            tag = str(ctx.get("tag", ""))
            expected = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            if discriminator and path and isinstance(data_at(data, path), dict):
                path = (*path, discriminator)
            hint = suggest(tag, expected)
            msg = f"unknown {tag!r}" + (
                f" — did you mean {hint!r}?" if hint else f"; choose one of: {', '.join(expected)}"
            )
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            given = data_at(data, path)
            hint = suggest(str(given), expected) if isinstance(given, str) else None
            msg = f"unknown {given!r}" + (
                f" — did you mean {hint!r}?" if hint else f"; choose one of: {', '.join(expected)}"
            )
        elif kind == "missing":
            missing = rest[0] if rest else (path[-1] if path else "")
            if rest:
                path = (*path, *(r for r in rest if isinstance(r, (str, int))))
            msg = f"required key {missing!r} is missing"
        elif kind == "union_tag_not_found":
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            msg = f"needs a {discriminator!r} key"
        messages.append((_path_str(path), _line_for(path, lines), msg))
    # an unknown key usually explains the other errors (a misspelt required key), so it goes first
    order = sorted(range(len(errors)), key=lambda i: errors[i]["type"] != "extra_forbidden")
    messages = [messages[i] for i in order]
    key, line, msg = messages[0]
    more = len(messages) - 1
    error = ConfigError(
        msg,
        file=file,
        line=line,
        key=None if key == "(top level)" else key,
        hint=f"{more} more problem{'s' if more > 1 else ''} in this file; run `ennio config validate`"
        if more
        else None,
    )
    error.problems = [f"{file}:{ln}: {k}: {m}" if ln else f"{file}: {k}: {m}" for k, ln, m in messages]
    return error


def data_at(data: Any, path: PathKey) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current
