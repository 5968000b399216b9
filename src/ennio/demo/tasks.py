"""The sample project's three tasks: the issue, the test that specifies it, the scripted agent's
first (partly wrong) change and its fix. Plain data, shared by the sample and the scripted agent.

Only the standard library is used (the sample's CI is ``python -m unittest``), so the demo needs
nothing installed beyond Ennio itself.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The line in an issue's body that tells the scripted agent which task it is working on.
MARKER = "demo-task:"


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    title: str
    body: str
    #: the module the task implements, relative to the repository
    path: str
    stub: str
    first_try: str
    fixed: str
    test_path: str
    test: str
    #: how long the scripted agent "thinks" at each step, in units of the demo's pace
    effort: float = 1.0

    @property
    def issue_body(self) -> str:
        return f"{self.body}\n\n{MARKER} {self.name}\n"


def _stub(name: str, signature: str, issue: int) -> str:
    return f'def {signature}:\n    raise NotImplementedError("{name}: see issue #{issue}")\n'


def _test(module: str, func: str, cls: str, cases: list[tuple[str, str, object]]) -> str:
    lines = [
        "import unittest",
        "",
        f"from textkit.{module} import {func}",
        "",
        "",
        f"class {cls}(unittest.TestCase):",
        "    def check(self, value, expected):",
        "        try:",
        f"            got = {func}(value)",
        "        except NotImplementedError as exc:",
        '            self.skipTest(f"not implemented yet ({exc})")',
        "        self.assertEqual(got, expected)",
    ]
    for name, value, expected in cases:
        lines += ["", f"    def test_{name}(self):", f"        self.check({value!r}, {expected!r})"]
    return "\n".join(lines) + "\n"


TASKS: tuple[Task, ...] = (
    Task(
        name="slugify",
        title="Add slugify()",
        body="`textkit.slug.slugify(text)` turns a title into a URL slug: lower case, words joined by "
        "dashes, punctuation dropped. `tests/test_slug.py` says exactly what is expected.",
        path="textkit/slug.py",
        stub=_stub("slugify", "slugify(text: str) -> str", 1),
        first_try='def slugify(text: str) -> str:\n    return "-".join(text.lower().split())\n',
        fixed="import re\n\n\ndef slugify(text: str) -> str:\n"
        '    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))\n',
        test_path="tests/test_slug.py",
        test=_test(
            "slug",
            "slugify",
            "SlugifyTest",
            [
                ("joins_lowercase_words", "Hello World", "hello-world"),
                ("squeezes_spaces", "  Many   spaces ", "many-spaces"),
                ("drops_punctuation", "Hello, World!", "hello-world"),
            ],
        ),
    ),
    Task(
        name="word-count",
        title="Add word_count()",
        body="`textkit.words.word_count(text)` counts the words of a text, whatever the whitespace "
        "between them. See `tests/test_words.py`.",
        path="textkit/words.py",
        stub=_stub("word_count", "word_count(text: str) -> int", 2),
        first_try='def word_count(text: str) -> int:\n    return len(text.split(" "))\n',
        fixed="def word_count(text: str) -> int:\n    return len(text.split())\n",
        test_path="tests/test_words.py",
        test=_test(
            "words",
            "word_count",
            "WordCountTest",
            [("counts_words", "one two three", 3), ("empty_text", "", 0), ("runs_of_spaces", "one  two", 2)],
        ),
        effort=1.5,
    ),
    Task(
        name="title-case",
        title="Add title_case()",
        body="`textkit.case.title_case(text)` capitalises the first letter of every word and leaves "
        'the rest alone (so "don\'t" stays "Don\'t"). See `tests/test_case.py`.',
        path="textkit/case.py",
        stub=_stub("title_case", "title_case(text: str) -> str", 3),
        first_try="def title_case(text: str) -> str:\n    return text.title()\n",
        fixed='def title_case(text: str) -> str:\n    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))\n',
        test_path="tests/test_case.py",
        test=_test(
            "case",
            "title_case",
            "TitleCaseTest",
            [("capitalises_words", "hello world", "Hello World"), ("keeps_apostrophes", "don't stop", "Don't Stop")],
        ),
        effort=2.0,
    ),
)


def task_named(name: str) -> Task | None:
    return next((t for t in TASKS if t.name == name), None)


def find_task(text: str) -> Task | None:
    """The task a prompt is about, from its ``demo-task:`` line."""
    for line in text.splitlines():
        if line.strip().startswith(MARKER):
            return task_named(line.strip()[len(MARKER) :].strip())
    return None
