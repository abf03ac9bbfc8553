"""The course magics (:exercise, :check, :login, :submit) against a fake
grader: a tiny HTTP server in this process that follows the grader API
contract (the types and docs of `distlab-api`, api/src/lib.rs), on
127.0.0.1 with a random port.

The kernel runs with its own XDG_CONFIG_HOME / XDG_DATA_HOME, so the login
file and the outbox are in a temp dir and nothing touches the real home.
"""

import json
import os
import pathlib
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jupyter_client.manager import start_new_kernel

KERNEL = "distlab"
TIMEOUT = 180
TOKEN = "student-token-1"

WARMUP_SOLUTION = """// exercise: warmup
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process, TimerTag};

#[derive(Clone, Debug, Hash, Default)]
struct Echo;

impl Process<WarmupMsg> for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        if let WarmupMsg::Ping(k) = msg {
            ctx.send(from, WarmupMsg::Pong(k));
        }
    }
    fn on_timer(&mut self, _ctx: &mut Ctx<WarmupMsg>, _timer: TimerTag) {}
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Echo)
}
"""


class FakeGrader:
    """Records requests; answers per the contract. `post_error` makes
    POST /api/v1/submissions answer that (status, message) instead."""

    def __init__(self):
        self.posts = []  # (idempotency key, body)
        self.gets = []
        self.by_key = {}
        self.polls = {}
        self.post_error = None
        grader = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authorized(self):
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.reply(401, {"error": "missing or wrong token"})
                    return False
                return True

            def do_GET(self):
                grader.gets.append(self.path)
                if self.path == "/healthz":
                    return self.reply(200, {"ok": True})
                if not self.authorized():
                    return
                if self.path == "/api/v1/exercises":
                    return self.reply(200, [{"id": "warmup", "title": "Warm-up", "notebook": 1, "points": 5,
                                             "deadline": "2031-01-15T23:59:00Z", "late_deadline": None}])
                if self.path == "/api/v1/exercises/warmup/variant":
                    return self.reply(200, {"exercise": "warmup", "seed": 4242, "variant": None})
                if self.path.startswith("/api/v1/submissions/"):
                    sid = int(self.path.rsplit("/", 1)[1])
                    n = grader.polls.get(sid, 0)
                    grader.polls[sid] = n + 1
                    status = ["queued", "running", "running"][n] if n < 3 else "graded"
                    body = {"id": sid, "exercise": "warmup", "status": status, "late": False,
                            "submitted_at": "2030-01-01T00:00:00Z", "graded_at": None,
                            "score": None, "max_score": 5.0, "output": "", "tests": [],
                            "diagram_svg": None, "replay": None}
                    if status == "graded":
                        body.update(score=4.0, output="3 of 4 checks passed", tests=[
                            {"name": "every pong answers a ping", "score": 2.0, "max_score": 2.0,
                             "status": "passed", "output": "", "visibility": "visible"},
                            {"name": "node 0 hears from everyone", "score": 0.0, "max_score": 2.0,
                             "status": "failed", "output": "node 0 never got a pong from node 3",
                             "visibility": "visible"}],
                            diagram_svg='<svg id="fake-diagram" xmlns="http://www.w3.org/2000/svg"></svg>',
                            replay=':check warmup --scenario "30% loss" --seed 9')
                    return self.reply(200, body)
                self.reply(404, {"error": "no such route"})

            def do_POST(self):
                if not self.authorized():
                    return
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                key = self.headers.get("Idempotency-Key")
                grader.posts.append((key, body))
                if grader.post_error:
                    code, message = grader.post_error
                    return self.reply(code, {"error": message})
                if key not in grader.by_key:
                    grader.by_key[key] = len(grader.by_key) + 1
                self.reply(202, {"id": grader.by_key[key], "status": "queued"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    grader = FakeGrader()
    kernel_env = dict(os.environ)
    kernel_env.pop("DISTLAB_GRADER_URL", None)
    kernel_env.pop("DISTLAB_TOKEN", None)
    kernel_env["XDG_CONFIG_HOME"] = str(home / "config")
    kernel_env["XDG_DATA_HOME"] = str(home / "data")
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT, env=kernel_env)
    yield {"km": km, "kc": kc, "grader": grader, "home": home}
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    grader.server.shutdown()


def run(kc, code, timeout=TIMEOUT):
    """Execute; return (reply content, iopub messages of this request)."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    msgs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        msgs.append(msg)
    return reply["content"], msgs


def outputs(msgs, kind):
    return [m["content"] for m in msgs if m["msg_type"] == kind]


def login_file(e):
    return e["home"] / "config" / "distlab" / "grader.json"


def outbox(e):
    d = e["home"] / "data" / "distlab" / "outbox"
    return sorted(d.glob("*.json")) if d.is_dir() else []


def test_exercise_shows_task_and_sets_next_input(env):
    reply, msgs = run(env["kc"], ":exercise warmup")
    assert reply["status"] == "ok", reply
    payload = [p for p in reply["payload"] if p["source"] == "set_next_input"]
    assert len(payload) == 1 and payload[0]["replace"] is False
    assert payload[0]["text"].startswith("// exercise: warmup\n")
    assert "fn warmup_node(" in payload[0]["text"]
    shown = outputs(msgs, "display_data")
    assert "Warm-up" in shown[0]["data"]["text/html"] and "text/plain" in shown[0]["data"]

    reply, _ = run(env["kc"], ":exercise nosuch")
    assert reply["status"] == "error" and "lamport" in reply["evalue"]


def test_check_before_the_solution_is_defined_says_so(env):
    reply, _ = run(env["kc"], ":check lamport")
    assert reply["status"] == "error"
    assert "define `lamport_node` first" in reply["evalue"]


def test_submit_before_running_the_cell_says_so(env):
    reply, _ = run(env["kc"], ":submit lamport")
    assert reply["status"] == "error"
    assert "run the exercise cell first" in reply["evalue"]


def test_login_checks_token_and_stores_a_private_file(env):
    kc, grader = env["kc"], env["grader"]
    reply, _ = run(kc, f":login {grader.url} wrong-token")
    assert reply["status"] == "error" and "does not accept this token" in reply["evalue"]
    assert not login_file(env).exists()
    reply, _ = run(kc, f":login {closed_port_url()} {TOKEN}")
    assert reply["status"] == "error" and "could not be reached" in reply["evalue"]

    reply, msgs = run(kc, f":login {grader.url} {TOKEN}")
    assert reply["status"] == "ok", reply
    path = login_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": grader.url, "token": TOKEN}
    # Now :exercise knows the deadline.
    _, msgs = run(kc, ":exercise warmup")
    assert "2031-01-15T23:59:00Z" in outputs(msgs, "display_data")[0]["data"]["text/plain"]


def test_check_uses_the_students_seed(env):
    kc, grader = env["kc"], env["grader"]
    reply, _ = run(kc, WARMUP_SOLUTION)
    assert reply["status"] == "ok", reply
    reply, msgs = run(kc, ":check warmup")
    assert reply["status"] == "ok", reply
    assert "/api/v1/exercises/warmup/variant" in grader.gets
    html = "".join(d["data"].get("text/html", "") for d in outputs(msgs, "display_data"))
    # Echo never pings: node 0 hears from nobody, a failure with a diagram.
    assert "<svg" in html and "✘" in html

    def check_html(args):
        reply, msgs = run(kc, f":check warmup {args}")
        assert reply["status"] == "ok", reply
        return "".join(d["data"].get("text/html", "") for d in outputs(msgs, "display_data"))

    # The runs (their seeds are in the table) are the student's: seed 4242.
    assert check_html("--seed 4242") == html
    assert check_html("--seed 0") != html


def test_submit_success_polls_and_shows_the_grade(env):
    kc, grader = env["kc"], env["grader"]
    before = len(grader.posts)
    reply, msgs = run(kc, ":submit warmup")
    assert reply["status"] == "ok", reply
    key, body = grader.posts[before]
    assert key and body["exercise"] == "warmup"
    assert body["source"].startswith("// exercise: warmup") and "fn warmup_node" in body["source"]
    # A progress line that updates in place, then the grade.
    first = outputs(msgs, "display_data")[0]
    display_id = first["transient"]["display_id"]
    assert "queued" in first["data"]["text/plain"]
    updates = outputs(msgs, "update_display_data")
    assert updates and all(u["transient"]["display_id"] == display_id for u in updates)
    assert "graded" in updates[-1]["data"]["text/plain"]
    grade = outputs(msgs, "display_data")[-1]["data"]
    assert "score 4 of 5" in grade["text/plain"]
    assert "node 0 never got a pong from node 3" in grade["text/plain"]
    assert 'id="fake-diagram"' in grade["text/html"]
    assert outbox(env) == []


def test_submit_with_grader_down_keeps_source_then_resends_same_key(env):
    kc, grader = env["kc"], env["grader"]
    good = login_file(env).read_text()
    login_file(env).write_text(json.dumps({"url": closed_port_url(), "token": TOKEN}))
    try:
        reply, _ = run(kc, ":submit warmup")
    finally:
        login_file(env).write_text(good)
    assert reply["status"] == "error"
    assert "could not be reached" in reply["evalue"] and "outbox" in reply["evalue"]
    kept = outbox(env)
    assert len(kept) == 1
    entry = json.loads(kept[0].read_text())
    assert entry["exercise"] == "warmup" and "fn warmup_node" in entry["source"]
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600

    before = len(grader.posts)
    reply, msgs = run(kc, ":submit warmup")
    assert reply["status"] == "ok", reply
    keys = [k for k, _ in grader.posts[before:]]
    # The kept one goes first, with its original key; then the new one.
    assert keys[0] == entry["idempotency_key"] and len(keys) == 2 and keys[1] != keys[0]
    assert any("kept in the outbox" in d["data"]["text/plain"] for d in outputs(msgs, "display_data"))
    assert outbox(env) == []


def test_submit_refused_shows_the_graders_error(env):
    kc, grader = env["kc"], env["grader"]
    grader.post_error = (413, "the source is over 256 KiB")
    try:
        reply, _ = run(kc, ":submit warmup")
    finally:
        grader.post_error = None
    assert reply["status"] == "error"
    assert "413" in reply["evalue"] and "the source is over 256 KiB" in reply["evalue"]
    assert "outbox" in reply["evalue"]
    assert len(outbox(env)) == 1
    # Sent again on the next :submit, and then acknowledged.
    reply, _ = run(kc, ":submit warmup")
    assert reply["status"] == "ok", reply
    assert outbox(env) == []
