"""Stand-ins and checks for notifier tests: a recording notify-send, a recording sleep, signature checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sys
from pathlib import Path


class RecordingSleep:
    """An injectable ``sleep`` that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def install_recording_program(bin_dir: Path, name: str, *, exit_code: int = 0) -> Path:
    """Write an executable ``bin_dir/name`` that appends its argv (one JSON list per line) to a log.

    Returns the log path. Put ``bin_dir`` first on PATH to use it instead of the real program.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = bin_dir / f"{name}.calls.jsonl"
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(record)!r}, 'a', encoding='utf-8') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return record


def recorded_calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line]


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Recomputed independently of the plugin: HMAC-SHA256 over ``timestamp + "." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
