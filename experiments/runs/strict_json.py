"""JSON that every reader accepts: non-finite numbers written as strings.

Python's `json` writes inf and NaN as the bare words `Infinity` and `NaN`, which are not
JSON: jq, JavaScript and most other parsers refuse the whole file. Results hold such
values on purpose (σ(x, 1 %) is inf for an image whose error rate never reaches 1 %; a CE
is NaN when the baseline makes no error), so they are written as the strings "inf",
"-inf" and "nan" (what Python's `float()` reads back), and `loads` turns those strings
back into floats.
"""

from __future__ import annotations

import json
import math
from typing import Any

NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _finite_only(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: _finite_only(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(item) for item in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` with inf and NaN as strings; refuses anything else that is not JSON."""
    return json.dumps(_finite_only(value), allow_nan=False, **kwargs)


def _restore(value: Any) -> Any:
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, dict):
        return {key: _restore(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item) for item in value]
    return value


def loads(text: str) -> Any:
    """What `dumps` wrote, the non-finite strings as floats again (bare `Infinity` and
    `NaN` of files written before are read too)."""
    return _restore(json.loads(text))
