"""The regular expressions of ``matches`` conditions, run by RE2: linear time in the text
whatever the pattern, so an admin's ``^(a+)+$`` cannot hang a worker (Python's ``re``
backtracks: that pattern takes seconds on 26 characters and never ends on 10 KB).

The dialect is Python's, as before, less what a linear-time engine cannot do: a pattern is
parsed by Python's own parser, then written out in RE2's syntax with Python's meanings
(Unicode ``\\w``, ``\\d``, ``\\s``, ``\\b``; case ignored). RE2's ``\\b`` only knows ASCII
words, so a pattern with ``\\b`` is matched against the text with a marker at each Unicode
word boundary, which ``\\b`` consumes and every other step may skip. Backreferences,
lookarounds, conditional groups, atomic groups, possessive repeats and ``\\B`` are refused
with a ``PatternError`` saying so (``relais mappings check`` shows it with its line)."""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

import re2

# Python's own parser of its regular expressions (private modules without type stubs).
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

# A noncharacter (never in a CRM's text; removed from it if it is): the word-boundary marker.
MARK = "\ufdd0"
_MARK_RX = r"\x{FDD0}"
_SKIP = f"(?:{_MARK_RX})?"  # after each character the pattern reads: a marker may follow
# Python's classes on text (Unicode): \d is a decimal digit, \w alphanumeric or '_' (letters
# and numbers), \s what str.isspace calls space.
_SPACE = "".join(f"\\x{{{ord(c):X}}}" for c in map(chr, range(0x3001)) if c.isspace())
_CLASSES = {
    sre.CATEGORY_DIGIT: (r"\p{Nd}", False),
    sre.CATEGORY_NOT_DIGIT: (r"\p{Nd}", True),
    sre.CATEGORY_WORD: (r"\p{L}\p{N}_", False),
    sre.CATEGORY_NOT_WORD: (r"\p{L}\p{N}_", True),
    sre.CATEGORY_SPACE: (_SPACE, False),
    sre.CATEGORY_NOT_SPACE: (_SPACE, True),
}
_REFUSED = {
    sre.GROUPREF: "backreferences (\\1, (?P=name))",
    sre.GROUPREF_EXISTS: "conditional groups ((?(1)...))",
    sre.ASSERT: "lookarounds ((?=...), (?<=...))",
    sre.ASSERT_NOT: "lookarounds ((?!...), (?<!...))",
    sre.ATOMIC_GROUP: "atomic groups ((?>...))",
    sre.POSSESSIVE_REPEAT: "possessive repeats (*+, ++, ?+)",
}
_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False
_OPTIONS.never_capture = True
_OPTIONS.log_errors = False  # its refusal is raised (PatternError), not printed


_LINEAR = "not supported (patterns run in linear time, by RE2; see docs/mappings.md)"


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


class PatternError(ValueError):
    """A pattern Relais cannot run in linear time (or not a regular expression at all)."""


class Pattern:
    """A compiled ``matches`` pattern: ``search(text)`` tells whether it occurs in ``text``."""

    __slots__ = ("_marked", "_regexp", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            parsed = sre_parse.parse(pattern, re.IGNORECASE)
        except re.error as exc:
            raise PatternError(f"is not a regular expression: {exc}") from None
        if parsed.state.flags & ~(re.IGNORECASE | re.UNICODE | re.VERBOSE):
            raise PatternError(f"uses inline flags other than (?i) and (?x): {_LINEAR}")
        self._marked = _has_boundary(parsed)
        translated = _sequence(parsed, _SKIP if self._marked else "")
        try:
            self._regexp = re2.compile(translated, _OPTIONS)
        except re2.error as exc:
            raise PatternError(
                f"is refused by the regular expression engine: {_message(exc)}"
            ) from None

    def search(self, text: str) -> bool:
        if self._marked:
            text = _marked(text)
        return self._regexp.search(text) is not None

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"


_BOUNDARY = re.compile(r"\b")  # Python's own \b: zero-width, found in one linear pass


def _marked(text: str) -> str:
    """``text`` with a marker at each Unicode word boundary (Python's ``\\b``)."""
    return _BOUNDARY.sub(MARK, text.replace(MARK, ""))


def _has_boundary(items: Any) -> bool:
    for op, av in items:
        if op is sre.AT and av is sre.AT_BOUNDARY:
            return True
        for sub in av if isinstance(av, tuple | list) else ():
            if isinstance(sub, sre_parse.SubPattern) and _has_boundary(sub):
                return True
            if isinstance(sub, list) and any(
                isinstance(s, sre_parse.SubPattern) and _has_boundary(s) for s in sub
            ):
                return True
    return False


def _char(code: int) -> str:
    return f"\\x{{{code:X}}}"


def _sequence(items: Any, skip: str) -> str:
    return "".join(_item(op, av, skip) for op, av in items)


def _item(op: Any, av: Any, skip: str) -> str:
    """One node of Python's parse tree in RE2's syntax (``skip``: the optional marker)."""
    if op in _REFUSED:
        raise PatternError(f"uses {_REFUSED[op]}: {_LINEAR}")
    if op is sre.LITERAL:
        return _char(av) + skip
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}{_MARK_RX}]" + skip
    if op is sre.ANY:
        return f"[^\\n{_MARK_RX}]" + skip
    if op is sre.IN:
        return _class(av) + skip
    if op is sre.CATEGORY:
        return _class([(op, av)]) + skip
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(b, skip) for b in av[1]) + ")"
    if op is sre.SUBPATTERN:
        _group, add, remove, inner = av
        if (add | remove) & ~(re.IGNORECASE | re.UNICODE):
            raise PatternError(f"uses inline flags other than (?i) and (?x): {_LINEAR}")
        return f"(?:{_sequence(inner, skip)})"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, inner = av
        bound = "" if high is sre.MAXREPEAT else str(high)
        lazy = "?" if op is sre.MIN_REPEAT else ""
        return f"(?:{_sequence(inner, skip)}){{{low},{bound}}}{lazy}"
    if op is sre.AT:
        return _at(av, skip)
    raise PatternError(f"uses {str(op).lower()}: {_LINEAR}")


def _at(where: Any, skip: str) -> str:
    if where in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
        return "^" + skip  # the text may begin with a marker
    if where is sre.AT_END:
        return "\\n?\\z"  # Python's $: the end, or before a newline ending the text
    if where is sre.AT_END_STRING:
        return "\\z"
    if where is sre.AT_BOUNDARY:
        return _MARK_RX
    raise PatternError(f"uses \\B (not at a word boundary): {_LINEAR}")


def _class(items: Any) -> str:
    """A character class: RE2 takes ``\\p{..}`` inside brackets; a negated Python class
    (\\W, \\S, \\D) within a positive one becomes an alternative."""
    negate = bool(items) and items[0][0] is sre.NEGATE
    parts: list[str] = []
    others: list[str] = []
    for op, av in items[1:] if negate else items:
        if op is sre.LITERAL:
            parts.append(_char(av))
        elif op is sre.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is sre.CATEGORY and not _CLASSES[av][1]:
            parts.append(_CLASSES[av][0])
        elif op is sre.CATEGORY and not negate:
            others.append(f"[^{_CLASSES[av][0]}{_MARK_RX}]")
        else:
            raise PatternError(f"uses \\W, \\S or \\D inside a negated class [^...]: {_LINEAR}")
    if negate:
        return f"[^{''.join(parts)}{_MARK_RX}]"
    positive = [f"[{''.join(parts)}]"] if parts else []
    every = positive + others
    return every[0] if len(every) == 1 else f"(?:{'|'.join(every)})"


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` ready to search (case ignored), or PatternError saying why it cannot be."""
    return Pattern(pattern)
