"""A student's day in the real JupyterLab, in headless Chromium, against the
real grader and kernel; then the instructor's dashboard in the same browser.

Set-up (module fixture, everything in a temp dir but the sandbox's prepared
directory): a grader with one student and one instructor (`distlab-grader
roster import`, `instructor add`, `serve --workers 1`), the student notebooks
(`distlab-grader release`), and `jupyter lab` on them with the kernel logged
in as the student (DISTLAB_GRADER_URL / DISTLAB_TOKEN). `window.jupyterapp`
(`--LabApp.expose_app_in_browser`) lets the test set a cell's text through
JupyterLab's own model and run JupyterLab's commands (`notebook:run-cell`,
`docmanager:save`) instead of typing into CodeMirror.

The path: open 01-welcome.ipynb; `:exercise warmup` shows the task and adds
no second solution cell; a wrong solution fails `:check warmup` with a
diagram; the right one (the exercise's one source, markers removed) passes
and `:submit warmup` shows the grade from the sandbox; save; the instructor's
gradebook shows the score; a second release keeps the edited notebook.

Binaries: DISTLAB_GRADER_BIN (default target/debug/distlab-grader, under
CARGO_TARGET_DIR if set), `jupyter` next to sys.executable; the prepared
directory: DISTLAB_PREPARED (default var/prepared, made or refreshed by
`distlab-grader prepare`). Screenshots of every step go to
$DISTLAB_TEST_ARTIFACTS/jupyterlab/ (default target/test-artifacts).
"""

import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
GRADER_BIN = pathlib.Path(os.environ.get("DISTLAB_GRADER_BIN") or TARGET / "debug" / "distlab-grader")
PREPARED = pathlib.Path(os.environ.get("DISTLAB_PREPARED") or ROOT / "var" / "prepared")
ARTIFACTS = pathlib.Path(os.environ.get("DISTLAB_TEST_ARTIFACTS") or ROOT / "target" / "test-artifacts") / "jupyterlab"
JUPYTER = pathlib.Path(sys.executable).parent / "jupyter"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

STUDENT, INSTRUCTOR = "ada", "prof"
NOTEBOOK = "01-welcome.ipynb"

# Timeouts (seconds). The machine may be busy: generous, never open-ended.
SERVICE_START = 60  # grader, JupyterLab answering
PAGE = 60  # JupyterLab's page and widgets, the dashboard
KERNEL_START = 120  # the kernel starts (evcxr, ~10 s) and is idle
CELL = 180  # one cell runs (`:check` runs many simulations)
GRADE = 180  # `:submit` waits up to 120 s for the sandbox's grade

# The wrong answer: node 0 pings everyone once, and nobody ever answers.
WRONG_SOLUTION = """// exercise: warmup
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};

#[derive(Clone, Debug, Hash, Default)]
struct Deaf;

impl Process<WarmupMsg> for Deaf {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            for peer in ctx.peers().collect::<Vec<_>>() {
                ctx.send(peer, WarmupMsg::Ping(peer as u64));
            }
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<WarmupMsg>, _from: NodeId, _msg: WarmupMsg) {}
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Deaf)
}
"""

# The verdict table's summary line (distlab::display).
SUMMARY = re.compile(r"(\d+) checks: (\d+) pass, (\d+) fail, (\d+) unknown")


def right_solution():
    """The exercise's one source (exercises/src/catalogue/warmup.rs, between
    `// BEGIN CELL` and `// END CELL`, see distlab::markers) as a student who
    solved it writes it, under the `// exercise:` line: the solution regions
    kept without their marker lines, the starter blocks (the scaffold's
    placeholders the solution replaces) left out."""
    lines = (ROOT / "exercises/src/catalogue/warmup.rs").read_text().splitlines()
    heads = [line.strip() for line in lines]
    begin, end = heads.index("// BEGIN CELL"), heads.index("// END CELL")
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    body, in_starter = [], False
    for line in lines[begin + 1:end]:
        marker = line.strip()
        if marker in ("// BEGIN STARTER", "// END STARTER"):
            in_starter = marker == "// BEGIN STARTER"
        elif marker not in ("// BEGIN SOLUTION", "// END SOLUTION") and not in_starter:
            body.append(line[indent:])
    assert body and not in_starter, "warmup.rs: no cell, or an unclosed starter block"
    return "// exercise: warmup\n" + "\n".join(body) + "\n"


# ---------------------------------------------------------------- services

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, n=30):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError as e:
        return f"(no log: {e})"


def wait_until(what, probe, timeout, showed, interval=0.25):
    """Polls `probe` until it returns something truthy and returns that; on
    timeout fails saying what was expected and what `showed()` says was there."""
    deadline = time.monotonic() + timeout
    error = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (OSError, WebDriverException) as e:
            error = e
        if time.monotonic() > deadline:
            seen = showed()
            if error is not None:
                seen += f"\n(last error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
            pytest.fail(f"waited {timeout} s for {what}; instead:\n{seen}", pytrace=False)
        time.sleep(interval)


def answers(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


def wait_for_service(name, proc, url, log):
    def up():
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode} before answering {url}:\n{log_tail(log)}")
        return answers(url)
    wait_until(f"{name} to answer {url}", up, SERVICE_START, lambda: f"{name}'s log:\n{log_tail(log)}")


def stop(proc, timeout=15):
    """TERM, then KILL if it is still there after `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Grader:
    def __init__(self, home):
        self.home = home  # the grader's working dir: db, cache, var/tokens
        self.proc = None
        self.url = None

    def cli(self, *args, stdin=None):
        cmd = [str(GRADER_BIN), "--db", str(self.home / "distlab.db"), "--cache", str(self.home / "cache"),
               "--prepared", str(PREPARED), "--workspace", str(ROOT), *args]
        done = subprocess.run(cmd, cwd=self.home, input=stdin, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def serve(self):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = self.home / "serve.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(GRADER_BIN), "--db", str(self.home / "distlab.db"), "--cache", str(self.home / "cache"),
                 "--prepared", str(PREPARED), "--workspace", str(ROOT),
                 "serve", "--addr", f"127.0.0.1:{port}", "--workers", "1"],
                cwd=self.home, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for_service("the grader", self.proc, f"{self.url}/healthz", self.log)


class JupyterLab:
    def __init__(self, home, notebooks, env):
        self.token = secrets.token_hex(16)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / "jupyter.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(JUPYTER), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
                 "--ServerApp.port_retries=0", f"--ServerApp.root_dir={notebooks}",
                 f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True"],
                cwd=notebooks, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self):
        wait_for_service("JupyterLab", self.proc, f"{self.url}/api/status?token={self.token}", self.log)

    def shut_down(self):
        # Kernels first, through the API: then nothing outlives the server.
        try:
            req = urllib.request.Request(f"{self.url}/api/kernels?token={self.token}")
            with urllib.request.urlopen(req, timeout=5) as r:
                kernels = json.load(r)
            for k in kernels:
                req = urllib.request.Request(f"{self.url}/api/kernels/{k['id']}?token={self.token}", method="DELETE")
                urllib.request.urlopen(req, timeout=15).close()
        except OSError:
            pass
        stop(self.proc)


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1400,1000", f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    # The driver's path given: Selenium Manager never runs (nothing to download).
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile.parent / "chromedriver.log"))
    return webdriver.Chrome(service=service, options=options)


class Screenshots:
    """NN-step.png, numbered in the order taken."""

    def __init__(self, driver):
        self.driver, self.n = driver, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def take(self, step):
        self.n += 1
        path = ARTIFACTS / f"{self.n:02d}-{step}.png"
        try:
            self.driver.save_screenshot(str(path))
        except WebDriverException as e:
            print(f"no screenshot {path.name}: {e}")
            return None
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Grader, released notebooks, JupyterLab and Chromium; all stopped at
    the end, whatever happened."""
    for path, what in [(GRADER_BIN, "the grader (cargo build -p distlab-grader, or set DISTLAB_GRADER_BIN)"),
                       (JUPYTER, "jupyter next to this Python (pip install jupyterlab)"),
                       (CHROMIUM, "chromium (./dev test installs it)"),
                       (CHROMEDRIVER, "chromedriver (./dev test installs it)")]:
        assert pathlib.Path(path).exists(), f"{path} is missing: this test needs {what}"
    tmp = tmp_path_factory.mktemp("lab")
    grader = Grader(tmp / "grader")
    grader.home.mkdir()
    lab = None
    driver = None
    try:
        # Cheap when the prepared directory is up to date with the sources.
        PREPARED.parent.mkdir(parents=True, exist_ok=True)
        grader.cli("prepare")
        roster = grader.home / "roster.csv"
        roster.write_text(f"id,name,email\n{STUDENT},Ada Lovelace,ada@example.org\n")
        grader.cli("roster", "import", str(roster))
        token = (grader.home / "var" / "tokens" / f"{STUDENT}.token").read_text().strip()
        password = secrets.token_hex(12)
        grader.cli("instructor", "add", INSTRUCTOR, "--password-stdin", stdin=password + "\n")
        grader.serve()

        notebooks = tmp / "notebooks"
        release = lambda: grader.cli("release", "--src", str(ROOT / "notebooks"), "--out", str(notebooks))  # noqa: E731
        release()

        home = tmp / "home"
        settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        # No "get Jupyter news?" toast over the screenshots.
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ)
        env.update({
            "DISTLAB_GRADER_URL": grader.url,
            "DISTLAB_TOKEN": token,
            # The kernel's login file and outbox, JupyterLab's state: all here.
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        })
        lab = JupyterLab(tmp, notebooks, env)
        lab.wait_ready()
        profile = tmp / "chromium-profile"
        profile.mkdir()
        driver = start_browser(profile)
        yield {"grader": grader, "lab": lab, "driver": driver, "notebooks": notebooks, "release": release,
               "password": password, "tmp": tmp}
    finally:
        if driver is not None:
            try:
                driver.quit()
            except WebDriverException:
                pass
        if lab is not None:
            lab.shut_down()
        stop(grader.proc)


# ------------------------------------------------------- JupyterLab helpers

# Evaluated before each snippet: the open notebook through JupyterLab's own
# objects (window.jupyterapp). `panel` is null until a notebook is current.
PRELUDE = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget && app.shell.currentWidget.content
    && app.shell.currentWidget.content.widgets && app.shell.currentWidget.sessionContext
    ? app.shell.currentWidget : null;
const nb = panel ? panel.content : null;
const source = (cell) => cell.model.sharedModel.getSource();
"""


class Lab:
    """The JupyterLab page in the browser."""

    def __init__(self, driver, lab, shots):
        self.driver, self.lab, self.shots = driver, lab, shots

    def js(self, body, *args):
        return self.driver.execute_script(PRELUDE + body, *args)

    def state(self):
        """What the page shows, for failure messages."""
        try:
            state = self.js("""
                if (!panel) return {url: location.href, title: document.title,
                                    body: document.body ? document.body.innerText.slice(0, 2000) : null};
                const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
                return {notebook: panel.context.path, kernel: k ? k.status : null,
                        kernelName: panel.sessionContext.kernelDisplayName,
                        dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText),
                        cells: nb.widgets.map((c, i) => ({i, type: c.model.type,
                            head: source(c).split('\\n')[0].slice(0, 60),
                            output: c.outputArea ? c.outputArea.node.textContent.slice(0, 300) : ''}))};
            """)
            if "cells" not in state:
                return json.dumps(state, ensure_ascii=False)
            cells = [f"  [{c['i']}] {c['type']} {c['head']!r}" + (f" -> {c['output']!r}" if c["output"] else "")
                     for c in state.pop("cells")]
            return json.dumps(state, ensure_ascii=False) + "\n" + "\n".join(cells)
        except WebDriverException as e:
            return f"(page state unavailable: {e})"

    def wait(self, what, probe, timeout=PAGE):
        try:
            return wait_until(what, probe, timeout, self.state)
        except BaseException:
            self.shots.take("timeout")
            raise

    def open_notebook(self, path):
        self.driver.get(f"{self.lab.url}/lab/tree/{path}?token={self.lab.token}")
        self.wait(f"JupyterLab to open {path}", lambda: self.js(
            "return !!(panel && panel.context.path === arguments[0] && panel.context.isReady"
            " && nb.widgets.length > 0);", path))

    def wait_kernel_idle(self, timeout=KERNEL_START):
        self.wait("the notebook's kernel, Rust (distlab), to be started and idle", lambda: self.js("""
            const s = panel && panel.sessionContext;
            return !!(s && s.isReady && s.session && s.session.kernel && s.session.kernel.name === 'distlab'
                      && s.session.kernel.connectionStatus === 'connected' && s.session.kernel.status === 'idle');
        """), timeout)

    def cell_count(self):
        return self.js("return nb.widgets.length;")

    def cell_source(self, index):
        return self.js("return source(nb.widgets[arguments[0]]);", index)

    def cell(self, marker):
        """Index of the one cell whose first line is `marker` (an int passes through)."""
        if isinstance(marker, int):
            return marker
        found = self.js("""
            return nb.widgets.map((c, i) => [i, source(c).split('\\n')[0].trim()])
                             .filter(([i, head]) => head === arguments[0]).map(([i]) => i);
        """, marker)
        assert len(found) == 1, f"expected one cell starting with {marker!r}, found {found}:\n{self.state()}"
        return found[0]

    def set_cell_source(self, marker, text):
        index = self.cell(marker)
        self.js("nb.widgets[arguments[0]].model.sharedModel.setSource(arguments[1]);", index, text)
        assert self.cell_source(index) == text, f"cell {index} did not take the new source"
        return index

    def run_cell(self, marker, timeout=CELL):
        """Selects the cell and runs `notebook:run-cell`; waits until the
        command's promise settles (reply and outputs in) and the kernel is
        idle; returns the cell's index. Fails if the cell ended in an error."""
        index = self.cell(marker)
        run_id = self.js("""
            nb.deselectAll();
            nb.activeCellIndex = arguments[0];
            const id = 'run-' + Math.random().toString(36).slice(2);
            window.__distlabRuns = window.__distlabRuns || {};
            window.__distlabRuns[id] = {state: 'running'};
            app.commands.execute('notebook:run-cell').then(
                (ok) => { window.__distlabRuns[id] = {state: 'done', ok}; },
                (e) => { window.__distlabRuns[id] = {state: 'failed', error: String(e)}; });
            return id;
        """, index)
        head = self.cell_source(index).split("\n")[0]
        result = self.wait(f"cell {index} ({head!r}) to finish running", lambda: self.js("""
            const r = window.__distlabRuns[arguments[0]];
            const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
            return r.state !== 'running' && k && k.status === 'idle' ? r : null;
        """, run_id), timeout)
        errors = self.js("""
            return nb.widgets[arguments[0]].model.outputs.toJSON()
                .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue);
        """, index)
        assert result == {"state": "done", "ok": True} and not errors, (
            f"cell {index} ({head!r}) failed: {result}, errors {errors}; output:\n{excerpt(self.output_text(index))}")
        return index

    def scroll_to(self, marker):
        """Brings the cell's output into view (JupyterLab renders only what
        is near the viewport)."""
        index = self.cell(marker)
        self.js("nb.activeCellIndex = arguments[0]; nb.scrollToItem(arguments[0], 'start');", index)
        self.wait(f"cell {index} to be on screen", lambda: self.js("""
            const r = nb.widgets[arguments[0]].node.getBoundingClientRect();
            return r.height > 0 && r.top < window.innerHeight && r.bottom > 0;
        """, index))
        return index

    def output_text(self, marker):
        """The text the cell's output area shows."""
        return self.js("""
            const c = nb.widgets[arguments[0]];
            return c.outputArea ? c.outputArea.node.textContent : '';
        """, self.cell(marker))

    def wait_output(self, marker, what, test, timeout=PAGE):
        """Waits until `test(output text)` holds, after scrolling the cell into view."""
        index = self.scroll_to(marker)
        text = self.wait(f"cell {index}'s output to show {what}", lambda: (
            lambda t: t if test(t) else None)(self.output_text(index)), timeout)
        return text

    def output_svg_size(self, marker):
        """Width and height of the first <svg> shown in the cell's output."""
        index = self.scroll_to(marker)
        return self.wait(f"a diagram (<svg>) with a size in cell {index}'s output", lambda: self.js("""
            const svg = nb.widgets[arguments[0]].outputArea.node.querySelector('svg');
            if (!svg) return null;
            const r = svg.getBoundingClientRect();
            return r.width > 50 && r.height > 20 ? [r.width, r.height] : null;
        """, index))

    def command(self, name, timeout=PAGE):
        """Runs a JupyterLab command and waits for its promise."""
        run_id = self.js("""
            const id = 'cmd-' + Math.random().toString(36).slice(2);
            window.__distlabRuns = window.__distlabRuns || {};
            window.__distlabRuns[id] = {state: 'running'};
            app.commands.execute(arguments[0]).then(
                () => { window.__distlabRuns[id] = {state: 'done'}; },
                (e) => { window.__distlabRuns[id] = {state: 'failed', error: String(e)}; });
            return id;
        """, name)
        result = self.wait(f"the command {name} to finish", lambda: self.js("""
            const r = window.__distlabRuns[arguments[0]];
            return r.state !== 'running' ? r : null;
        """, run_id), timeout)
        assert result["state"] == "done", f"{name}: {result}"


def saved_cell(path, head):
    """The source of the one cell of the saved notebook whose first line is `head`."""
    cells = [c for c in json.loads(path.read_text())["cells"]
             if "".join(c["source"]).split("\n")[0].strip() == head]
    assert len(cells) == 1, f"{path.name}: expected one cell starting with {head!r}, found {len(cells)}"
    return "".join(cells[0]["source"])


def excerpt(text, n=1500):
    """The start of a (long) output for a failure message."""
    return text if len(text) <= n else text[:n] + f"... ({len(text) - n} more characters)"


def summary(text):
    """(checks, pass, fail, unknown) of the verdict table shown, or None."""
    m = SUMMARY.search(text)
    return tuple(int(g) for g in m.groups()) if m else None


# -------------------------------------------------------------------- test

def test_a_students_day_in_jupyterlab(stack):
    shots = Screenshots(stack["driver"])
    try:
        students_day(stack, shots)
    except BaseException:
        shots.take("failure")  # what the browser showed when a check failed
        raise


def students_day(stack, shots):
    driver, lab_server, notebooks = stack["driver"], stack["lab"], stack["notebooks"]
    lab = Lab(driver, lab_server, shots)
    solution_head = "// exercise: warmup"

    # Open the notebook; the kernel starts.
    lab.open_notebook(NOTEBOOK)
    lab.wait_kernel_idle()
    shots.take("notebook-open-kernel-idle")

    # :exercise shows the task; the notebook has the solution cell already.
    before = lab.cell_count()
    lab.run_cell(":exercise warmup")
    task = lab.wait_output(":exercise warmup", "the warmup task", lambda t: "Warm-up" in t and "Node 0" in t)
    assert "already has the solution cell of `warmup`" in task, task
    assert lab.cell_count() == before, f"{lab.cell_count() - before} cell(s) inserted:\n{lab.state()}"
    lab.cell(solution_head)  # still exactly one solution cell
    shots.take("exercise-shown")

    # A wrong solution: the check fails, with a diagram of the failing run.
    lab.set_cell_source(solution_head, WRONG_SOLUTION)
    lab.run_cell(solution_head)
    lab.run_cell(":check warmup")
    failing = lab.wait_output(":check warmup", "a verdict table", summary)
    checks, passed, failed, unknown = summary(failing)
    assert failed > 0 and "✘" in failing, f"the wrong solution should fail a check:\n{excerpt(failing)}"
    lab.output_svg_size(":check warmup")
    shots.take("check-fails-with-diagram")

    # The right solution: every check passes.
    right = right_solution()
    lab.set_cell_source(solution_head, right)
    lab.run_cell(solution_head)
    lab.run_cell(":check warmup")
    passing = lab.wait_output(":check warmup", "a verdict table", summary)
    checks, passed, failed, unknown = summary(passing)
    assert checks > 0 and passed == checks, f"the right solution should pass every check:\n{excerpt(passing)}"
    shots.take("check-passes")

    # Submit: graded in the sandbox, the grade replaces the progress line.
    lab.run_cell(":submit warmup", timeout=GRADE)
    grade_re = re.compile(r"Submission #(\d+) \(warmup\): graded, score ([\d.]+) of ([\d.]+)")
    graded = lab.wait_output(":submit warmup", "the grade", grade_re.search)
    _, score, max_score = grade_re.search(graded).groups()
    assert float(score) == float(max_score) > 0, f"full marks expected:\n{excerpt(graded)}"
    shots.take("submitted-graded")

    # Save: the file on disk has the right solution.
    lab.command("docmanager:save")
    lab.wait("the notebook to be saved (not dirty)", lambda: lab.js("return !panel.context.model.dirty;"))
    saved = notebooks / NOTEBOOK
    assert saved_cell(saved, solution_head).rstrip("\n") == right.rstrip("\n"), "the saved solution cell"
    shots.take("saved")

    instructor_sees_the_score(stack, shots, float(score))

    # A second release over the edited notebook keeps the student's work.
    out = stack["release"]()
    assert f"kept your edited {NOTEBOOK}" in out, out
    assert saved_cell(saved, solution_head).rstrip("\n") == right.rstrip("\n"), (
        f"the re-release changed the student's solution in {NOTEBOOK}; release said:\n{out}")
    # And JupyterLab, reloading the file, shows it.
    lab.command("docmanager:reload")
    lab.wait("the reloaded notebook to show the right solution",
             lambda: lab.cell_source(lab.cell(solution_head)).rstrip("\n") == right.rstrip("\n"))
    lab.scroll_to(solution_head)
    shots.take("rereleased-solution-kept")


def instructor_sees_the_score(stack, shots, score):
    """The grader's dashboard, in a second tab of the same browser."""
    driver, grader = stack["driver"], stack["grader"]
    lab_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")

    def page():
        try:
            return f"{driver.current_url}\n{driver.find_element(By.TAG_NAME, 'body').text[:2000]}"
        except WebDriverException as e:
            return f"(page unavailable: {e})"

    def wait(what, probe):
        try:
            return wait_until(what, probe, PAGE, page)
        except BaseException:
            shots.take("timeout")
            raise

    def heading(text):
        return lambda: driver.find_elements(By.XPATH, f"//h1[text()='{text}']")

    driver.get(f"{grader.url}/login")
    wait("the login page", heading("Instructor login"))
    # The form carries its CSRF token; the browser sends the cookie.
    driver.find_element(By.NAME, "name").send_keys(INSTRUCTOR)
    driver.find_element(By.NAME, "password").send_keys(stack["password"])
    shots.take("dashboard-login")
    driver.find_element(By.XPATH, "//button[text()='Log in']").click()
    wait("the course overview after logging in", heading("Course overview"))
    driver.find_element(By.XPATH, "//nav/a[text()='Gradebook']").click()
    wait("the gradebook", heading("Gradebook"))

    headers = [h.text.split("\n")[0] for h in driver.find_elements(By.CSS_SELECTOR, "#gradebook tr:first-child th")]
    assert "warmup" in headers, f"no warmup column in the gradebook: {headers}"
    col = headers.index("warmup") + 1  # XPath counts from 1
    cell = f"//table[@id='gradebook']//tr[@data-student='{STUDENT}']/td[{col}]"
    shown = wait(f"{STUDENT}'s row with a warmup score",
                 lambda: [e.text.strip() for e in driver.find_elements(By.XPATH, cell) if e.text.strip()])
    assert float(shown[0]) == score, f"{STUDENT}'s warmup score on the dashboard: {shown[0]!r}, submitted {score}"
    shots.take("dashboard-score")
    driver.close()
    driver.switch_to.window(lab_tab)
