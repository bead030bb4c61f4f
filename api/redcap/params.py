"""REDCap's form parameters as clients send them.

Lists arrive as ``fields[0]=a&fields[1]=b`` (PyCap, REDCapR's metadata call), as one
comma-joined string (REDCapR's record calls), or as repeated keys; booleans as ``true``,
``True``, ``TRUE``, ``1`` (and their opposites); an empty string means "not given".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from cohort.redcap import BadParameter

_INDEXED = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<index>\d*)\]$")
TRUE = frozenset({"true", "1", "yes", "y"})
FALSE = frozenset({"false", "0", "no", "n"})


class Params:
    """The form of one request, read the way REDCap reads it."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._single: dict[str, str] = {}
        self._lists: dict[str, list[tuple[int, str]]] = {}
        for order, (key, value) in enumerate(items):
            match = _INDEXED.match(key)
            if match:
                index = int(match["index"]) if match["index"] else 10_000_000 + order
                self._lists.setdefault(match["name"], []).append((index, value))
            else:
                self._single.setdefault(key, value)
                self._lists.setdefault(key, []).append((10_000_000 + order, value))

    @classmethod
    def of(cls, form: Mapping[str, str] | Sequence[tuple[str, str]]) -> Params:
        items = list(form.items()) if isinstance(form, Mapping) else list(form)
        return cls([(str(k), v if isinstance(v, str) else "") for k, v in items])

    def text(self, name: str, default: str = "") -> str:
        """One value; blank means not given (the default)."""
        value = self._single.get(name, "")
        return value.strip() or default

    def raw(self, name: str) -> str:
        """One value as sent (``data``, ``filterLogic``), blank when missing."""
        return self._single.get(name, "")

    def given(self, name: str) -> bool:
        return bool(self._single.get(name, "").strip())

    def choice(self, name: str, allowed: Sequence[str], default: str) -> str:
        value = self.text(name, default)
        for option in allowed:
            if value.lower() == option.lower():
                return option
        raise BadParameter(f"The value of the parameter \"{name}\" ('{value}') is not valid: "
                           f"use {', '.join(allowed)}.")

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise BadParameter(f"The value of the parameter \"{name}\" ('{self.text(name)}') is "
                           "not valid: use true or false.")

    def items(self, name: str) -> tuple[str, ...]:
        """A list parameter, whichever way it was sent, without blanks or repeats."""
        values = [v for _, v in sorted(self._lists.get(name, []), key=lambda p: p[0])]
        out: list[str] = []
        for value in values:
            for part in value.split(","):
                part = part.strip()
                if part and part not in out:
                    out.append(part)
        return tuple(out)
