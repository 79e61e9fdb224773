from collections.abc import Callable, Sequence
from typing import Any

def rows_text(parts: tuple[str, ...], columns: tuple[Sequence[Any], ...], text: Callable[[Any], str],
              texts: dict[Any, str], sep: str = "", widths: tuple[int, ...] | None = None,
              raw_str: bool = False, rstrip: bool = False) -> str: ...
