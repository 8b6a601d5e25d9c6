#!/usr/bin/env bash
# Interop check: real, MIT-licensed PubNub SDKs nobody here wrote (Python
# freenub 0.1.2 = pubnub-python 7.2.0, npm pubnub 7.3.3) against the
# pubnub-dev-server binary.
#
# usage: tests/interop/run.sh [CASE...]
#   CASE is a file name in tests/interop/cases/ without `.py`; default: all.
#
# Installs the pinned SDKs into a temporary directory (venv + `npm ci`),
# builds the dev server and starts two of them on free ports (an open one, and
# one with Access Manager on: subscribe, publish and secret key given), runs
# every case (each in its own process, with a time limit), stops both servers
# and prints `N passed, M failed`. Exits non-zero on any failure or setup
# error. Logs go to the temporary directory and are printed only for what
# failed.
#
# Environment:
#   INTEROP_KEEP=1          keep the temporary directory (its path is printed)
#   INTEROP_CACHE_DIR=DIR   reuse the venv / node_modules installed in DIR
#                           (for local iteration; CI leaves it unset)
#   INTEROP_CASE_TIMEOUT=S  seconds per case (default 120)
#   INTEROP_PYTHON=PATH     the Python to build the venv with (default python3.11 or python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/interop"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pubnub-interop.XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
CASE_TIMEOUT="${INTEROP_CASE_TIMEOUT:-120}"
# The Access Manager server's keyset: the cases get these through the environment.
PAM_SUBSCRIBE_KEY="sub-c-pam-interop"
PAM_PUBLISH_KEY="pub-c-pam-interop"
PAM_SECRET_KEY="sec-c-pam-interop"
SERVER_PIDS=()
CASE_PID=""

stop_servers() {
    local pid running=()
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            # Ctrl-C is the binary's graceful stop: parked polls are answered.
            kill -INT "$pid" 2>/dev/null || true
            running+=("$pid")
        fi
    done
    for pid in "${running[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "interop: dev server $pid did not stop on SIGINT within 10s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

cleanup() {
    if [[ -n "$CASE_PID" ]] && kill -0 "$CASE_PID" 2>/dev/null; then
        # `timeout` passes the TERM on to the case; its agents end when their stdin closes.
        kill -TERM "$CASE_PID" 2>/dev/null || true
        wait "$CASE_PID" 2>/dev/null || true
    fi
    stop_servers
    if [[ "${INTEROP_KEEP:-}" == 1 ]]; then
        echo "interop: logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'echo "interop: interrupted" >&2; exit 130' INT
trap 'echo "interop: terminated" >&2; exit 143' TERM

setup_failed() {
    local what="$1" log="$2"
    echo "interop: setup failed: $what" >&2
    if [[ -f "$log" ]]; then
        echo "--- $log" >&2
        tail -n 60 "$log" >&2
    fi
    exit 1
}

step() {
    # step LOGNAME DESCRIPTION COMMAND...: runs quietly, shows the log on failure.
    local log="$LOGS/$1.log" what="$2"
    shift 2
    "$@" >"$log" 2>&1 || setup_failed "$what" "$log"
}

# --- Python SDK -----------------------------------------------------------
BASE_PYTHON="${INTEROP_PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[[ -n "$BASE_PYTHON" ]] || setup_failed "no python3.11 / python3 on PATH" /dev/null
ENVS="${INTEROP_CACHE_DIR:-$WORK}"
mkdir -p "$ENVS"
VENV="$ENVS/venv"
if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s "$HERE/requirements.txt" "$VENV/.interop-requirements"; then
    rm -rf "$VENV"
    step venv "creating a venv with $BASE_PYTHON" "$BASE_PYTHON" -m venv "$VENV"
    step pip "pip install -r tests/interop/requirements.txt" \
        "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
        -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$VENV/.interop-requirements"
fi
PYTHON="$VENV/bin/python"
step pip-check "freenub 0.1.2 is not importable as pubnub" \
    "$PYTHON" -c 'import importlib.metadata as m, pubnub.pubnub_asyncio; assert m.version("freenub") == "0.1.2", m.version("freenub")'

# --- JavaScript SDK -------------------------------------------------------
NODE="$(command -v node || true)"
[[ -n "$NODE" ]] || setup_failed "node is not on PATH" /dev/null
command -v npm >/dev/null || setup_failed "npm is not on PATH" /dev/null
NODE_DIR="$ENVS/node"
if [[ ! -d "$NODE_DIR/node_modules/pubnub" ]] || ! cmp -s "$HERE/package-lock.json" "$NODE_DIR/package-lock.json"; then
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
    step npm "npm ci (pubnub 7.3.3)" \
        npm ci --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
fi
step npm-check "pubnub 7.3.3 is not installed" \
    env NODE_PATH="$NODE_DIR/node_modules" "$NODE" -e \
    'const v = require("pubnub/package.json").version; if (v !== "7.3.3") throw new Error("pubnub " + v);'

# --- dev server -----------------------------------------------------------
step cargo-build "cargo build --features server --bin pubnub-dev-server" \
    cargo build --manifest-path "$ROOT/Cargo.toml" --features server --bin pubnub-dev-server \
    --message-format=json-render-diagnostics
# The executable cargo built for target $1, read from its JSON messages in $2.
artifact() {
    "$PYTHON" -c '
import json, sys
for line in open(sys.argv[2]):
    if not line.startswith("{"):
        continue
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["target"]["name"] == sys.argv[1]:
        print(msg["executable"])
' "$1" "$2"
}
SERVER_BIN="$(artifact pubnub-dev-server "$LOGS/cargo-build.log")"
[[ -x "$SERVER_BIN" ]] || setup_failed "cargo did not report the pubnub-dev-server executable" "$LOGS/cargo-build.log"
# pubnub-rx's own agent (tests/interop/rs/agent.rs), for the cases where our
# client and the official ones exchange data (files).
step cargo-build-agent "cargo build --example interop_agent" \
    cargo build --manifest-path "$ROOT/Cargo.toml" --example interop_agent \
    --message-format=json-render-diagnostics
RS_AGENT_BIN="$(artifact interop_agent "$LOGS/cargo-build-agent.log")"
[[ -x "$RS_AGENT_BIN" ]] || setup_failed "cargo did not report the interop_agent executable" "$LOGS/cargo-build-agent.log"

start_server() {
    # start_server LOG [OPTION...]: starts the binary on a free port in the
    # background (its pid goes to SERVER_PIDS) and prints the origin once the
    # server answers /time/0.
    local log="$1"
    shift
    # pubnub_rx=debug logs one line per answered request (method, path, query, status).
    NO_COLOR=1 "$SERVER_BIN" --host 127.0.0.1 --port 0 --log warn,pubnub_rx=debug "$@" >"$log" 2>&1 &
    local pid=$!
    SERVER_PIDS+=("$pid")
    # The binary prints `... use origin HOST:PORT with ssl=false` once it listens;
    # then /time/0 must answer.
    "$PYTHON" - "$log" "$pid" <<'EOF'
import json, os, re, sys, time, urllib.request
log, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
origin = None
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the dev server exited before it listened")
    if origin is None:
        with open(log) as f:
            match = re.search(r"use origin (\S+) with ssl=false", f.read())
        if match:
            origin = match.group(1)
    if origin is not None:
        try:
            with urllib.request.urlopen(f"http://{origin}/time/0", timeout=2) as r:
                body = json.loads(r.read())
            if isinstance(body, list) and len(str(body[0])) == 17:
                print(origin)
                sys.exit(0)
        except OSError:
            pass
    time.sleep(0.05)
sys.exit("the dev server did not answer /time/0 within 30s")
EOF
}

SERVER_LOG="$LOGS/server.log"
PAM_SERVER_LOG="$LOGS/server-access-manager.log"
# Called directly, not in $(...), so that SERVER_PIDS keeps the pid (the
# cleanup trap stops every server in it); the origin comes back through a file.
start_server "$SERVER_LOG" >"$WORK/origin" || setup_failed "the dev server did not come up" "$SERVER_LOG"
ORIGIN="$(<"$WORK/origin")"
# Access Manager on: data calls need a grant, admin calls a signature.
start_server "$PAM_SERVER_LOG" --subscribe-key "$PAM_SUBSCRIBE_KEY" --publish-key "$PAM_PUBLISH_KEY" \
    --secret-key "$PAM_SECRET_KEY" >"$WORK/pam-origin" \
    || setup_failed "the Access Manager dev server did not come up" "$PAM_SERVER_LOG"
PAM_ORIGIN="$(<"$WORK/pam-origin")"

# --- cases ----------------------------------------------------------------
if [[ $# -gt 0 ]]; then
    CASES=()
    for name in "$@"; do
        [[ -f "$HERE/cases/$name.py" ]] || setup_failed "no case tests/interop/cases/$name.py" /dev/null
        CASES+=("$HERE/cases/$name.py")
    done
else
    mapfile -t CASES < <(find "$HERE/cases" -maxdepth 1 -name '*.py' | LC_ALL=C sort)
fi
[[ ${#CASES[@]} -gt 0 ]] || setup_failed "no cases in tests/interop/cases" /dev/null

echo "interop: dev servers at $ORIGIN and $PAM_ORIGIN (Access Manager); freenub 0.1.2 (Python) and pubnub 7.3.3 (Node $("$NODE" --version))"
passed=0
failed=0
failed_names=()
for case_file in "${CASES[@]}"; do
    name="$(basename "$case_file" .py)"
    case_log="$LOGS/case-$name.log"
    # -P: the case directory is not put on sys.path, so a case named like a
    # stdlib module (signal.py, time.py) cannot shadow it.
    # In the background so that a signal to this script is handled at once
    # (bash defers traps while a foreground command runs); cleanup stops it.
    env INTEROP_ORIGIN="$ORIGIN" INTEROP_PAM_ORIGIN="$PAM_ORIGIN" INTEROP_PAM_SUBSCRIBE_KEY="$PAM_SUBSCRIBE_KEY" \
        INTEROP_PAM_PUBLISH_KEY="$PAM_PUBLISH_KEY" INTEROP_PAM_SECRET_KEY="$PAM_SECRET_KEY" \
        INTEROP_SERVER_BIN="$SERVER_BIN" \
        PYTHONDONTWRITEBYTECODE=1 INTEROP_PYTHON="$PYTHON" INTEROP_NODE="$NODE" INTEROP_RS_AGENT="$RS_AGENT_BIN" \
        INTEROP_LOG_DIR="$LOGS/agents" NODE_PATH="$NODE_DIR/node_modules" PYTHONPATH="$HERE" \
        timeout --kill-after=5 "$CASE_TIMEOUT" "$PYTHON" -P "$case_file" >"$case_log" 2>&1 &
    CASE_PID=$!
    if wait "$CASE_PID"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        code=$?
        failed=$((failed + 1))
        failed_names+=("$name")
        if [[ $code -eq 124 || $code -eq 137 ]]; then
            echo "FAIL $name (timed out after ${CASE_TIMEOUT}s)"
        else
            echo "FAIL $name"
        fi
        sed 's/^/    /' "$case_log"
    fi
    CASE_PID=""
    died=""
    for pid in "${SERVER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || died+=" $pid"
    done
    if [[ -n "$died" ]]; then
        echo "interop: dev server(s)$died died during case $name" >&2
        failed=$((failed + 1))
        break
    fi
done

stop_servers
if [[ $failed -gt 0 ]]; then
    for log in "$SERVER_LOG" "$PAM_SERVER_LOG"; do
        echo "--- dev server log (last 80 lines of $log)"
        tail -n 80 "$log" | sed 's/^/    /'
    done
    echo "failed: ${failed_names[*]:-} (INTEROP_KEEP=1 keeps every log)"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
