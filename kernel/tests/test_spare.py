"""Warm spare kernels (kernel/src/spare.rs), through jupyter_client.

A kernel that starts cold leaves a spare behind once it has settled; the
next kernel launched with the same environment and folder is served by that
spare, and must behave exactly like a cold one: its folder, its environment,
its notebook (JPY_SESSION_NAME), interrupts, and ending with its launcher.
Each test gets its own XDG_RUNTIME_DIR, so its spares are its own.
"""

import fcntl
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

KERNEL = "distlab"
TIMEOUT = 180


def spare_env(runtime, **extra):
    env = dict(os.environ)
    env.pop("JPY_SESSION_NAME", None)
    env.update(DISTLAB_KERNEL_SPARE="1", XDG_RUNTIME_DIR=str(runtime), SPARE_TEST_MARK="from-the-launch")
    env.update(extra)
    return env


def spare_dir(runtime):
    return pathlib.Path(runtime) / f"distlab-kernel-spares-{os.geteuid()}"


def spare_states(runtime):
    """[(state, pid)] of the spares holding a lock (one per config and server)."""
    states = []
    for lock in spare_dir(runtime).glob("*.lock"):
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                words = lock.read_text().split()
                if len(words) == 2:
                    states.append((words[0], int(words[1])))
            else:
                fcntl.flock(f, fcntl.LOCK_UN)
    return states


def spare_state(runtime):
    """(state, pid) of the one spare holding a lock, or (None, None)."""
    states = spare_states(runtime)
    assert len(states) <= 1, states
    return states[0] if states else (None, None)


def lock_of(runtime, pid):
    """The text of the lock file that names `pid`."""
    texts = [lock.read_text() for lock in spare_dir(runtime).glob("*.lock")]
    return next(t for t in texts if t.split()[1:] == [str(pid)])


def wait_for_spare(runtime, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, pid = spare_state(runtime)
        if state == "ready" and alive(pid):
            return pid
        time.sleep(0.2)
    raise AssertionError(f"no spare became ready in {timeout} s: {spare_state(runtime)}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited.
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still runs")


def ppid(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def run(kc, code, timeout=TIMEOUT):
    """(reply content, text of execute_result/stream/error outputs)."""
    msg_id = kc.execute(code)
    texts = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        c = msg["content"]
        if msg["msg_type"] in ("execute_result", "display_data"):
            texts.append(c["data"].get("text/plain", ""))
        elif msg["msg_type"] == "stream":
            texts.append(c["text"])
        elif msg["msg_type"] == "error":
            texts.append(c["evalue"])
        elif msg["msg_type"] == "status" and c["execution_state"] == "idle":
            break
    return kc.get_shell_msg(timeout=timeout)["content"], "".join(texts)


def serving_pid(kc):
    """The process that runs this kernel: evcxr's runtime's grandparent
    (runtime <- relay <- kernel)."""
    reply, text = run(kc, "std::process::id()")
    assert reply["status"] == "ok", reply
    return ppid(ppid(int(text.strip())))


def interrupted_loop(kc, interrupt):
    msg_id = kc.execute("loop { std::hint::spin_loop(); }")
    time.sleep(3)
    interrupt()
    reply = kc.get_shell_msg(timeout=60)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "Interrupted", reply["content"]


@pytest.fixture
def start():
    """start(env, folder) -> (km, kc); whatever is left runs is shut down."""
    started = []

    def start(env, folder):
        km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT, cwd=str(folder), env=env)
        started.append(km)
        return km, kc

    yield start
    for km in started:
        if km.is_alive():
            km.shutdown_kernel(now=True)


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


@pytest.fixture
def runtime():
    """A short private XDG_RUNTIME_DIR: a socket's path is at most 107 bytes."""
    d = tempfile.mkdtemp(prefix="dlrt-")
    yield pathlib.Path(d)
    # A spare left on offer would warm up beside the next tests and wait
    # for as long as pytest runs: stop it and its children (its own group).
    for _, pid in spare_states(d):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def course_folder(tmp_path):
    """A folder with a saved notebook that already holds the warmup cell."""
    folder = tmp_path / "course"
    folder.mkdir()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["// exercise: warmup\n", "fn warmup_node() {}\n"]},
    ]}
    (folder / "01-welcome.ipynb").write_text(json.dumps(nb))
    return folder


def test_a_spare_serves_the_next_kernel_as_a_cold_start_would(runtime, course_folder, start):
    env = spare_env(runtime)

    # No spare yet: the first kernel starts cold, and leaves one once settled.
    km, kc = start(env, course_folder)
    assert serving_pid(kc) == km.provisioner.process.pid
    spare = wait_for_spare(runtime)
    stop(km, kc)

    # The next kernel, for a notebook of that folder, is the spare.
    km, kc = start(dict(env, JPY_SESSION_NAME="course/01-welcome.ipynb"), course_folder)
    launcher = km.provisioner.process.pid
    assert serving_pid(kc) == spare != launcher
    assert spare_state(runtime)[1] != spare, "the spare is still offered after it was taken"
    reply, text = run(kc, "std::env::current_dir().unwrap()")
    assert str(course_folder) in text, text
    reply, text = run(kc, 'std::env::var("SPARE_TEST_MARK").unwrap()')
    assert "from-the-launch" in text, text
    reply, text = run(kc, "let n: distlab::NodeId = 3; n + 1")
    assert reply["status"] == "ok" and "4" in text, (reply, text)
    # It knows its notebook: the saved one has the warmup cell already.
    reply, text = run(kc, ":exercise warmup")
    assert reply["status"] == "ok" and "already has the solution cell of `warmup`" in text, text
    # Interrupts, by message and by SIGINT to the launcher Jupyter started.
    interrupted_loop(kc, km.interrupt_kernel)
    interrupted_loop(kc, lambda: os.kill(launcher, signal.SIGINT))
    reply, text = run(kc, "40 + 2")
    assert "42" in text, text

    # A peer that speaks nonsense on the spare's socket is turned away,
    # and the spare stays on offer.
    replacement = wait_for_spare(runtime)
    sock_path = next(spare_dir(runtime).glob("*.sock"))
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.sendall(b"hello\n")
        assert b"Refused" in s.recv(4096)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock_path))
        s.sendall(b"x" * 100_000)
    assert wait_for_spare(runtime) == replacement

    # Killing the launcher (as Jupyter does when a kernel will not stop)
    # ends the kernel it stood in for, and its runtime.
    _, text = run(kc, "std::process::id()")
    runtime_pid = int(text.strip())
    kc.stop_channels()
    os.kill(launcher, signal.SIGKILL)
    wait_gone(spare)
    wait_gone(runtime_pid)
    km.cleanup_resources()

    # A launch with another environment does not take the spare: that one
    # is stale and exits; the kernel starts cold.
    km, kc = start(dict(env, SPARE_TEST_MARK="changed"), course_folder)
    assert serving_pid(kc) == km.provisioner.process.pid
    _, text = run(kc, 'std::env::var("SPARE_TEST_MARK").unwrap()')
    assert "changed" in text, text
    wait_gone(replacement)
    stop(km, kc)


def test_a_spare_exits_with_its_jupyter_server(runtime):
    argv = KernelSpecManager().get_kernel_spec(KERNEL).argv
    config = argv[argv.index("--config") + 1]
    server = subprocess.Popen(["sleep", "600"])
    spare = subprocess.Popen([argv[0], "__spare", "--config", config, "--anchor", str(server.pid)],
                             env=spare_env(runtime), stdin=subprocess.DEVNULL)
    other_server = other = None
    try:
        assert wait_for_spare(runtime) == spare.pid
        # A second spare for the same config gives way at once.
        second = subprocess.run([argv[0], "__spare", "--config", config, "--anchor", str(server.pid)],
                                env=spare_env(runtime), timeout=30)
        assert second.returncode == 0
        # Another Jupyter server with the same config gets a spare of its
        # own, which outlives the first server.
        other_server = subprocess.Popen(["sleep", "600"])
        other = subprocess.Popen([argv[0], "__spare", "--config", config, "--anchor", str(other_server.pid)],
                                 env=spare_env(runtime), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sorted(spare_states(runtime)) != sorted([("ready", spare.pid), ("ready", other.pid)]):
            assert time.monotonic() < deadline and other.poll() is None, spare_states(runtime)
            time.sleep(0.2)
        server.kill()
        server.wait()
        assert spare.wait(timeout=15) == 0
        assert spare_state(runtime) == ("ready", other.pid)
        other_server.kill()
        other_server.wait()
        assert other.wait(timeout=15) == 0
        assert not list(spare_dir(runtime).glob("*.sock"))

        # A spare still warming up stops too, without finishing.
        server = subprocess.Popen(["sleep", "600"])
        spare = subprocess.Popen([argv[0], "__spare", "--config", config, "--anchor", str(server.pid)],
                                 env=spare_env(runtime), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while spare_state(runtime) != ("warming", spare.pid):
            assert time.monotonic() < deadline, spare_state(runtime)
            time.sleep(0.05)
        server.kill()
        server.wait()
        assert spare.wait(timeout=15) == 0
        assert lock_of(runtime, spare.pid).split()[0] == "warming", "it finished warming up first"
        assert not list(spare_dir(runtime).glob("*.sock"))
        assert not list(pathlib.Path(tempfile.gettempdir()).glob(f"distlab-kernel-{spare.pid}-*")), "work dir left"
    finally:
        for p in (server, spare, other_server, other):
            if p is not None:
                p.kill()


def test_jupyter_server_kernels_take_the_spare(runtime, course_folder):
    """Through Jupyter Server itself, which adds variables of its own to a
    kernel's environment: the second notebook's kernel is the first one's
    spare. Guards against a server that adds a per-kernel variable, which
    would quietly make every spare stale."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "spare-test-token"
    env = spare_env(runtime)
    log = open(course_folder.parent / "server.log", "w")
    server = subprocess.Popen(
        ["jupyter", "server", "--allow-root", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={course_folder}", f"--IdentityProvider.token={token}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def call(method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=30).read() or b"null")

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call("GET", "/api/status")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "Jupyter Server did not start"
                time.sleep(0.3)
        call("POST", "/api/sessions", {"path": "01-welcome.ipynb", "type": "notebook", "kernel": {"name": KERNEL}})
        spare = wait_for_spare(runtime)
        call("POST", "/api/sessions", {"path": "02-other.ipynb", "type": "notebook", "kernel": {"name": KERNEL}})
        # Taken, not stale: it stops offering itself and keeps running (as
        # the kernel), and the next spare takes the lock.
        deadline = time.monotonic() + 30
        while spare_state(runtime)[1] == spare:
            assert time.monotonic() < deadline, "the spare was not taken"
            time.sleep(0.2)
        time.sleep(1)
        assert alive(spare), "the spare exited: the server's second kernel found it stale"
    finally:
        server.terminate()
        server.wait(timeout=30)
    wait_gone(spare)
