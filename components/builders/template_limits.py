"""Bounds on what one template operation may build, so no template exhausts time or memory.

Jinja2's sandbox keeps a template away from Python's internals, not from the machine: `{{ 7 **
123456789 }}` computes a number of 350 million bits, `{{ "x" * 10**10 }}` allocates 10 GB, and
Jinja2 folds such constant expressions while it *compiles*, so merely loading a YAML file that
holds one hangs `ragrun validate`. Each of those is one C call that holds the GIL: no thread
can interrupt it, so it must be refused before it starts. ragrun's sandbox therefore

- intercepts `**`, `*`, `%` and `+` (`intercepted_binops`, which also stops Jinja2 from folding
  them at compile time) and refuses, before computing it, a result over the limits below;
- bounds `~` (the concatenation operator) and every concatenation of a template's output
  (`environment.concat`: a render, a macro's body, a `{% set %}` block);
- bounds the filters and globals that take a size (`center`, `indent`, `format`, `batch`,
  `slice`, `replace`, `join`, `wordwrap`, `lipsum`; `range` is Jinja2's, at most 100,000
  items), the string methods that do (`center`, `ljust`, `rjust`, `zfill`, `expandtabs`,
  `replace`, `join`, `format`, `format_map`) and `int.to_bytes`;
- checks every call's result (macros included) against the same size limit;
- at compile time, evaluates the constant operands of those operators with the same bounds,
  so a bomb written in a template is a `TemplateSyntaxError` naming its line
  (`check_constants`), in milliseconds.

Integers above `MAX_INT_BITS` and strings or lists above `MAX_SIZE` are refused; Python's own
4300-digit limit already bounds `int("...")` and `str(n)`. Time is bounded separately: a loop
can run long without any single operation being large (`template_deadline.py`).
"""

from __future__ import annotations

import functools
import operator
import re
import string
from collections.abc import Callable, Sized
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join
from jinja2.utils import generate_lorem_ipsum

MAX_SIZE = 10_000_000
"""The most characters (or items) one operation may build, and one render may output."""
MAX_INT_BITS = 14_000
"""The largest integer a template may compute (about 4200 digits, so it can still be printed)."""
MAX_SLICES = 100_000
"""The most pieces `slice` may cut (as many as Jinja2's sandbox lets `range` count)."""
BOUNDED_BINOPS = frozenset({"**", "*", "%", "+"})
"""The binary operators the sandbox intercepts."""

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "%": operator.mod,
    "+": operator.add,
}
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SEQUENCES = (str, list, tuple)


class TemplateLimitError(RuntimeError):
    """A template operation would build something larger than the sandbox allows."""


def bounded_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right`, refused before it is computed when the result would be too large."""
    if op == "**":
        _check_power(left, right)
    elif op == "*":
        _check_product(left, right)
    elif op == "%":
        _check_printf(left, right)
    elif op == "+":
        _check_sum(left, right)
    return _BINOPS[op](left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent < 0 or abs(base) < 2:
        return  # float powers overflow at once; negative exponents give floats
    bits = exponent * (abs(base).bit_length() - 1)
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(
            f"{_number(base)} ** {_number(exponent)} would be an integer of about {bits} bits; "
            f"templates may compute integers of at most {MAX_INT_BITS} bits"
        )


def _number(value: int) -> str:
    return str(value) if value.bit_length() <= 64 else f"<a {value.bit_length()}-bit integer>"


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise TemplateLimitError(
                f"a product of about {bits} bits; templates may compute integers of at most "
                f"{MAX_INT_BITS} bits"
            )
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, _SEQUENCES) and _is_int(count):
            check_size(len(sequence) * count, f"repeating a {type(sequence).__name__}")


def _check_sum(left: Any, right: Any) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        check_size(len(left) + len(right), "joining two values with +")


def _check_printf(template: Any, values: Any) -> None:
    if isinstance(template, str):
        check_format_widths(template, printf=True)


def check_size(size: int, what: str) -> None:
    """Refuse `what` when it would hold more than `MAX_SIZE` characters or items."""
    if size > MAX_SIZE:
        raise TemplateLimitError(
            f"{what} would build {size:,} characters or items; a template operation may "
            f"build at most {MAX_SIZE:,}"
        )


def check_format_widths(template: str, *, printf: bool) -> None:
    """Refuse a `%` or `str.format` template whose field widths add up past `MAX_SIZE`, or that
    takes a width from its arguments (`%*d`, `{:{w}}`), which cannot be checked beforehand."""
    total = 0
    if printf:
        for width, precision in _PRINTF_FIELD.findall(template):
            if "*" in (width, precision):
                raise TemplateLimitError("'%*' takes its width from the values; give a number")
            total += int(width or 0) + int(precision or 0)
    else:
        try:
            fields = [spec for _, _, spec, _ in string.Formatter().parse(template) if spec]
        except ValueError:
            return  # not a valid format string: str.format will say so itself
        for spec in fields:
            if "{" in spec:
                raise TemplateLimitError(
                    "a format field takes its width from the values ({:{w}}); give a number"
                )
            total += sum(int(number) for number in re.findall(r"\d+", spec))
    check_size(total, "the field widths of a format string")


def check_result(value: Any) -> Any:
    """`value`, unless it is a string or container over `MAX_SIZE` (then refused)."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_SIZE:
        check_size(len(value), "a call")
    return value


def bounded_join(autoescape: bool, items: tuple[Any, ...]) -> str:
    """The `~` operator: its operands joined as text, within `MAX_SIZE`."""
    if autoescape:
        return check_result(markup_join(items))
    parts = [str(item) for item in items]
    check_size(sum(map(len, parts)), "joining with ~")
    return "".join(parts)


def bounded_concat(pieces: Any) -> str:
    """A render's output (or a macro's, or a block's) joined, within `MAX_SIZE` in all."""
    kept = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > MAX_SIZE:
            check_size(size, "the template's output")
        kept.append(piece)
    return "".join(kept)


def counted(pieces: Any) -> Any:
    """The pieces of a native render, refused once their text passes `MAX_SIZE` in all."""
    size = 0
    for piece in pieces:
        if isinstance(piece, str):
            size += len(piece)
            if size > MAX_SIZE:
                check_size(size, "the template's output")
        yield piece


# -- calls: string methods ------------------------------------------------------------------


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a call of a string method (or `int.to_bytes`) that would build
    too much."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str):
        check = _STR_METHODS.get(name)
        if check is not None:
            check(owner, *args, **kwargs)
    elif _is_int(owner) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if _is_int(length):
            check_size(length, "int.to_bytes")


def _width_check(method: str) -> Callable[..., None]:
    def check(text: str, width: Any = 0, *_: Any, **__: Any) -> None:
        if _is_int(width):
            check_size(max(len(text), width), f"str.{method}")

    return check


def _expandtabs_check(text: str, tabsize: Any = 8, **_: Any) -> None:
    if _is_int(tabsize):
        check_size(len(text) + text.count("\t") * tabsize, "str.expandtabs")


def _replace_check(text: str, old: Any = "", new: Any = "", count: Any = -1, **_: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        found = text.count(old) if old else len(text) + 1
        if _is_int(count) and count >= 0:
            found = min(found, count)
        check_size(len(text) + found * (len(new) - len(old)), "str.replace")


def _join_check(separator: str, items: Any = (), *_: Any, **__: Any) -> None:
    if isinstance(items, Sized):
        check_size(len(separator) * max(len(items) - 1, 0), "str.join")


def _format_check(template: str, *_: Any, **__: Any) -> None:
    check_format_widths(template, printf=False)


_STR_METHODS: dict[str, Callable[..., None]] = {
    "center": _width_check("center"),
    "ljust": _width_check("ljust"),
    "rjust": _width_check("rjust"),
    "zfill": _width_check("zfill"),
    "expandtabs": _expandtabs_check,
    "replace": _replace_check,
    "join": _join_check,
    "format": _format_check,
    "format_map": _format_check,
}


# -- filters and globals --------------------------------------------------------------------


def _guarded(name: str, check: Callable[..., None]) -> Callable[..., Any]:
    """Jinja2's filter `name`, preceded by `check` and followed by a size check of its result.

    The wrapper keeps the filter's `pass_context`/`pass_eval_context`/`pass_environment` mark
    (copied by `functools.wraps`), so Jinja2 passes it the same first argument, which `check`
    does not see.
    """
    original = FILTERS[name]
    passes_first = getattr(original, "jinja_pass_arg", None) is not None

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(*(args[1:] if passes_first else args), **kwargs)
        return check_result(original(*args, **kwargs))

    return guarded


def _center_filter(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    if _is_int(width):
        check_size(width, "the center filter")


def _indent_filter(text: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    lines = str(text).count("\n") + 1
    pad = width if _is_int(width) else len(str(width))
    check_size(len(str(text)) + lines * pad, "the indent filter")


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        check_format_widths(value, printf=True)


def _batch_filter(value: Any, linecount: Any = 1, *_: Any, **__: Any) -> None:
    if _is_int(linecount):
        check_size(linecount, "the batch filter")


def _slice_filter(value: Any, slices: Any = 1, *_: Any, **__: Any) -> None:
    if _is_int(slices) and slices > MAX_SLICES:
        raise TemplateLimitError(f"the slice filter may cut at most {MAX_SLICES} slices")


def _replace_filter(text: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    _replace_check(str(text), old, new, -1 if count is None else count)


def _join_filter(value: Any, d: Any = "", *_: Any, **__: Any) -> None:
    if isinstance(value, Sized) and isinstance(d, str):
        check_size(len(d) * max(len(value) - 1, 0), "the join filter")


def _wordwrap_filter(text: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    if isinstance(wrapstring, str) and _is_int(width):
        lines = len(str(text)) // max(width, 1) + 1
        check_size(len(str(text)) + lines * len(wrapstring), "the wordwrap filter")


BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": _guarded("center", _center_filter),
    "indent": _guarded("indent", _indent_filter),
    "format": _guarded("format", _format_filter),
    "batch": _guarded("batch", _batch_filter),
    "slice": _guarded("slice", _slice_filter),
    "replace": _guarded("replace", _replace_filter),
    "join": _guarded("join", _join_filter),
    "wordwrap": _guarded("wordwrap", _wordwrap_filter),
}
"""Jinja2's sized filters, bounded; the sandbox installs them over the originals."""


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja2's `lipsum` global, with at most 100 paragraphs of at most 1000 words."""
    if n > 100 or max > 1000:
        raise TemplateLimitError("lipsum makes at most 100 paragraphs of at most 1000 words")
    return generate_lorem_ipsum(n, html, min, max)


# -- compile time ----------------------------------------------------------------------------


def check_constants(tree: nodes.Template, eval_ctx: nodes.EvalContext) -> None:
    """Evaluate the constant operands of the bounded operators and filters, with the bounds.

    Jinja2 no longer folds the intercepted operators, so a bomb written in the template would
    otherwise surface only when it renders (and never in `ragrun validate`).

    Raises:
        TemplateSyntaxError: an operation on constants breaks a bound (its line named).
    """
    for node in tree.find_all((nodes.BinExpr, nodes.Filter)):
        try:
            if isinstance(node, nodes.BinExpr) and node.operator in BOUNDED_BINOPS:
                _fold(node, eval_ctx)
            elif isinstance(node, nodes.Filter) and node.name in BOUNDED_FILTERS:
                node.as_const(eval_ctx)
        except TemplateLimitError as exc:
            raise _at_line(exc, node.lineno) from None
        except nodes.Impossible as exc:  # not constant, or a filter that refused (the cause)
            if isinstance(exc.__cause__, TemplateLimitError):
                raise _at_line(exc.__cause__, node.lineno) from None
        except Exception:  # constants that fail otherwise (1 / 0) fail when rendered, as usual
            pass


def _at_line(exc: TemplateLimitError, line: int) -> TemplateSyntaxError:
    return TemplateSyntaxError(f"line {line} of the template: {exc}", line)


def _fold(node: nodes.Expr, eval_ctx: nodes.EvalContext) -> Any:
    """The constant value of `node`, its bounded operators evaluated with the bounds."""
    if isinstance(node, nodes.BinExpr) and node.operator in BOUNDED_BINOPS:
        return bounded_binop(node.operator, _fold(node.left, eval_ctx), _fold(node.right, eval_ctx))
    return node.as_const(eval_ctx)
