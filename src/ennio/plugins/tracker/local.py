"""Local tracker: issues are Markdown files with YAML front matter in a folder of the repository.

One file per issue, named ``<number>-<slug>.md`` (``3-add-login.md``) in ``tracker.path``
(default ``.ennio/issues``)::

    ---
    title: Add login
    labels: [auth, ui]
    state: open            # open | closed
    blocked_by: [1]        # numbers of issues to finish first
    created: '2026-01-01T10:00:00Z'
    updated: '2026-01-01T10:00:00Z'
    ---

    The body, in Markdown. Comments are appended under a "## Comments" heading.

New issues take the next number; creating, commenting and closing hold an exclusive ``flock``
on the folder, so concurrent writers (the daemon and a CLI, two CLIs) never share a number nor
lose an edit, and every write replaces the file atomically. Works with no network and no forge.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

import yaml

from ennio import __version__
from ennio.core.config import LocalTrackerConfig, ProjectConfig
from ennio.core.errors import InvalidInput, NotFound, TrackerError
from ennio.core.ids import branch_for_issue, slugify
from ennio.core.plugins import Issue, IssueQuery, IssueState, PluginContext, PluginManifest, Slot

_FILE_RE = re.compile(r"(\d+)(?:-[A-Za-z0-9._-]*)?\.md")
_KEY_RE = re.compile(r"#?(\d+)")
COMMENTS_HEADING = "## Comments"
FRONT_MATTER_HINT = (
    "the file must start with a '---' line, YAML keys (title, labels, state, blocked_by), and a '---' line"
)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_key(key: str) -> int:
    """``"3"`` or ``"#3"`` → 3; anything else is a clear error."""
    match = _KEY_RE.fullmatch(str(key).strip())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(
            f"local issue key {key!r} is not an issue number", hint="local issues are numbered 1, 2, 3 …"
        )
    return int(match.group(1))


@dataclass(slots=True)
class _Document:
    """One issue file: its front matter (keys kept in the author's order) and its body."""

    path: Path
    meta: dict[str, Any]
    body: str

    def render(self) -> str:
        front = yaml.safe_dump(self.meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
        body = self.body.strip("\n")
        return f"---\n{front}---\n" + (f"\n{body}\n" if body else "")


class _IssueFolder:
    """Blocking file operations on the issue folder (run in a thread by :class:`LocalTracker`)."""

    def __init__(self, repo: Path, relative: Path) -> None:
        self.repo = repo
        self.relative = relative
        self.folder = repo / relative

    def display(self, path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(self.repo))
        return str(path)

    # ---------------------------------------------------------------- reading

    def files(self) -> dict[int, Path]:
        """Issue number → file, for every ``<n>-<slug>.md`` in the folder."""
        found: dict[int, Path] = {}
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.iterdir()):
            match = _FILE_RE.fullmatch(path.name)
            if match is None or not path.is_file():
                continue
            number = int(match.group(1))
            if number in found:
                raise TrackerError(
                    f"issues {self.display(found[number])} and {self.display(path)} both have number {number}",
                    hint="rename one of them to an unused number",
                )
            found[number] = path
        return found

    def path_of(self, number: int) -> Path:
        path = self.files().get(number)
        if path is None:
            raise NotFound(
                f"no issue #{number} in {self.relative}", hint="`ennio issue list --state all` shows every issue"
            )
        return path

    def read(self, path: Path) -> _Document:
        where = self.display(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TrackerError(f"{where}: not UTF-8 text", hint="save the issue file as UTF-8") from None
        except OSError as exc:
            raise TrackerError(f"{where}: cannot read: {exc.strerror or exc}") from None
        lines = text.splitlines()
        if not lines or lines[0].strip() != "---":
            raise TrackerError(f"{where}: no front matter", hint=FRONT_MATTER_HINT)
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            raise TrackerError(f"{where}: front matter is not closed by a '---' line", hint=FRONT_MATTER_HINT) from None
        try:
            meta = yaml.safe_load("\n".join(lines[1:end]))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" (line {mark.line + 2})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise TrackerError(
                f"{where}: invalid YAML in the front matter{line}: {problem}", hint=FRONT_MATTER_HINT
            ) from None
        if not isinstance(meta, dict):
            raise TrackerError(f"{where}: the front matter must be YAML keys and values", hint=FRONT_MATTER_HINT)
        return _Document(path, meta, "\n".join(lines[end + 1 :]).strip("\n"))

    def issue(self, number: int, doc: _Document) -> Issue:
        where = self.display(doc.path)
        meta = doc.meta
        title = meta.get("title")
        if not isinstance(title, str) or not title.strip():
            raise TrackerError(f"{where}: 'title' is missing or empty", hint="add a line like `title: Add login`")
        state_raw = str(meta.get("state", "open")).strip().lower()
        try:
            state = IssueState(state_raw)
        except ValueError:
            raise TrackerError(f"{where}: state {meta.get('state')!r} is not open or closed") from None
        return Issue(
            key=str(number),
            title=title.strip(),
            body=doc.body,
            labels=self._strings(where, "labels", meta.get("labels")),
            url=doc.path.resolve().as_uri(),
            state=state,
            assignees=self._strings(where, "assignees", meta.get("assignees")),
            blocked_by=[str(parse_key_in(where, b)) for b in self._list(where, "blocked_by", meta.get("blocked_by"))],
            updated_at=self._time(where, "updated", meta.get("updated"))
            or self._time(where, "created", meta.get("created")),
        )

    @staticmethod
    def _list(where: str, key: str, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, (str, int)):
            return [value]
        if isinstance(value, list):
            return value
        raise TrackerError(f"{where}: {key!r} must be a list, like `{key}: [a, b]`")

    def _strings(self, where: str, key: str, value: Any) -> list[str]:
        items = self._list(where, key, value)
        if not all(isinstance(i, (str, int)) and str(i).strip() for i in items):
            raise TrackerError(f"{where}: {key!r} must be a list of names")
        return [str(i).strip() for i in items]

    @staticmethod
    def _time(where: str, key: str, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        raise TrackerError(f"{where}: {key!r} is not a date and time like 2026-01-31T10:00:00Z")

    def load(self, number: int) -> Issue:
        path = self.path_of(number)
        return self.issue(number, self.read(path))

    def load_all(self) -> list[Issue]:
        return [self.issue(n, self.read(p)) for n, p in sorted(self.files().items())]

    # ---------------------------------------------------------------- writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock on the folder itself (no lock file left in the repository)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def write(self, doc: _Document) -> None:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed into place
            "w", encoding="utf-8", dir=self.folder, prefix=".", suffix=".tmp", delete=False
        )
        try:
            with handle:
                handle.write(doc.render())
            os.replace(handle.name, doc.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
            raise

    def create(self, title: str, body: str, labels: list[str], now: datetime) -> Issue:
        with self.locked():
            number = max(self.files(), default=0) + 1
            slug = slugify(title)
            path = self.folder / (f"{number}-{slug}.md" if slug else f"{number}.md")
            stamp = _timestamp(now)
            meta: dict[str, Any] = {"title": title, "labels": labels, "state": "open", "blocked_by": []}
            meta.update({"created": stamp, "updated": stamp})
            doc = _Document(path, meta, body)
            self.write(doc)
        return self.issue(number, doc)

    def update(
        self, number: int, now: datetime, *, state: IssueState | None = None, comment: str | None = None
    ) -> None:
        with self.locked():
            doc = self.read(self.path_of(number))
            self.issue(number, doc)  # refuse to rewrite a malformed file
            if state is not None:
                doc.meta["state"] = str(state)
            if comment is not None:
                entry = f"### {_timestamp(now)}\n\n{comment.strip()}"
                has_section = any(line.strip() == COMMENTS_HEADING for line in doc.body.splitlines())
                parts = [doc.body] if doc.body else []
                parts += [entry] if has_section else [COMMENTS_HEADING, entry]
                doc.body = "\n\n".join(parts)
            doc.meta["updated"] = _timestamp(now)
            self.write(doc)


def parse_key_in(where: str, value: Any) -> int:
    try:
        return parse_key(str(value))
    except InvalidInput:
        raise TrackerError(f"{where}: blocked_by entry {value!r} is not an issue number") from None


class LocalTracker:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="local",
        slot=Slot.TRACKER,
        version=__version__,
        description="Issues as Markdown files with YAML front matter in the repository",
    )

    def __init__(self, project: ProjectConfig, ctx: PluginContext) -> None:
        settings = project.tracker if project.tracker is not None else LocalTrackerConfig()
        if not isinstance(settings, LocalTrackerConfig):
            raise TrackerError(
                f"project {project.pid!r} uses the {settings.provider} tracker, not local",
                hint="set `tracker: {provider: local}` for this project to keep issues in the repository",
            )
        relative = Path(settings.path)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise TrackerError(
                f"project {project.pid!r}: tracker.path {settings.path!r} must be a folder inside the repository",
                hint="use a relative path such as .ennio/issues",
            )
        self.project = project
        self.ctx = ctx
        self._folder = _IssueFolder(project.path.resolve(), relative)

    @property
    def folder(self) -> Path:
        return self._folder.folder

    async def get_issue(self, key: str) -> Issue:
        number = parse_key(key)
        return await asyncio.to_thread(self._folder.load, number)

    async def list_issues(self, query: IssueQuery) -> list[Issue]:
        issues = await asyncio.to_thread(self._folder.load_all)
        wanted_labels = {label.lower() for label in query.labels}
        selected = [
            issue
            for issue in issues
            if (query.state == "all" or issue.state == query.state)
            and wanted_labels <= {label.lower() for label in issue.labels}
            and (query.assignee is None or query.assignee in issue.assignees)
        ]
        return selected[: query.limit]

    async def issue_states(self, keys: Sequence[str]) -> dict[str, IssueState]:
        """States of the issues that exist; unknown numbers are left out."""
        numbers = {key: parse_key(key) for key in keys}

        def states() -> dict[str, IssueState]:
            files = self._folder.files()
            out: dict[str, IssueState] = {}
            for key, number in numbers.items():
                if number in files:
                    out[key] = self._folder.issue(number, self._folder.read(files[number])).state
            return out

        return await asyncio.to_thread(states)

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        clean_title = title.strip()
        if not clean_title:
            raise InvalidInput("an issue needs a title", hint='give one, e.g. `ennio issue create "Add login"`')
        if "\n" in clean_title or "\r" in clean_title:
            raise InvalidInput("an issue title must be one line", hint="put the details in the body")
        clean_labels = [label.strip() for label in labels]
        if any(not label for label in clean_labels):
            raise InvalidInput("an issue label is empty")
        now = self.ctx.clock.now()
        return await asyncio.to_thread(self._folder.create, clean_title, body, list(dict.fromkeys(clean_labels)), now)

    async def comment(self, key: str, body: str) -> None:
        if not body.strip():
            raise InvalidInput("the comment is empty")
        number = parse_key(key)
        await asyncio.to_thread(self._folder.update, number, self.ctx.clock.now(), comment=body)

    async def close_issue(self, key: str) -> None:
        number = parse_key(key)
        await asyncio.to_thread(self._folder.update, number, self.ctx.clock.now(), state=IssueState.CLOSED)

    def branch_name(self, issue: Issue) -> str:
        return branch_for_issue(issue.key, issue.title)

    def path_of(self, issue: Issue) -> str:
        """The issue file, relative to the repository (as the agent sees it in its worktree)."""
        if issue.url and issue.url.startswith("file:"):
            return self._folder.display(Path(unquote(urlparse(issue.url).path)))
        return str(self._folder.relative / f"{issue.key}.md")

    def prompt_context(self, issue: Issue) -> str:
        lines = [f"Issue #{issue.key}: {issue.title}", f"File: {self.path_of(issue)}"]
        if issue.labels:
            lines.append(f"Labels: {', '.join(issue.labels)}")
        if issue.blocked_by:
            lines.append(f"Blocked by: {', '.join('#' + key for key in issue.blocked_by)}")
        if issue.state is IssueState.CLOSED:
            lines.append("State: closed")
        if issue.body:
            lines += ["", issue.body]
        return "\n".join(lines)
