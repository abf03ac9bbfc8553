"""Protocol tests of the installed distlab kernel, through a real Jupyter
client (jupyter_kernel_test), plus our own checks of the kernel's behaviour.

Run with pytest from the repository venv after `distlab-kernel install
--sys-prefix` (./dev test does both).
"""

import time
import unittest

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

KERNEL = "distlab"
TIMEOUT = 120


class DistlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL
    language_name = "rust"
    file_extension = ".rs"

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("oops, on stderr");'

    completion_samples = [
        {"text": "let some_long_name = 1;\nsome_long_na", "matches": {"some_long_name"}},
        {"text": ":exerc", "matches": {":exercise"}},
    ]

    complete_code_samples = ["1 + 1", "let x = 3;", "fn f() {}", 'println!("{}", "{");']
    incomplete_code_samples = ["fn f() {", "let v = vec![1,", 'let s = "open']
    invalid_code_samples = ["}", "let x = (1, 2];"]

    code_page_something = ":doc Vec"

    code_generate_error = "let x: i32 = \"not a number\";"

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "String::from(\"ab\") + \"c\"", "result": '"abc"'},
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {
            "code": 'println!("EVCXR_BEGIN_CONTENT text/html\\n<b>bold</b>\\nEVCXR_END_CONTENT");',
            "mime": "text/html",
        },
        {
            "code": 'println!("EVCXR_BEGIN_CONTENT image/svg+xml\\n<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>\\nEVCXR_END_CONTENT");',
            "mime": "image/svg+xml",
        },
    ]

    code_inspect_sample = "Vec"

    code_clear_output = 'println!("before"); println!("DISTLAB_CLEAR_OUTPUT");'

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, startup_timeout=TIMEOUT)
        # The first cell of a kernel is the slowest (evcxr's first build);
        # run it here, so the library's tests (15 s timeouts) do not race it
        # on a busy machine.
        reply = cls.kc.execute_interactive("let warm_up = 1;", timeout=TIMEOUT)
        assert reply["content"]["status"] == "ok", reply

    # ---- our own checks, beyond jupyter_kernel_test ----

    def run_cell(self, code, timeout=TIMEOUT):
        self.flush_channels()
        return self.execute_helper(code=code, timeout=timeout)

    def test_distlab_is_preloaded(self):
        reply, _ = self.run_cell("extern crate distlab;")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_panic_is_an_error(self):
        reply, msgs = self.run_cell("let a = 1;\nassert_eq!(a, 2, \"a should be two\");")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Panic")
        self.assertIn("a should be two", reply["content"]["evalue"])
        errors = [m for m in msgs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        # The panic message also streamed on stderr, before the error.
        kinds = [m["msg_type"] for m in msgs]
        self.assertLess(kinds.index("stream"), kinds.index("error"))

    def test_compile_error_has_cell_line_numbers(self):
        reply, _ = self.run_cell("let a = 1;\n\nlet b: String = a;")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "CompileError")
        self.assertIn("mismatched types", reply["content"]["evalue"])
        tb = "\n".join(reply["content"]["traceback"])
        self.assertIn("cell:3:", tb)

    def test_unknown_magic_lists_known(self):
        reply, _ = self.run_cell(":frobnicate 1")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn(":exercise", reply["content"]["evalue"])
        self.assertIn(":dep", reply["content"]["evalue"])

    def test_unknown_exercise_lists_the_exercises(self):
        reply, _ = self.run_cell(":check ex1")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "UnknownExercise")
        self.assertIn("warmup", reply["content"]["evalue"])
        self.assertIn("lamport", reply["content"]["evalue"])

    def test_stop_on_error_aborts_queued_executes(self):
        self.flush_channels()
        failing = self.kc.execute('panic!("stop here");')
        queued = self.kc.execute("let never_defined_here = 1;")
        replies = {}
        while len(replies) < 2:
            msg = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[msg["parent_header"]["msg_id"]] = msg["content"]
        self.assertEqual(replies[failing]["status"], "error")
        self.assertEqual(replies[queued]["status"], "aborted")
        # An aborted cell never ran: no execution count to show as its prompt.
        self.assertIsNone(replies[queued].get("execution_count"))
        # Without stop_on_error the next request runs.
        failing = self.kc.execute('panic!("again");', stop_on_error=False)
        queued = self.kc.execute("1 + 1")
        replies = {}
        while len(replies) < 2:
            msg = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[msg["parent_header"]["msg_id"]] = msg["content"]
        self.assertEqual(replies[failing]["status"], "error")
        self.assertEqual(replies[queued]["status"], "ok")
        # A new execute after the abort runs normally.
        reply, _ = self.run_cell("2 + 2")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_evcxr_commands_pass_through(self):
        self.run_cell("let kept_var = 5u8;")
        reply, msgs = self.run_cell(":vars")
        self.assertEqual(reply["content"]["status"], "ok")
        text = str([m["content"] for m in msgs])
        self.assertIn("kept_var", text)

    def test_variables_persist(self):
        self.run_cell("let persisted = 20;")
        reply, msgs = self.run_cell("persisted + 1")
        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "21")

    def test_stderr_arrives_before_idle(self):
        # Many stderr lines at the very end of a cell: all must precede idle.
        reply, msgs = self.run_cell('for i in 0..200 { eprintln!("line {i}"); }')
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
        self.assertIn("line 199", text)

    def test_display_streams_before_cell_ends(self):
        code = (
            'println!("EVCXR_BEGIN_CONTENT text/html\\n<i>early</i>\\nEVCXR_END_CONTENT");\n'
            "std::thread::sleep(std::time::Duration::from_millis(1500));\n"
            'println!("late");'
        )
        self.flush_channels()
        msg_id = self.kc.execute(code)
        t0 = time.time()
        seen_display = None
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "display_data":
                seen_display = time.time()
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                t_idle = time.time()
                break
        self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertIsNotNone(seen_display)
        self.assertGreater(t_idle - seen_display, 1.0, "display_data came only at the end")

    def test_is_complete_indent(self):
        self.flush_channels()
        self.kc.is_complete("fn f() {")
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "incomplete")
        self.assertEqual(reply["content"]["indent"], "    ")

    def test_comm_info_and_comm_open(self):
        self.flush_channels()
        self.kc.comm_info()
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})
        # comm_open gets no reply; the kernel must stay responsive.
        msg = self.kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "nope", "data": {}})
        self.kc.shell_channel.send(msg)
        # The kernel closes the unknown comm again (comm_close on iopub,
        # which jupyter_kernel_test's validator doesn't know: drain by hand).
        closed = False
        deadline = time.time() + 30
        while time.time() < deadline and not closed:
            m = self.kc.get_iopub_msg(timeout=30)
            closed = m["msg_type"] == "comm_close" and m["content"]["comm_id"] == "c1"
        self.assertTrue(closed)
        while True:
            m = self.kc.get_iopub_msg(timeout=5)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        reply = self.kc.execute_interactive("1", timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")


class InterruptAndRestartTests(unittest.TestCase):
    """Interrupt (control message) stops a running cell; restart works."""

    def setUp(self):
        self.km, self.kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT)

    def tearDown(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def test_interrupt_stops_cell_and_kernel_recovers(self):
        self.kc.execute_interactive("fn helper() -> i32 { 7 }", timeout=TIMEOUT)
        msg_id = self.kc.execute("loop { std::thread::sleep(std::time::Duration::from_millis(50)); }")
        time.sleep(3)
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=60)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        # Definitions survive the interrupt.
        reply = self.kc.execute_interactive("helper()", timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")

    def test_restart(self):
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=TIMEOUT)
        reply = self.kc.execute_interactive("2 + 2", timeout=TIMEOUT)
        self.assertEqual(reply["content"]["status"], "ok")

    def test_heartbeat(self):
        self.assertTrue(self.km.is_alive())
        time.sleep(2)
        self.assertTrue(self.kc.hb_channel.is_beating())
