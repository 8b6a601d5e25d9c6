"""Driver side of the interop cases: starts SDK agents and talks to them.

A case is a script in tests/interop/cases/ that ends with
`harness.run_case(main)`; `main(h)` gets a `Harness` and uses `h.agent(...)`
to start a Python (freenub 0.1.2) or JavaScript (pubnub 7.3.3) client agent
pointed at the dev server. Agents run in their own processes and answer
commands (see tests/interop/py/agent.py for the protocol). A case fails by
raising; `run_case` then prints the reason, stops the agents and exits 1.

Environment (set by tests/interop/run.sh):
  INTEROP_ORIGIN   host:port of the dev server
  INTEROP_PAM_ORIGIN, INTEROP_PAM_SUBSCRIBE_KEY, INTEROP_PAM_PUBLISH_KEY,
  INTEROP_PAM_SECRET_KEY
                   the second dev server, with Access Manager on, and its keys
                   (`h.pam_agent(...)`)
  INTEROP_PYTHON   the Python of the venv that has freenub installed
  INTEROP_NODE     node; NODE_PATH must reach the installed `pubnub`
  INTEROP_RS_AGENT the built pubnub-rx agent (tests/interop/rs/agent.rs)
  INTEROP_SERVER_BIN the built pubnub-dev-server, for cases that run their own
                   (`h.dev_server(...)`: a data dir, restarts, kill -9)
  INTEROP_LOG_DIR  where agent logs go
"""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid as uuid_module

HERE = os.path.dirname(os.path.abspath(__file__))
ANSWER_PREFIX = "@@interop "
# The official SDKs the pairwise cases run both ways; "rs" is pubnub-rx's own agent.
LANGUAGES = ("py", "js")
AGENT_LANGUAGES = LANGUAGES + ("rs",)


class InteropFailure(AssertionError):
    """A check failed or an agent misbehaved."""


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise InteropFailure(f"{name} is not set; run the cases through tests/interop/run.sh")
    return value


class Agent:
    """One SDK client in its own process."""

    def __init__(self, lang, name, settings, log_dir):
        if lang not in AGENT_LANGUAGES:
            raise InteropFailure(f"unknown agent language {lang!r}; use one of {AGENT_LANGUAGES}")
        self.lang = lang
        self.name = name
        self.uuid = settings["uuid"]
        if lang == "py":
            command = [_env("INTEROP_PYTHON"), os.path.join(HERE, "py", "agent.py")]
        elif lang == "rs":
            command = [_env("INTEROP_RS_AGENT")]
        else:
            command = [_env("INTEROP_NODE"), os.path.join(HERE, "js", "agent.js")]
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "w", buffering=1)
        self.process = subprocess.Popen(
            command + [json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        self.answers = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._await_answer(0, 20, "start")

    def __repr__(self):
        return f"{self.lang} agent {self.name} (uuid {self.uuid})"

    def _read_stdout(self):
        for line in self.process.stdout:
            if line.startswith(ANSWER_PREFIX):
                self.answers.put(json.loads(line[len(ANSWER_PREFIX):]))
            else:
                self.log.write("stdout: " + line)
        self.answers.put(None)  # the process closed its stdout: it has ended

    def _await_answer(self, request_id, timeout, op, want_error=False):
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise InteropFailure(f"{self}: no answer to {op} within {timeout}s") from None
        if answer is None:
            code = self.process.wait()
            raise InteropFailure(f"{self} exited (code {code}) during {op}; see {self.log_path}:\n{self.tail_log()}")
        if answer.get("id") != request_id:
            raise InteropFailure(f"{self}: answer {answer} does not match request {request_id} ({op})")
        if want_error:
            if answer.get("ok"):
                raise InteropFailure(f"{self}: {op} succeeded ({answer.get('result')}) but was to fail")
            return answer
        if not answer.get("ok"):
            raise InteropFailure(f"{self}: {op} failed: {answer.get('error')}")
        return answer.get("result")

    def call(self, op, answer_timeout=None, **args):
        """Runs one SDK operation and returns its normalized result.

        `args` go to the agent (an op's own `timeout` among them);
        `answer_timeout` bounds the wait for the answer (default: the op's
        timeout, else 10 s, plus a 10 s margin)."""
        return self._request(op, answer_timeout, args, want_error=False)

    def refused(self, op, status=403, text=None, category=None, **args):
        """Runs one SDK operation that must fail with HTTP `status`.

        `text`, when given, must appear in the error details the SDK reported
        (the server's error body as the SDK hands it over); `category`, when
        given, is the SDK's status category (e.g. "PNAccessDeniedCategory").
        Returns the error answer: `error`, `http`, `category`, `details`."""
        answer = self._request(op, None, args, want_error=True)
        what = f"{self}: {op} {args}"
        expect_eq(answer.get("http"), status, f"{what}: HTTP status of the failure ({answer.get('error')})")
        if text is not None:
            expect(text in (answer.get("details") or ""),
                   f"{what}: expected {text!r} in the error details, got {answer.get('details')!r}")
        if category is not None:
            expect_eq(answer.get("category"), category, f"{what}: status category")
        return answer

    def _request(self, op, answer_timeout, args, want_error):
        request_id = self.next_id
        self.next_id += 1
        try:
            self.process.stdin.write(json.dumps({"id": request_id, "op": op, "args": args}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            code = self.process.wait()
            raise InteropFailure(f"{self} is gone (code {code}); see {self.log_path}:\n{self.tail_log()}") from None
        # The agent's own waits are bounded by `args["timeout"]`; allow a margin on top.
        return self._await_answer(request_id, (answer_timeout or args.get("timeout") or 10) + 10, op, want_error)

    def next_event(self, kind, timeout=5):
        return self.call("next_event", kind=kind, timeout=timeout)

    def pending_events(self, kind):
        return self.call("pending_events", kind=kind)["events"]

    def tail_log(self, lines=30):
        try:
            with open(self.log_path) as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def kill(self):
        """Ends the client abruptly (SIGKILL): no leave, no more heartbeats."""
        self.process.kill()
        self.process.wait()

    def close(self):
        if self.process.poll() is None:
            try:
                self.call("exit", answer_timeout=5)
            except InteropFailure:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class DevServer:
    """A pubnub-dev-server of the case's own, on a port of its own that it
    keeps across restarts (so agents keep their origin)."""

    def __init__(self, name, args, log_dir):
        self.args = list(args)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.origin = f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "a", buffering=1)
        self.process = None
        self.start()

    def __repr__(self):
        return f"dev server {self.origin} {' '.join(self.args)}"

    def start(self, timeout=30):
        """Starts the binary and returns once /time/0 answers."""
        command = [_env("INTEROP_SERVER_BIN"), "--host", "127.0.0.1", "--port", str(self.port),
                   "--log", "warn,pubnub_rx=info"] + self.args
        self.log.write(f"--- {' '.join(command)}\n")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log,
                                        env=dict(os.environ, NO_COLOR="1"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InteropFailure(f"{self} exited (code {self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://{self.origin}/time/0", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise InteropFailure(f"{self} did not answer /time/0 within {timeout}s; see {self.log_path}")

    def stop(self):
        """Ctrl-C (the graceful stop) and wait for the exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise InteropFailure(f"{self} did not stop on SIGINT within 10s") from None
            if code != 0:
                raise InteropFailure(f"{self} exited with {code} on SIGINT; see {self.log_path}")

    def kill(self):
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self):
        self.kill()
        self.log.close()


class Harness:
    def __init__(self, case_name):
        self.case_name = case_name
        self.run_id = uuid_module.uuid4().hex[:8]
        self.origin = _env("INTEROP_ORIGIN")
        self.log_dir = os.path.join(_env("INTEROP_LOG_DIR"), case_name)
        os.makedirs(self.log_dir, exist_ok=True)
        self.agents = []
        self.servers = []

    def name(self, base):
        """A channel / group / uuid name unique to this run of this case."""
        return f"{base}-{self.case_name}-{self.run_id}"

    def agent(self, lang, label=None, **settings):
        """Starts an agent on the open dev server.

        Settings: uuid, subscribe_key, publish_key, secret_key, auth_key,
        cipher_key, random_iv, filter_expression, presence_timeout,
        request_timeout."""
        settings.setdefault("origin", self.origin)
        return self._start_agent(lang, label, settings)

    def pam_agent(self, lang, label=None, admin=False, **settings):
        """Starts an agent on the Access Manager dev server with its keyset.

        `admin=True` gives it the secret key (grants, revokes: signed calls);
        other settings as for `agent`."""
        pam = self.access_manager()
        settings["origin"] = pam["origin"]
        settings.setdefault("subscribe_key", pam["subscribe_key"])
        settings.setdefault("publish_key", pam["publish_key"])
        if admin:
            settings.setdefault("secret_key", pam["secret_key"])
        return self._start_agent(lang, label, settings)

    def access_manager(self):
        """The Access Manager server: origin, subscribe_key, publish_key, secret_key."""
        return {
            "origin": _env("INTEROP_PAM_ORIGIN"),
            "subscribe_key": _env("INTEROP_PAM_SUBSCRIBE_KEY"),
            "publish_key": _env("INTEROP_PAM_PUBLISH_KEY"),
            "secret_key": _env("INTEROP_PAM_SECRET_KEY"),
        }

    def _start_agent(self, lang, label, settings):
        label = label or lang
        settings.setdefault("uuid", self.name(f"{label}-user"))
        agent = Agent(lang, f"{label}", settings, self.log_dir)
        self.agents.append(agent)
        return agent

    def dev_server(self, *args, label="server"):
        """Starts a pubnub-dev-server of this case's own with the binary's
        options `args` (e.g. `--data-dir`, DIR); `.origin` for agents,
        `.stop()`, `.kill()`, `.start()` again on the same port."""
        server = DevServer(label, args, self.log_dir)
        self.servers.append(server)
        return server

    def pair(self, **settings):
        """A Python and a JavaScript agent with the same settings."""
        return self.agent("py", **settings), self.agent("js", **settings)

    def raw_get(self, path):
        """GET a path on the dev server directly and parse the JSON answer."""
        with urllib.request.urlopen(f"http://{self.origin}{path}", timeout=10) as response:
            return json.loads(response.read())

    def close(self):
        for agent in self.agents:
            agent.close()
        for server in self.servers:
            server.close()


def expect_eq(actual, expected, what):
    if actual != expected:
        raise InteropFailure(f"{what}: expected {expected!r}, got {actual!r}")


def expect(condition, what):
    if not condition:
        raise InteropFailure(what)


def run_case(main):
    """Runs `main(harness)` and exits 0 on success, 1 with the reason on failure."""
    case_name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    harness = None
    code = 0
    try:
        harness = Harness(case_name)
        main(harness)
    except Exception:
        code = 1
        traceback.print_exc()
        if harness is not None:
            for agent in harness.agents:
                print(f"--- last lines of {agent} log ({agent.log_path}):\n{agent.tail_log()}", file=sys.stderr)
    finally:
        if harness is not None:
            harness.close()
    sys.exit(code)
