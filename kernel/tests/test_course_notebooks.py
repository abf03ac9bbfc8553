"""Runs every instructor notebook in notebooks/ headless on the distlab kernel.

For each notebook: every code cell runs in order in one kernel, except cells
tagged `skip-ci` (`:login URL TOKEN`, `:submit`: CI never talks to a course server;
`:login` alone only reports)
and, while the kernel's course magics still answer "not available yet",
cells made only of `:exercise`/`:check` lines. No cell may produce an error,
and every exercise's direct check (cell metadata distlab.role == "check")
must show all its checks passing.

Without a kernel: the notebooks' structure, and that notebooks/generate.py
reproduces the committed files.
"""

import pathlib
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
COURSE = ROOT / "notebooks"
NOTEBOOKS = sorted(COURSE.glob("*.ipynb"))
COURSE_MAGICS = (":exercise", ":check", ":submit", ":login")
EXERCISE_ROLES = ["task", "solution", "check", "magic-check", "submit"]
# What the HTML report says when every check it ran passed.
ALL_PASS = re.compile(r"(\d+) checks: (\d+) pass, 0 fail, 0 unknown")


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def role(cell):
    return cell.get("metadata", {}).get("distlab", {}).get("role")


def magic_only(cell):
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith(COURSE_MAGICS) for line in lines)


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def html_of(cell):
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if o.output_type == "display_data")


def test_generator_reproduces_the_committed_notebooks():
    done = subprocess.run([sys.executable, str(COURSE / "generate.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "distlab"
    cells = nb.cells
    for i, cell in enumerate(cells):
        first = cell.source.splitlines()[0] if cell.source else ""
        if cell.cell_type == "code" and first.startswith("// exercise:"):
            ex = first.split(":", 1)[1].strip()
            group = [c for c in cells if c.get("metadata", {}).get("distlab", {}).get("exercise") == ex]
            assert [role(c) for c in group] == EXERCISE_ROLES, f"{path.name}: cells of {ex}"
            assert group[0].source == f":exercise {ex}" and group[3].source == f":check {ex}"
            assert group[4].source == f":submit {ex}" and "skip-ci" in tags(group[4])
            assert "// BEGIN SOLUTION" in cell.source, f"{path.name}: {ex} has no solution region"
        logs_in = any(line.strip().startswith(":login ") for line in cell.source.splitlines())
        if cell.cell_type == "code" and (":submit" in cell.source or logs_in):
            assert "skip-ci" in tags(cell), f"{path.name} cell {i}: CI must not submit or log in"


def course_magics_available(client, nb):
    """Runs `:exercise warmup` once: the kernel either has the course magics
    or says they are not available yet."""
    probe = nbformat.v4.new_code_cell(":exercise warmup")
    nb.cells.append(probe)
    try:
        client.execute_cell(probe, len(nb.cells) - 1)
    finally:
        nb.cells.pop()
    return not any("not available" in (e.evalue + "".join(e.traceback)) for e in errors(probe))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_every_exercise_passes(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="distlab", timeout=240, startup_timeout=180, allow_errors=True)
    checked, exercises = [], [c for c in nb.cells if role(c) == "solution"]
    with client.setup_kernel():
        magics = course_magics_available(client, nb)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or "skip-ci" in tags(cell) or (magic_only(cell) and not magics):
                continue
            client.execute_cell(cell, i)
            bad = errors(cell)
            assert not bad, f"{path.name} cell {i} ({role(cell)}): {bad[0].ename}: {bad[0].evalue}"
            if role(cell) == "check":
                html = html_of(cell)
                ran = ALL_PASS.search(html)
                assert ran and ran.group(1) == ran.group(2), f"{path.name} cell {i}: not every check passes:\n{html[:2000]}"
                checked.append(cell.metadata.distlab.exercise)
    assert len(checked) == len(exercises) > 0, f"{path.name}: checked {checked}"
