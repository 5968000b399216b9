"""What runtimes type into, and read out of, an agent's terminal."""

from __future__ import annotations

from ennio.plugins.runtime._text import clean_input, strip_terminal


def test_clean_input_keeps_ordinary_text() -> None:
    text = "quotes ' \" ` $(x) ; \\ tab\there\nnew line é 中 😀"
    assert clean_input(text) == text


def test_clean_input_makes_control_characters_harmless() -> None:
    assert clean_input("a\r\nb\rc") == "a\nb\nc"
    assert clean_input("\x03\x1b[201~\x04\x00\x7f\x9b") == "␃␛[201~␄␀␡\ufffd"


def test_strip_terminal() -> None:
    raw = "\x1b[1;31mred\x1b[0m \x1b]0;title\x07plain\x1b(B\r\nprogress 10%\rprogress 99%\nab\bc\x07"
    assert strip_terminal(raw) == "red plain\nprogress 99%\nac"
