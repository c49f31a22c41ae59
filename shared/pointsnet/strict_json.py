"""Request bodies are parsed strictly: a JSON value of the wrong type is refused, never coerced.

Every command model (a request body) uses `COMMAND_CONFIG`: `"5"` is no integer, `1` and
`"yes"` are no boolean, `5` is no string. Powertools validates a body with pydantic's Python
mode on the parsed JSON, where strict mode would also refuse what JSON can only carry as a
string (a date, a time, an enum value, an array for a tuple). Those fields are marked
`Strict(False)` with `NOT_A_NUMBER`, so they are parsed from their string as before while a
JSON number or boolean in their place is still refused.
"""

from __future__ import annotations

from pydantic import BeforeValidator, ConfigDict

COMMAND_CONFIG = ConfigDict(extra="forbid", frozen=True, strict=True)


def _refuse_number(value: object) -> object:
    if isinstance(value, bool | int | float):
        raise ValueError("must be a JSON string, not a number or a boolean")
    return value


# With Strict(False): a field JSON writes as a string, parsed from it, never from a number.
NOT_A_NUMBER = BeforeValidator(_refuse_number)
