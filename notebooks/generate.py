#!/usr/bin/env python3
"""Writes the instructor notebooks (*.ipynb in this directory) from the
content modules in src/.

    python3 notebooks/generate.py          # write the notebooks
    python3 notebooks/generate.py --check  # exit 1 if a committed notebook differs

The .ipynb files are the committed artefacts; this script only keeps the
repeated parts (the cells of an exercise, metadata, ids) uniform. Run it
after editing src/ and commit both. See README.md for the cell conventions.
"""

import importlib.util
import json
import re
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE / "src"

KERNELSPEC = {"display_name": "Rust (distlab)", "language": "rust", "name": "distlab"}
LANGUAGE_INFO = {"file_extension": ".rs", "mimetype": "text/rust", "name": "Rust"}

# Each exercise's one source is its solution cell, written once at the end
# of its module (exercises/src/catalogue/<id>.rs) between `// BEGIN CELL` and
# `// END CELL`, solution regions marked: the crate compiles it as the
# reference and derives the scaffold from it. The direct check calls the
# module's `check` on the expression its `solution:` line names.
CATALOGUE = HERE.parent / "exercises" / "src" / "catalogue"
SOLUTION_LINE = re.compile(r"^    solution: .*? = (.*),$", re.MULTILINE)


def _module(ex_id):
    return (CATALOGUE / f"{ex_id}.rs").read_text(encoding="utf-8")


def solution_source(ex_id):
    """The cell's lines, less the indentation of `// BEGIN CELL` (as
    distlab::markers::cell_source reads them)."""
    lines = _module(ex_id).splitlines()
    begin = [i for i, l in enumerate(lines) if l.strip() == "// BEGIN CELL"]
    end = [i for i, l in enumerate(lines) if l.strip() == "// END CELL"]
    assert len(begin) == 1 and len(end) == 1, f"{ex_id}: one BEGIN CELL and one END CELL line"
    indent = lines[begin[0]][: len(lines[begin[0]]) - len(lines[begin[0]].lstrip())]
    out = []
    for line in lines[begin[0] + 1 : end[0]]:
        assert line.startswith(indent) or not line.strip(), f"{ex_id}: cell line indented less than BEGIN CELL"
        out.append(line[len(indent):] if line.strip() else "")
    return "\n".join(out) + "\n"


def solution_expression(ex_id):
    found = SOLUTION_LINE.search(_module(ex_id))
    assert found, f"{ex_id}: no one-line `solution: TYPE = EXPRESSION,` in its exercise_source!"
    return found.group(1)


# The seed of the direct checks: a fixed one, so the notebook's output is
# the same on every run. Submitting grades your own seed.
DEMO_SEED = 2024


def _lines(text):
    text = text.strip("\n")
    return text.splitlines(keepends=True)


def md(text, tags=None, **distlab):
    cell = {"cell_type": "markdown", "metadata": {}, "source": _lines(text)}
    return _meta(cell, tags, distlab)


def code(text, tags=None, **distlab):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": _lines(text)}
    return _meta(cell, tags, distlab)


def _meta(cell, tags, distlab):
    if tags:
        cell["metadata"]["tags"] = list(tags)
    if distlab:
        cell["metadata"]["distlab"] = dict(distlab)
    return cell


def exercise(ex_id):
    """The cells every exercise has, in this order: `:exercise`, the solution
    cell (first line `// exercise: ID`, then the exercise's one source),
    the check called directly in Rust, `:check`, and `:submit` (tagged
    skip-ci: CI never submits)."""
    check_fn, solution_expr = f"distlab::catalogue::{ex_id}::check", solution_expression(ex_id)
    solution = solution_source(ex_id).strip("\n")
    assert "// BEGIN SOLUTION" in solution, ex_id
    return [
        code(f":exercise {ex_id}", exercise=ex_id, role="task"),
        code(f"// exercise: {ex_id}\n{solution}", exercise=ex_id, role="solution"),
        md(
            "Check it right here: this cell calls the exercise's check function directly, the same one "
            f"`:check {ex_id}` runs, with a fixed demo seed. A row per check; a failing run comes with its "
            "seed, a replay line and, for algorithms, a space-time diagram."
        ),
        code(
            f"let report = {check_fn}({solution_expr}, &distlab::catalogue::Run::public({DEMO_SEED}));\n"
            "distlab::catalogue::render::show(&report);",
            exercise=ex_id,
            role="check",
        ),
        code(f":check {ex_id}", exercise=ex_id, role="magic-check"),
        md(
            "When the checks pass, submit. The grader runs the same checks on your own seed, plus hidden "
            "scenarios. (Submitting needs `:login URL TOKEN` once per session; see the welcome notebook.)"
        ),
        code(f":submit {ex_id}", tags=["skip-ci"], exercise=ex_id, role="submit"),
    ]


def notebook(stem, cells):
    for i, cell in enumerate(cells):
        cell["id"] = f"{stem[:2]}-{i:03d}"
    return {
        "cells": cells,
        "metadata": {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(nb):
    # nbformat's own layout: sorted keys, one-space indent, a final newline.
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load_sources():
    sys.path.insert(0, str(HERE))
    out = {}
    for path in sorted(SRC.glob("nb*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out[module.STEM + ".ipynb"] = render(notebook(module.STEM, module.cells()))
    return out


def main(argv):
    check = "--check" in argv
    stale = []
    for name, text in load_sources().items():
        target = HERE / name
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent)}")
    if stale:
        print("out of date (run python3 notebooks/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
