"""Text a user types that must follow a pattern, refused in words rather than as a regular
expression ("broker must be one of paper, mt5, ..." instead of "String should match pattern
'^(paper|mt5|...)$'")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


@dataclass(frozen=True)
class Spelled:
    """``Annotated`` metadata of a ``str``: the whole text (after the constraints before it,
    such as stripping) must match ``pattern``. A mismatch is the usual
    ``string_pattern_mismatch`` error, with ``rule`` as its message; the OpenAPI schema shows
    the pattern as ``Field(pattern=...)`` would."""

    pattern: str
    #: What to type, in words; no braces (it is a message template).
    rule: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if compiled.fullmatch(value) is None:
                raise PydanticCustomError(
                    "string_pattern_mismatch", self.rule, {"pattern": self.pattern}
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        shown: JsonSchemaValue = handler(schema)
        shown["pattern"] = self.pattern
        return shown
