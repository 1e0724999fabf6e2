"""What a hostile mappings file cannot do: a regular expression that backtracks for ever,
points too large to store, a file too large to load, nesting too deep, duplicate names. Each
is refused by the check with its file and line, or made harmless when scoring."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from app.mappings.loader import MappingsError, load_mappings
from app.mappings.schemas import ScoringRule
from app.scoring.engine import matches
from app.scoring.patterns import PatternError, compile_pattern
from tests.unit.test_mappings import write

ROOT = Path(__file__).resolve().parents[2]


def refused(folder: Path, file: str, line: int, message: str) -> None:
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    prefix = f"{folder}/{file}:{line}:"
    assert any(e.startswith(prefix) and message in e for e in err.value.errors), (
        f"wanted {prefix} ... {message}\ngot:\n" + "\n".join(err.value.errors)
    )


# -- regular expressions: linear time, Python's meaning --------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^(a+)+$", "a" * 10_000 + "!"),
        ("(a|aa)*b", "a" * 10_000),
        (r"^(\w+\s?)*$", "word " * 2_000 + "!"),
        (r"\b(x+x+)+y\b", "x" * 10_000),
    ],
)
def test_given_an_evil_pattern_when_a_10kb_title_is_scored_then_it_answers_no_match(
    pattern: str, text: str
) -> None:
    rule = ScoringRule(name="r", field="title", op="matches", value=pattern, points=5)
    assert matches(rule, {"title": text}) is False


SHIPPED = [
    r"\b(étudiante?|student|alternante?)\b",
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
    r"@(payfit\.com|lucca\.fr|silae\.fr|cegid\.com)$",
    r"\bintern\b",
]
TEXTS = [
    "une étudiante", "étudiante", "xétudiante", "étudiantes", "Étudiante en RH", "student",
    "studentx", "alternant.", "alternante", "intern", "internal", "l'intern", "intern_",
    "a@b.fr", "a b@c.fr", "a\xa0b@c.fr", "a@b.f", "a@b.FR", "x@payfit.com", "x@payfit.com.fr",
    "", "é", "_", "x\n", "stagiaire, étudiant", "ÉTUDIANT", "\u017ftudent",
]  # fmt: skip


@pytest.mark.parametrize("pattern", SHIPPED)
def test_given_the_shipped_patterns_when_matched_then_they_answer_as_pythons_re(
    pattern: str,
) -> None:
    compiled, reference = compile_pattern(pattern), re.compile(pattern, re.IGNORECASE)
    for text in TEXTS:
        assert compiled.search(text) == (reference.search(text) is not None), text


def test_given_random_texts_when_matched_then_unicode_classes_and_boundaries_as_pythons_re() -> (
    None
):
    patterns = [
        r"\bé", r"é\b", r"\w+\s\d", r"[\W\d]x", r"^.{3}$", r"a.c", r"[^\w]b", r"(ab)*?c",
        r"\b\w{2}\b", r"^\S+$", r"\D\b", r"x|\by", r"^(?:é|_)+$", r"[é-ü]\b",
    ]  # fmt: skip
    alphabet = "aAbcéÉü_ 1٣.-\n\xa0xy"
    rng = random.Random(7)
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 8))) for _ in range(400)]
    for pattern in patterns:
        compiled, reference = compile_pattern(pattern), re.compile(pattern, re.IGNORECASE)
        for text in texts:
            assert compiled.search(text) == (reference.search(text) is not None), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "backreferences"),
        (r"a(?=b)", "lookarounds"),
        (r"(?<!a)b", "lookarounds"),
        (r"(?>a)", "atomic groups"),
        (r"a++", "possessive repeats"),
        (r"(?(1)a|b)", "not a regular expression"),  # no group 1: Python's parser says so
        (r"(a)?(?(1)a|b)", "conditional groups"),
        (r"\Bx", r"\B"),
        (r"(?s)a.b", "inline flags"),
        (r"a{1001}", "refused by the regular expression engine"),
        (r"(", "not a regular expression"),
    ],
)
def test_given_a_pattern_re2_cannot_run_when_compiled_then_refused_saying_why(
    pattern: str, message: str
) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("file", "content", "line"),
    [
        (
            "scoring.yaml",
            "threshold: 10\nrules:\n  - name: r\n    field: title\n    op: matches\n"
            "    value: '(a)\\1'\n    points: 5\n",
            3,
        ),
        (
            "qualification.yaml",
            "rules:\n  - name: q\n    outcome: disqualified\n    when:\n"
            "      - {field: title, op: matches, value: 'a(?=b)'}\n",
            5,
        ),
    ],
)
def test_given_a_backreference_or_lookaround_when_checked_then_file_and_line(
    tmp_path: Path, file: str, content: str, line: int
) -> None:
    refused(write(tmp_path, {file: content}), file, line, "not supported (patterns run in linear")


# -- numbers a score can hold ----------------------------------------------------------------

RULE = "threshold: 10\nrules:\n  - name: r\n    field: title\n    op: eq\n    value: DRH\n"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (RULE + "    points: 99999999999999999999999\n", 7, "points: expected a number <= 100000"),
        (RULE + "    points: -100001\n", 7, "points: expected a number >= -100000"),
        (
            "threshold: 10\nfit:\n  - {name: v, per: views, points: 5, max: 10000000}\n",
            3,
            "fit[0].max: expected a number <= 1000000",
        ),
        ("threshold: 10000000\n" + RULE[14:] + "    points: 5\n", 1, "threshold: expected"),
        (RULE + "    points: 5\nmax_total: 2000000\n", 8, "max_total: expected a number <="),
        (RULE + "    points: 5\ncaps: {fit: 2000000}\n", 8, "caps.fit: expected a number <="),
        (
            RULE + "    points: 5\ndecay: {points_per_month: -1000000}\n",
            8,
            "decay.points_per_month: expected a number >= -100000",
        ),
    ],
)
def test_given_points_or_bounds_beyond_the_limits_when_checked_then_file_and_line(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    fields = "fields:\n  - {field: email, hubspot: email}\n  - {field: views, type: number}\n"
    folder = write(tmp_path, {"scoring.yaml": content, "fields.yaml": fields})
    refused(folder, "scoring.yaml", line, message)


# -- size, rule count, nesting, names, values -------------------------------------------------


def test_given_a_file_over_256_kib_when_loaded_then_refused_before_parsing(tmp_path: Path) -> None:
    rules = "".join(
        f"  - {{name: r{i}, field: title, op: eq, value: x, points: 1}}\n" for i in range(5_000)
    )
    folder = write(tmp_path, {"scoring.yaml": "threshold: 10\nrules:\n" + rules})
    refused(folder, "scoring.yaml", 1, "larger than the 256 KiB a mappings file may be")


@pytest.mark.parametrize(
    ("file", "content"),
    [
        (
            "scoring.yaml",
            "threshold: 10\nrules:\n"
            + "".join(
                f"  - {{name: r{i}, field: title, op: eq, value: x, points: 1}}\n"
                for i in range(1_001)
            ),
        ),
        (
            "qualification.yaml",
            "rules:\n"
            + "".join(
                f"  - {{name: q{i}, outcome: nurture, when: [{{field: title, op: exists}}]}}\n"
                for i in range(1_001)
            ),
        ),
    ],
)
def test_given_more_than_1000_rules_when_checked_then_refused_naming_the_file(
    tmp_path: Path, file: str, content: str
) -> None:
    refused(write(tmp_path, {file: content}), file, 1, "1,001 rules: more than the 1,000")


def nested(depth: int) -> str:
    return "{not: " * depth + "{field: title, op: exists}" + "}" * depth


@pytest.mark.parametrize(
    ("depth", "line", "message"),
    [
        (17, 5, "nested more than 16 deep in one condition"),
        (5_000, 5, "nested more than 48 levels deep"),
    ],
)
def test_given_conditions_nested_too_deep_when_checked_then_refused_with_their_line(
    tmp_path: Path, depth: int, line: int, message: str
) -> None:
    content = (
        "rules:\n  - name: q\n    outcome: nurture\n    when:\n      - " + nested(depth) + "\n"
    )
    folder = write(tmp_path, {"qualification.yaml": content})
    refused(folder, "qualification.yaml", line, message)


def test_given_conditions_nested_16_deep_when_loaded_then_they_hold(tmp_path: Path) -> None:
    content = "rules:\n  - name: q\n    outcome: nurture\n    when:\n      - " + nested(16) + "\n"
    load_mappings(write(tmp_path, {"qualification.yaml": content}))


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (
            "threshold: 10\nfit:\n  - {name: a, field: title, op: eq, value: x, points: 1}\n"
            "  - {name: a, field: title, op: eq, value: y, points: 2}\n",
            4,
        ),
        (
            "threshold: 10\nfit:\n  - {name: a, field: title, op: eq, value: x, points: 1}\n"
            "negative:\n  - {name: a, field: title, op: eq, value: y, points: -2}\n",
            5,
        ),
    ],
)
def test_given_two_rules_with_one_name_when_checked_then_the_second_is_refused(
    tmp_path: Path, content: str, line: int
) -> None:
    folder = write(tmp_path, {"scoring.yaml": content})
    refused(folder, "scoring.yaml", line, "the rule name 'a' is already used by fit[0] (line 3)")


@pytest.mark.parametrize("value", ["{a: 1}", ".nan", "[{a: 1}]"])
def test_given_a_value_of_no_type_when_checked_then_one_clear_error(
    tmp_path: Path, value: str
) -> None:
    content = (
        f"threshold: 10\nfit:\n  - name: a\n    field: title\n    op: eq\n    value: {value}\n"
    )
    folder = write(tmp_path, {"scoring.yaml": content + "    points: 1\n"})
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    about_value = [e for e in err.value.errors if ".value" in e]
    assert len(about_value) == 1, err.value.errors
    assert about_value[0].startswith(f"{folder}/scoring.yaml:6: fit[0].value: expected text, a ")
