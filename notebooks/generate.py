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

# Each exercise's one source: its solution file, with the solution regions
# marked (exercises/solutions/<id>.rs). The crate compiles it as the
# reference and derives the scaffold from it; the notebook's solution cell
# is the same file. The direct check calls the exercise module's `check` on
# the expression its `solution_file!` line names.
EXERCISES_CRATE = HERE.parent / "exercises"
SOLUTION_FILE_LINE = re.compile(r'^super::solution_file!\("(\w+)", .*? = (.*)\);$', re.MULTILINE)


def solution_source(ex_id):
    return (EXERCISES_CRATE / "solutions" / f"{ex_id}.rs").read_text(encoding="utf-8")


def solution_expression(ex_id):
    module = (EXERCISES_CRATE / "src" / "catalogue" / f"{ex_id}.rs").read_text(encoding="utf-8")
    found = SOLUTION_FILE_LINE.search(module)
    assert found and found.group(1) == ex_id, f"{ex_id}: no one-line solution_file! in its module"
    return found.group(2)


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
    cell (first line `// exercise: ID`, then the exercise's solution file),
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
