#!/usr/bin/env bash
# Access Manager interop: the MIT-licensed PubNub SDKs (Python freenub 0.1.2,
# npm pubnub 7.3.3) run grant_token / parse_token / revoke_token and a v2
# grant against a pubnub-dev-server started with a secret key.
#
# usage: tests/interop/access_manager/run.sh
#
# SDKs, in this order of preference:
#   INTEROP_PYTHON (a Python with freenub 0.1.2) and NODE_PATH (with pubnub 7.3.3);
#   INTEROP_CACHE_DIR holding venv/ and node/node_modules/ as tests/interop/run.sh
#     (branch `interop`) lays them out;
#   otherwise both are installed into a temporary directory (pip, npm).
# Exits non-zero when a side fails; prints the server log then.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/tests/interop/access_manager"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pubnub-pam-interop.XXXXXX")"
SERVER_PID=""
SUBSCRIBE_KEY="sub-c-pam-interop"
PUBLISH_KEY="pub-c-pam-interop"
SECRET_KEY="sec-c-pam-interop"

cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -INT "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "access-manager interop: $1" >&2
    [[ -f "${2:-}" ]] && tail -n 60 "$2" >&2
    exit 1
}

# --- SDKs -------------------------------------------------------------------
PYTHON="${INTEROP_PYTHON:-}"
if [[ -z "$PYTHON" && -n "${INTEROP_CACHE_DIR:-}" && -x "$INTEROP_CACHE_DIR/venv/bin/python" ]]; then
    PYTHON="$INTEROP_CACHE_DIR/venv/bin/python"
fi
if [[ -z "$PYTHON" ]]; then
    BASE="$(command -v python3.11 || command -v python3 || true)"
    [[ -n "$BASE" ]] || fail "no python3 on PATH"
    "$BASE" -m venv "$WORK/venv" >"$WORK/venv.log" 2>&1 || fail "venv" "$WORK/venv.log"
    "$WORK/venv/bin/python" -m pip install --disable-pip-version-check --no-input freenub==0.1.2 \
        >"$WORK/pip.log" 2>&1 || fail "pip install freenub==0.1.2" "$WORK/pip.log"
    PYTHON="$WORK/venv/bin/python"
fi
"$PYTHON" -c 'import importlib.metadata as m; assert m.version("freenub") == "0.1.2", m.version("freenub")' \
    || fail "$PYTHON has no freenub 0.1.2"

if [[ -z "${NODE_PATH:-}" && -n "${INTEROP_CACHE_DIR:-}" && -d "$INTEROP_CACHE_DIR/node/node_modules/pubnub" ]]; then
    NODE_PATH="$INTEROP_CACHE_DIR/node/node_modules"
fi
if [[ -z "${NODE_PATH:-}" ]]; then
    mkdir -p "$WORK/node"
    npm install --prefix "$WORK/node" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
        pubnub@7.3.3 >"$WORK/npm.log" 2>&1 || fail "npm install pubnub@7.3.3" "$WORK/npm.log"
    NODE_PATH="$WORK/node/node_modules"
fi
export NODE_PATH
node -e 'const v = require("pubnub/package.json").version; if (v !== "7.3.3") throw new Error("pubnub " + v);' \
    || fail "NODE_PATH has no pubnub 7.3.3"

# --- dev server with a secret key -------------------------------------------
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --features server --bin pubnub-dev-server \
    >"$WORK/build.log" 2>&1 || fail "cargo build" "$WORK/build.log"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="$TARGET_DIR/debug/pubnub-dev-server"
[[ -x "$SERVER_BIN" ]] || fail "no $SERVER_BIN after the build"
SERVER_LOG="$WORK/server.log"
"$SERVER_BIN" --host 127.0.0.1 --port 0 --log warn \
    --subscribe-key "$SUBSCRIBE_KEY" --publish-key "$PUBLISH_KEY" --secret-key "$SECRET_KEY" \
    >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
ORIGIN=""
for _ in $(seq 1 300); do
    ORIGIN="$(sed -n 's/.*use origin \([^ ]*\) with ssl=false.*/\1/p' "$SERVER_LOG" | head -n 1)"
    [[ -n "$ORIGIN" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the dev server exited" "$SERVER_LOG"
    sleep 0.1
done
[[ -n "$ORIGIN" ]] || fail "the dev server did not print its origin" "$SERVER_LOG"

# --- both SDKs ----------------------------------------------------------------
export PAM_ORIGIN="$ORIGIN" PAM_SUBSCRIBE_KEY="$SUBSCRIBE_KEY" PAM_PUBLISH_KEY="$PUBLISH_KEY" \
    PAM_SECRET_KEY="$SECRET_KEY"
failed=0
timeout 120 "$PYTHON" -P "$HERE/pam_py.py" || failed=1
timeout 120 node "$HERE/pam_js.js" || failed=1
if [[ $failed -ne 0 ]]; then
    echo "--- dev server log" >&2
    tail -n 80 "$SERVER_LOG" >&2
    exit 1
fi
echo "access-manager interop: freenub 0.1.2 and pubnub 7.3.3 passed against $ORIGIN"
