"""Typed, strict reading of one TOML table.

Every getter records the key it consumed; :meth:`Table.finish` then rejects whatever is left,
so a misspelt key fails loudly with its full dotted name and a suggestion.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from event_worker.errors import ConfigError


class _Missing:
    """Sentinel type: the key has no default and is required."""


REQUIRED: Final = _Missing()


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


class Table:
    """A view of one TOML table that knows its dotted path for error messages."""

    def __init__(self, data: Mapping[str, object], path: str = "") -> None:
        self._data = data
        self._path = path
        self._seen: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.key_path(key)}: {message}")

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str, default: object) -> object:
        self._seen.add(key)
        if key in self._data:
            return self._data[key]
        if isinstance(default, _Missing):
            raise self.error(key, "required key is missing")
        return default

    # -- scalar getters --------------------------------------------------------------------

    def string(self, key: str, default: str | _Missing = REQUIRED, *, empty: bool = False) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_describe(value)}")
        if not empty and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def optional_string(self, key: str) -> str | None:
        if key not in self._data:
            self._seen.add(key)
            return None
        return self.string(key)

    def integer(
        self,
        key: str,
        default: int | _Missing = REQUIRED,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_describe(value)}")
        self._check_range(key, value, minimum, maximum)
        return value

    def number(
        self,
        key: str,
        default: float | _Missing = REQUIRED,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_describe(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise self.error(key, f"must be a finite number, got {number}")
        if positive and number <= 0:
            raise self.error(key, f"must be greater than 0, got {value}")
        self._check_range(key, number, minimum, maximum)
        return number

    def boolean(self, key: str, default: bool | _Missing = REQUIRED) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_describe(value)}")
        return value

    def string_list(self, key: str, default: list[str] | _Missing = REQUIRED) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of strings, got {_describe(value)}")
        result: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(
                    f"{key}[{index}]", f"expected a non-empty string, got {_describe(item)}"
                )
            result.append(item)
        return result

    def choice(self, key: str, choices: tuple[str, ...], default: str | _Missing = REQUIRED) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise self.error(
                key, f"unknown value {value!r}; expected one of: {', '.join(sorted(choices))}"
            )
        return value

    def readable_file(self, key: str) -> Path:
        """A path that must name an existing, readable regular file."""
        path = Path(self.string(key))
        if not path.is_absolute():
            raise self.error(key, f"must be an absolute path, got {str(path)!r}")
        if not path.is_file():
            raise self.error(key, f"file {str(path)!r} does not exist or is not a regular file")
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise self.error(key, f"cannot read {str(path)!r}: {exc.strerror}") from None
        return path

    def optional_readable_file(self, key: str) -> Path | None:
        if key not in self._data:
            self._seen.add(key)
            return None
        return self.readable_file(key)

    def secret_file(self, key: str, what: str) -> str:
        """Read a file holding only a secret; the trailing newline is stripped."""
        path = self.readable_file(key)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(key, f"cannot read {what} from {str(path)!r}: {exc}") from None
        secret = text.rstrip("\r\n")
        if not secret:
            raise self.error(key, f"{what} file {str(path)!r} is empty")
        if "\n" in secret:
            raise self.error(key, f"{what} file {str(path)!r} must hold a single line")
        return secret

    # -- nested tables ---------------------------------------------------------------------

    def table(self, key: str, *, required: bool = False) -> Table | None:
        self._seen.add(key)
        if key not in self._data:
            if required:
                raise self.error(key, "required table is missing")
            return None
        value = self._data[key]
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {_describe(value)}")
        return Table(value, self.key_path(key))

    def required_table(self, key: str) -> Table:
        found = self.table(key, required=True)
        if found is None:  # pragma: no cover - table() raised already
            raise self.error(key, "required table is missing")
        return found

    def table_or_empty(self, key: str) -> Table:
        found = self.table(key)
        return found if found is not None else Table({}, self.key_path(key))

    # -- completion ------------------------------------------------------------------------

    def allow(self, *keys: str) -> None:
        """Fail on the first key not in ``keys`` (called first, so a misspelt key is reported
        as unknown rather than its intended name as missing)."""
        self._reject_unknown(set(keys))

    def finish(self) -> None:
        """Fail on the first key that no getter consumed."""
        self._reject_unknown(self._seen)

    def _reject_unknown(self, known: set[str]) -> None:
        for key in self._data:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1)
                suggestion = f" (did you mean {self.key_path(hint[0])!r}?)" if hint else ""
                raise ConfigError(f"{self.key_path(key)}: unknown key{suggestion}")

    def _check_range(
        self, key: str, value: float, minimum: float | None, maximum: float | None
    ) -> None:
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
