"""YAML reading that remembers the line of every key and list item."""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    """The file is not valid YAML (or repeats a key); carries the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map from path to 1-based line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"not valid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            # e.g. an unclosed bracket: the fix is where the construct began
            message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        raise YamlProblem(line, message) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"not valid YAML: {exc}") from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _build(node, (), lines, constructor), lines


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], ctor: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            raw = ctor.construct_object(key_node, deep=True)
            # `yes:` or `1.5:` become text keys, so the model names them as unknown keys
            key: str | int = (
                raw if isinstance(raw, str | int) and not isinstance(raw, bool) else str(raw)
            )
            if key in result:
                raise YamlProblem(
                    key_node.start_mark.line + 1, f"key {key!r} appears twice in the same mapping"
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), lines, ctor)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, ctor) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)


def line_of(lines: dict[Path, int], path: Path, default: int = 1) -> int:
    """The line of ``path``, or of its deepest ancestor present in the file."""
    best = lines.get((), default)
    cur: Path = ()
    for part in path:
        if (*cur, part) in lines:
            cur = (*cur, part)
            best = lines[cur]
        # parts absent from the file (union tags, defaults) are skipped
    return best
