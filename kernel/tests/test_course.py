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
import ssl
import stat
import subprocess
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

    def __init__(self, tls=None):
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
                if self.path == "/api/v1/grades":
                    return self.reply(200, {"exercises": [
                        {"id": "warmup", "title": "Warm-up", "points": 5, "best": 4.0, "submissions": [
                            {"id": 2, "status": "graded", "submitted_at": "2030-01-01T10:00:00.123Z",
                             "late": False, "score": 4.0},
                            {"id": 1, "status": "compile_error", "submitted_at": "2030-01-01T09:00:00Z",
                             "late": False, "score": None}]},
                        {"id": "lamport", "title": "Lamport <clocks>", "points": 10, "best": None,
                         "submissions": []}]})
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
        scheme = "http"
        if tls:
            cert, key = tls
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def kernel_env(home, **extra):
    """The test's own environment for a kernel: no grader from the caller's
    environment, login file and outbox under `home`."""
    env = dict(os.environ)
    env.pop("DISTLAB_GRADER_URL", None)
    env.pop("DISTLAB_TOKEN", None)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    grader = FakeGrader()
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT, env=kernel_env(home))
    yield {"km": km, "kc": kc, "grader": grader, "home": home}
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    grader.server.shutdown()


def run(kc, code, timeout=TIMEOUT):
    """Execute; return (reply content, iopub messages of this request)."""
    return collect(kc, kc.execute(code), timeout)


def collect(kc, msg_id, timeout=TIMEOUT):
    """The reply to request `msg_id` and its iopub messages up to idle."""
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


def test_grades_shows_the_students_best_scores(env):
    # Logged in by the test above.
    reply, msgs = run(env["kc"], ":grades")
    assert reply["status"] == "ok", reply
    data = outputs(msgs, "display_data")[0]["data"]
    plain, html = data["text/plain"], data["text/html"]
    assert "Best scores: 4 of 15 points" in plain and "4 / 5" in plain and "#2 graded 4" in plain, plain
    assert "1 exercise(s) not submitted yet" in plain, plain
    assert "<table" in html and "<clocks>" not in html
    reply, _ = run(env["kc"], ":grades now")
    assert reply["status"] == "error" and "usage" in reply["evalue"]


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
    # A progress line that updates in place, and the grade takes its
    # place: nothing else is left on screen.
    shown = outputs(msgs, "display_data")
    assert len(shown) == 1, shown
    display_id = shown[0]["transient"]["display_id"]
    assert "queued" in shown[0]["data"]["text/plain"]
    updates = outputs(msgs, "update_display_data")
    assert updates and all(u["transient"]["display_id"] == display_id for u in updates)
    grade = updates[-1]["data"]
    assert "graded" in grade["text/plain"]
    assert "text-align:left" in grade["text/html"], "JupyterLab right-aligns cells otherwise"
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


def run_in_cell(kc, code, cell_id, timeout=TIMEOUT):
    """Execute as JupyterLab does: the cell's id in the request metadata."""
    msg = kc.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True,
    }, metadata={"cellId": cell_id, "deletedCells": [], "recordTiming": False})
    kc.shell_channel.send(msg)
    return collect(kc, msg["header"]["msg_id"], timeout)


def stderr_text(msgs):
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


@pytest.fixture(scope="module")
def notebook_kernel(tmp_path_factory):
    """A kernel serving a saved notebook that already has the warmup cell,
    started the way Jupyter Server starts one: in the notebook's folder,
    with the notebook's server-relative path in JPY_SESSION_NAME."""
    home = tmp_path_factory.mktemp("nbhome")
    folder = home / "course"
    folder.mkdir()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Warm-up"},
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["// exercise: warmup\n", "fn warmup_node() {}\n"]},
    ]}
    (folder / "01-welcome.ipynb").write_text(json.dumps(nb))
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT, cwd=str(folder),
                              env=kernel_env(home, JPY_SESSION_NAME="course/01-welcome.ipynb"))
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_exercise_adds_no_second_solution_cell(notebook_kernel):
    kc = notebook_kernel
    # The saved notebook has the warmup cell: the task only, no new cell.
    reply, msgs = run(kc, ":exercise warmup")
    assert reply["status"] == "ok", reply
    assert not [p for p in reply["payload"] if p["source"] == "set_next_input"]
    shown = [d["data"].get("text/plain", "") for d in outputs(msgs, "display_data")]
    assert any("already has the solution cell of `warmup`" in t for t in shown), shown
    # Not in the file: the first :exercise adds the cell, the second does not.
    reply, _ = run(kc, ":exercise lamport")
    assert len([p for p in reply["payload"] if p["source"] == "set_next_input"]) == 1
    reply, _ = run(kc, ":exercise lamport")
    assert not [p for p in reply["payload"] if p["source"] == "set_next_input"]


def test_a_cell_replacing_another_cells_solution_says_so(notebook_kernel):
    kc = notebook_kernel
    reply, msgs = run_in_cell(kc, WARMUP_SOLUTION, "cell-answer")
    assert reply["status"] == "ok", reply
    assert "replace" not in stderr_text(msgs)
    # Running the same cell again is the normal edit-run loop: no note.
    _, msgs = run_in_cell(kc, WARMUP_SOLUTION + "\n// tweaked\n", "cell-answer")
    assert "note:" not in stderr_text(msgs)
    # Another cell with the same marker takes over, and says so.
    other = WARMUP_SOLUTION.replace("struct Echo;", "struct Echo; // copy")
    _, msgs = run_in_cell(kc, other, "cell-copy")
    note = stderr_text(msgs)
    assert "another cell held the solution of `warmup`" in note and ":submit warmup" in note, note


def certificate_authority(folder, name):
    """A CA and a server certificate it signed for 127.0.0.1, made with the
    openssl CLI: (CA file, (server cert, server key))."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ca, ca_key = folder / f"{name}-ca.pem", folder / f"{name}-ca.key"
    cert, key, csr = folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}.csr"
    ext = folder / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(ca_key),
            "-out", str(ca), "-subj", f"/CN={name} test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-out", str(cert), "-extfile", str(ext))
    return str(ca), (str(cert), str(key))


def test_login_over_https_trusts_only_known_certificates(tmp_path):
    course_ca, course_server = certificate_authority(tmp_path, "course")
    _, stranger_server = certificate_authority(tmp_path, "stranger")
    good, bad = FakeGrader(tls=course_server), FakeGrader(tls=stranger_server)
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT,
                              env=kernel_env(tmp_path, SSL_CERT_FILE=course_ca))
    try:
        reply, msgs = run(kc, ":login")
        assert reply["status"] == "ok", reply
        assert "Not logged in yet" in outputs(msgs, "display_data")[0]["data"]["text/plain"]
        # A server whose certificate nobody vouches for: refused, nothing saved.
        reply, _ = run(kc, f":login {bad.url} {TOKEN}")
        assert reply["status"] == "error" and "certificate" in reply["evalue"].lower(), reply
        assert not (tmp_path / "config" / "distlab" / "grader.json").exists()
        reply, _ = run(kc, f":login {good.url} {TOKEN}")
        assert reply["status"] == "ok", reply
        assert good.url.startswith("https://") and "/api/v1/exercises" in good.gets
        reply, msgs = run(kc, ":login")
        status = outputs(msgs, "display_data")[0]["data"]["text/plain"]
        assert reply["status"] == "ok" and f"Logged in to {good.url}" in status and "1 exercises" in status, status
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        good.server.shutdown()
        bad.server.shutdown()
