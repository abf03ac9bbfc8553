"""Execute kernel/tests/notebooks/smoke.ipynb headless with nbclient: plain
output, a mid-cell display, :exercise, a passing and a failing :check (with
its space-time diagram), and a panicking last cell that fails the run."""

import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = pathlib.Path(__file__).parent
NB = HERE / "notebooks" / "smoke.ipynb"


def run(nb):
    client = NotebookClient(nb, kernel_name="distlab", timeout=180, startup_timeout=180)
    # Record when each output arrives, to see streaming.
    arrivals = []
    orig = client.output

    def output(outs, msg, display_id, cell_index):
        arrivals.append((time.time(), cell_index, msg["msg_type"]))
        return orig(outs, msg, display_id, cell_index)

    client.output = output
    done = {}
    orig_exec = client.async_execute_cell

    async def execute_cell(cell, cell_index, **kw):
        try:
            return await orig_exec(cell, cell_index, **kw)
        finally:
            done[cell_index] = time.time()

    client.async_execute_cell = execute_cell
    return client, arrivals, done


def test_smoke_notebook_runs_and_panicking_cell_fails():
    nb = nbformat.read(NB, as_version=4)
    client, arrivals, done = run(nb)
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "boom: the last cell panics" in str(info.value)

    cells = nb.cells
    # Cell 0: normal stdout and a value.
    out0 = cells[0].outputs
    assert any(o.output_type == "stream" and "hello from distlab" in o.text for o in out0)
    assert any(o.output_type == "execute_result" and o.data["text/plain"] == "42" for o in out0)
    # Cell 1: rich output from the middle of the cell, streamed as display_data
    # well before the cell finished.
    out1 = cells[1].outputs
    displays = [o for o in out1 if o.output_type == "display_data"]
    assert displays and "text/html" in displays[0].data
    first_display = min(t for t, i, kind in arrivals if i == 1 and kind == "display_data")
    assert done[1] - first_display > 1.0
    # Cell 2: :exercise shows the task.
    html2 = [o.data["text/html"] for o in cells[2].outputs if o.output_type == "display_data"]
    assert html2 and "Warm-up" in html2[0]
    # Cell 3 defines a correct solution; cell 4 checks it: every public check passes.
    assert not any(o.output_type == "error" for o in cells[3].outputs)
    report = "".join(o.data.get("text/html", "") for o in cells[4].outputs if o.output_type == "display_data")
    assert "distlab-report" in report and "✔" in report
    assert "✘" not in report and "<svg" not in report
    assert "4.0 of 5 points" in report
    # Cell 5 redefines it without retries and checks at its end: a failure
    # with the space-time diagram of the failing run.
    report = "".join(o.data.get("text/html", "") for o in cells[5].outputs if o.output_type == "display_data")
    assert "✘" in report and "<svg" in report and "</svg>" in report
    assert "--scenario" in report  # the replay line
    # Cell 6: the panic is an error output.
    out6 = cells[6].outputs
    assert any(o.output_type == "error" and o.ename == "Panic" for o in out6)
