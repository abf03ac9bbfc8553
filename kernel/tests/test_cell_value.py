"""How a cell's final value is shown (kernel/src/cell_value.rs): a Debug
value in one compile, and evcxr's own value settings still obeyed.

With `:timing` on, the kernel lists evcxr's phases after each cell; evcxr
names its second, fallback compile "Fallback", so its absence shows the
value took a single compile.
"""

import unittest

from jupyter_client.manager import start_new_kernel

KERNEL = "distlab"
TIMEOUT = 180


class CellValueTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT)
        cls.run_cell(":timing")

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    @classmethod
    def run_cell(cls, code):
        """Run code; return (its value's data, the timing line or None)."""
        msgs = []
        reply = cls.kc.execute_interactive(code, timeout=TIMEOUT, output_hook=msgs.append)
        assert reply["content"]["status"] == "ok", (code, reply["content"])
        value = [m["content"]["data"] for m in msgs if m["msg_type"] == "execute_result"]
        shown = [m["content"]["data"].get("text/plain", "") for m in msgs if m["msg_type"] == "display_data"]
        timing = [t for t in shown if t.startswith("took ")]
        return (value[-1] if value else None), (timing[-1] if timing else None)

    def assert_one_compile(self, timing):
        self.assertIsNotNone(timing)
        self.assertIn("final compile", timing)
        self.assertNotIn("fallback", timing)

    def test_debug_values_take_one_compile(self):
        for code, text in [("vec![1, 2, 3]", "[1, 2, 3]"), ('"hi"', '"hi"'), ("Some(2.5)", "Some(2.5)")]:
            value, timing = self.run_cell(code)
            self.assertEqual(value["text/plain"], text)
            self.assert_one_compile(timing)
        value, timing = self.run_cell("#[derive(Debug)] struct Pt { x: i32 }\nPt { x: 3 }")
        self.assertEqual(value["text/plain"], "Pt { x: 3 }")
        self.assert_one_compile(timing)

    def test_a_type_with_its_own_display_keeps_it(self):
        # distlab::Html has an inherent evcxr_display: rich output, not Debug.
        msgs = []
        self.kc.execute_interactive('distlab::Html("<b>bold</b>".into())', timeout=TIMEOUT, output_hook=msgs.append)
        html = [m["content"]["data"].get("text/html") for m in msgs if m["msg_type"] in ("display_data", "execute_result")]
        self.assertIn("<b>bold</b>", html)

    def test_fmt_and_types_are_still_obeyed(self):
        try:
            self.run_cell(":fmt {:#?}")
            value, _ = self.run_cell("vec![1]")
            self.assertEqual(value["text/plain"], "[\n    1,\n]")
            self.run_cell(":fmt {:?}")
            value, timing = self.run_cell("vec![1]")
            self.assertEqual(value["text/plain"], "[1]")
            self.assert_one_compile(timing)
            self.run_cell(":types")
            value, _ = self.run_cell("5u8")
            self.assertEqual(value["text/plain"], ": u8 = 5")
        finally:
            self.run_cell(":fmt {:?}")
            value, _ = self.run_cell(":types")
            if "true" in value["text/plain"]:
                self.run_cell(":types")

    def test_clear_keeps_the_course_crate_and_one_compile(self):
        self.run_cell(":clear")
        value, timing = self.run_cell("distlab::catalogue::registry().len() > 0")
        self.assertEqual(value["text/plain"], "true")
        self.assert_one_compile(timing)


if __name__ == "__main__":
    unittest.main()
