"""Fake LLM servers on 127.0.0.1 that speak the real wire formats the agent CLIs use.

One :class:`ModelServer` answers all three APIs, by path:

- ``POST /v1/messages`` — Anthropic Messages API (Claude Code), streamed as SSE when ``stream`` is set
  (``message_start``, ``content_block_start/delta/stop``, ``message_delta``, ``message_stop``), with
  ``text`` and ``tool_use`` blocks;
- ``POST /v1/chat/completions`` — OpenAI Chat Completions (aider, OpenCode), streamed or not, with
  ``tool_calls``;
- ``POST /v1/responses`` — OpenAI Responses API streamed as Codex reads it (``response.created``,
  ``response.output_item.added/done``, ``response.output_text.delta``, ``response.completed``), with
  ``function_call`` items.

Replies are scripted with :class:`Reply` values that are API-neutral (text, tool calls, an HTTP error);
each request takes the next reply from the first matching :class:`Rule`, else the default reply.
Every request is recorded. A reply may ``hold`` its stream half-way until the test releases it, which
is how tests catch an agent's "working" screen without sleeping.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANTHROPIC = "anthropic"
CHAT = "chat"
RESPONSES = "responses"

_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", None),
    429: ("insufficient_quota", "insufficient_quota"),
    500: ("server_error", None),
}


@dataclass
class ToolCall:
    """A call the model asks the agent to make (Anthropic ``tool_use``, OpenAI ``tool_calls``/``function_call``)."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: "call_" + uuid.uuid4().hex[:20])


@dataclass
class Reply:
    """One scripted answer, rendered in whichever API the request came in."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: non-200 answers with that API's error body instead
    status: int = 200
    error_message: str = "scripted error"
    #: extra response headers (e.g. ``retry-after``)
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int = 120
    output_tokens: int = 30
    cache_read_tokens: int = 0
    #: when set, the stream stops after its first text chunk until the event is set
    hold: threading.Event | None = None
    #: text chunk size when streaming
    chunk: int = 12


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api: str | None

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    def text(self) -> str:
        """All the text of the request body (for 'did the prompt reach the model' checks)."""
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class Rule:
    """Requests for which ``match`` is true take their replies from ``replies`` (then ``default``)."""

    match: Callable[[RecordedRequest], bool]
    replies: list[Reply] = field(default_factory=list)
    default: Reply | None = None


def _api_of(path: str) -> str | None:
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/messages"):
        return ANTHROPIC
    if path.endswith("/chat/completions"):
        return CHAT
    if path.endswith("/responses"):
        return RESPONSES
    return None


class ModelServer:
    """A scripted model server on 127.0.0.1 (random port), run in a thread. Use as a context manager."""

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None, model: str = "fake-model"):
        self.model = model
        self.rules: list[Rule] = []
        self.replies: list[Reply] = list(replies)
        self.default = default if default is not None else Reply(text="OK.")
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ModelServer:
        handler = type("Handler", (_Handler,), {"model_server": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="model-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without ``/v1`` (what ``ANTHROPIC_BASE_URL`` wants)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        """Base URL with ``/v1`` (what OpenAI clients want)."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ scripting

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def rule(self, match: Callable[[RecordedRequest], bool], *replies: Reply, default: Reply | None = None) -> Rule:
        rule = Rule(match, list(replies), default)
        with self._lock:
            self.rules.append(rule)
        return rule

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._changed.notify_all()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._changed.notify_all()
            for rule in self.rules:
                if rule.match(request):
                    if rule.replies:
                        return rule.replies.pop(0)
                    if rule.default is not None:
                        return rule.default
            return self.replies.pop(0) if self.replies else self.default

    # ------------------------------------------------------------------ inspection

    def fetches(self, path_prefix: str) -> list[RecordedRequest]:
        """GET/HEAD requests for paths under ``path_prefix`` (pages an agent fetched, not model calls)."""
        with self._lock:
            return [r for r in self.requests if r.method in ("GET", "HEAD") and r.path.startswith(path_prefix)]

    def api_requests(self, api: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.api is not None and (api is None or r.api == api)]

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 30.0, what: str = "a request"
    ) -> RecordedRequest:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for r in self.requests:
                    if predicate(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{r.method} {r.path}" for r in self.requests]
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; seen: {seen}")
                self._changed.wait(left)

    def wait_for_text(self, needle: str, timeout: float = 30.0) -> RecordedRequest:
        """The first model request whose body contains ``needle``."""
        return self.wait_for_request(
            lambda r: r.api is not None and needle in r.text(), timeout, what=f"a model request containing {needle!r}"
        )

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{uuid.uuid4().hex[:16]}"


# ---------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    model_server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        self.model_server._record(RecordedRequest("GET", self.path, dict(self.headers), None, None))
        if path.endswith("/models"):
            model = self.model_server.model
            self._json(
                200, {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "ennio"}]}
            )
        else:
            self._json(404, {"error": {"message": f"no route {path}", "type": "not_found_error"}})

    def do_HEAD(self) -> None:
        self.model_server._record(RecordedRequest("HEAD", self.path, dict(self.headers), None, None))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        api = _api_of(self.path)
        if api == ANTHROPIC and self.path.split("?", 1)[0].rstrip("/").endswith("/count_tokens"):
            api = None
        request = RecordedRequest("POST", self.path, dict(self.headers), body, api)
        if api is None:
            self.model_server._record(request)
            if "count_tokens" in self.path:
                self._json(200, {"input_tokens": 100})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found_error"}})
            return
        reply = self.model_server._next_reply(request)
        if reply.status != 200:
            self._error(api, reply)
            return
        srv = self.model_server
        model = body.get("model", srv.model) if isinstance(body, dict) else srv.model
        stream = request.stream
        if api == ANTHROPIC:
            if stream:
                self._sse(_anthropic_events(srv, reply, model), reply)
            else:
                self._json(200, _anthropic_message(srv, reply, model))
        elif api == CHAT:
            if stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._sse(_chat_chunks(srv, reply, model, include_usage), reply, named=False, done=True)
            else:
                self._json(200, _chat_completion(srv, reply, model))
        else:
            self._sse(_responses_events(srv, reply, model), reply)

    # ------------------------------------------------------------------ writers

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, api: str, reply: Reply) -> None:
        if api == ANTHROPIC:
            kind = _ANTHROPIC_ERRORS.get(reply.status, "api_error")
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": reply.error_message}}
        else:
            kind, code = _OPENAI_ERRORS.get(reply.status, ("server_error", None))
            payload = {"error": {"message": reply.error_message, "type": kind, "param": None, "code": code}}
        self._json(reply.status, payload, reply.headers)

    def _sse(self, events: Iterator[tuple[str, Any]], reply: Reply, *, named: bool = True, done: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            for name, data in events:
                if name == "_hold":
                    if reply.hold is not None:
                        reply.hold.wait()
                    continue
                text = (f"event: {name}\n" if named else "") + f"data: {json.dumps(data)}\n\n"
                self.wfile.write(text.encode())
                self.wfile.flush()
            if done:
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _text_pieces(reply: Reply) -> Iterator[tuple[str, str]]:
    """Text chunks, with a ``_hold`` marker after the first one."""
    for i, piece in enumerate(_chunks(reply.text, reply.chunk)):
        yield "piece", piece
        if i == 0:
            yield "_hold", ""


# ---------------------------------------------------------------------- Anthropic


def _anthropic_usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": reply.cache_read_tokens,
        "output_tokens": reply.output_tokens,
        "service_tier": "standard",
    }


def _anthropic_message(srv: ModelServer, reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append({"type": "tool_use", "id": _toolu(call), "name": call.name, "input": call.arguments})
    return {
        "id": srv.new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply),
    }


def _toolu(call: ToolCall) -> str:
    return call.id if call.id.startswith("toolu_") else "toolu_" + call.id.removeprefix("call_")


def _anthropic_events(srv: ModelServer, reply: Reply, model: str) -> Iterator[tuple[str, Any]]:
    start_usage = _anthropic_usage(reply) | {"output_tokens": 1}
    message = {
        "id": srv.new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    yield "message_start", {"type": "message_start", "message": message}
    index = 0
    if reply.text:
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        yield "ping", {"type": "ping"}
        for kind, piece in _text_pieces(reply):
            if kind == "_hold":
                yield "_hold", None
                continue
            delta = {"type": "text_delta", "text": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        index = 1
    elif reply.hold is not None:
        yield "_hold", None
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": _toolu(call), "name": call.name, "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        args = json.dumps(call.arguments)
        for piece in _chunks(args, 40):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    stop = "tool_use" if reply.tool_calls else "end_turn"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


# ---------------------------------------------------------------------- OpenAI Chat Completions


def _chat_usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens},
    }


def _chat_completion(srv: ModelServer, reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in reply.tool_calls
        ]
    return {
        "id": srv.new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": _chat_usage(reply),
    }


def _chat_chunks(srv: ModelServer, reply: Reply, model: str, include_usage: bool) -> Iterator[tuple[str, Any]]:
    cid = srv.new_id("chatcmpl")
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[str, Any]:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return "chunk", body

    yield chunk({"role": "assistant", "content": ""})
    if reply.text:
        for kind, piece in _text_pieces(reply):
            if kind == "_hold":
                yield "_hold", None
            else:
                yield chunk({"content": piece})
    elif reply.hold is not None:
        yield "_hold", None
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield chunk({"tool_calls": [head]})
        for piece in _chunks(json.dumps(call.arguments), 40):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if include_usage:
        yield (
            "chunk",
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _chat_usage(reply),
            },
        )


# ---------------------------------------------------------------------- OpenAI Responses (Codex)


def _responses_events(srv: ModelServer, reply: Reply, model: str) -> Iterator[tuple[str, Any]]:
    rid = srv.new_id("resp")
    seq = itertools.count()
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model, "output": []}
    yield (
        "response.created",
        {"type": "response.created", "sequence_number": next(seq), "response": base | {"status": "in_progress"}},
    )
    yield (
        "response.in_progress",
        {"type": "response.in_progress", "sequence_number": next(seq), "response": base | {"status": "in_progress"}},
    )
    output: list[dict[str, Any]] = []
    index = 0
    if reply.text:
        mid = srv.new_id("msg")
        item = {"id": mid, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        yield (
            "response.output_item.added",
            {"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0, "item": item},
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        yield (
            "response.content_part.added",
            {
                "type": "response.content_part.added",
                "sequence_number": next(seq),
                "item_id": mid,
                "output_index": 0,
                "content_index": 0,
                "part": part,
            },
        )
        for kind, piece in _text_pieces(reply):
            if kind == "_hold":
                yield "_hold", None
                continue
            yield (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(seq),
                    "item_id": mid,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                },
            )
        done_part = {"type": "output_text", "text": reply.text, "annotations": []}
        yield (
            "response.output_text.done",
            {
                "type": "response.output_text.done",
                "sequence_number": next(seq),
                "item_id": mid,
                "output_index": 0,
                "content_index": 0,
                "text": reply.text,
            },
        )
        yield (
            "response.content_part.done",
            {
                "type": "response.content_part.done",
                "sequence_number": next(seq),
                "item_id": mid,
                "output_index": 0,
                "content_index": 0,
                "part": done_part,
            },
        )
        done_item = item | {"status": "completed", "content": [done_part]}
        yield (
            "response.output_item.done",
            {"type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0, "item": done_item},
        )
        output.append(done_item)
        index = 1
    elif reply.hold is not None:
        yield "_hold", None
    for call in reply.tool_calls:
        fid = srv.new_id("fc")
        args = json.dumps(call.arguments)
        item = {
            "id": fid,
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.id,
            "name": call.name,
            "arguments": "",
        }
        yield (
            "response.output_item.added",
            {"type": "response.output_item.added", "sequence_number": next(seq), "output_index": index, "item": item},
        )
        yield (
            "response.function_call_arguments.delta",
            {
                "type": "response.function_call_arguments.delta",
                "sequence_number": next(seq),
                "item_id": fid,
                "output_index": index,
                "delta": args,
            },
        )
        yield (
            "response.function_call_arguments.done",
            {
                "type": "response.function_call_arguments.done",
                "sequence_number": next(seq),
                "item_id": fid,
                "output_index": index,
                "arguments": args,
            },
        )
        done_item = item | {"status": "completed", "arguments": args}
        yield (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": next(seq),
                "output_index": index,
                "item": done_item,
            },
        )
        output.append(done_item)
        index += 1
    usage = {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": reply.cache_read_tokens},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    final = base | {"status": "completed", "output": output, "usage": usage}
    yield "response.completed", {"type": "response.completed", "sequence_number": next(seq), "response": final}
