# Shared set-up steps for scripts/test, scripts/demo and scripts/install-tools (sourced, not run).
# Works on a fresh Debian machine with only Python, git and access to the package registries.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export UV_PYTHON_DOWNLOADS=never  # use the machine's Python; only the package registries are reachable

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_apt ENTRY...: install the Debian packages that are missing, in one apt-get run.
# An ENTRY is "package" (installed per dpkg) or "package:command" (present when the command is on PATH,
# for tools that may come from elsewhere, like npm with a Node.js from nodesource).
ensure_apt() {
  local entry package command missing=()
  for entry in "$@"; do
    package="${entry%%:*}"
    if [[ "$entry" == *:* ]]; then
      command="${entry#*:}"
      command -v "$command" >/dev/null 2>&1 && continue
    elif [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = "installed" ]; then
      continue
    fi
    missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The Python that runs Ennio: $PYTHON, else python3; 3.11 or newer.
python_bin() {
  local py="${PYTHON:-python3}"
  command -v "$py" >/dev/null 2>&1 || die "$py not found: install Python 3.11 or newer (or set PYTHON)"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "$py is older than 3.11 (set PYTHON to a newer one)"
  command -v "$py"
}

# UV: how to run uv (installed with pip when missing).
ensure_uv() {
  if command -v uv >/dev/null 2>&1; then UV=(uv); return 0; fi
  local py
  py="$(python_bin)"
  if ! "$py" -m uv --version >/dev/null 2>&1; then
    "$py" -m pip --version >/dev/null 2>&1 || ensure_apt python3-pip
    say "pip install uv"
    "$py" -m pip install -q --user uv 2>/dev/null \
      || "$py" -m pip install -q uv 2>/dev/null \
      || "$py" -m pip install -q --user --break-system-packages uv
  fi
  UV=("$py" -m uv)
}

# ensure_venv [EXTRAS]: .venv with Ennio installed (editable) from the pinned constraints.
ensure_venv() {
  local extras="${1:-}" spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  ensure_uv
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "${UV[@]}" venv -q "$VENV" -p "$(python_bin)"
  fi
  say "installing ennio$([ -n "$extras" ] && echo "[$extras]") from constraints.txt"
  (cd "$ROOT" && "${UV[@]}" pip install -q -p "$VENV/bin/python" -c constraints.txt -e "$spec" --compile-bytecode)
}
