"""functions/core/text.py: single-line fields (issue 14 hole 6) and secret comparisons (hole 5)."""

import pytest

from functions.core.text import same_secret, single_line


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Help\r\nBcc: attacker@evil.example", "Help Bcc: attacker@evil.example"),
        ("Help\nBcc: x", "Help Bcc: x"),
        ("Help\rBcc: x", "Help Bcc: x"),
        ("a \r\n\r\n  b", "a b"),
        ("a\tb", "a b"),
        ("a\u0085b", "a b"),  # NEL
        ("a\u2028b\u2029c", "a b c"),  # line and paragraph separators
        ("a\x00\x1b[31mb", "a [31mb"),
        ("\r\nSubject\r\n", "Subject"),
        ("Caf\u00e9 \U0001f4b8 \u05d7\u05e9\u05d1\u05d5\u05df", "Caf\u00e9 \U0001f4b8 \u05d7\u05e9\u05d1\u05d5\u05df"),
        ("two  spaces stay", "two  spaces stay"),
    ],
)
def test_single_line_collapses_every_line_break_and_control_character(given, expected):
    assert single_line(given) == expected
    assert not any(c in single_line(given) for c in "\r\n\t\x85\u2028\u2029")


def test_same_secret_compares_any_text_without_raising():
    assert same_secret("abc", "abc")
    assert not same_secret("\u00e9", "abc")
    assert not same_secret("abc\u00e9", "abc")
    assert same_secret("\u00e9\U0001f4b8", "\u00e9\U0001f4b8")
    assert not same_secret("\udc00", "abc")  # a lone surrogate (what a broken decoder leaves) is just unequal
