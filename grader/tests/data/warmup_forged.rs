// A forged verdict: prints a results.json claiming full marks where the
// grader expects protocol replies, and does nothing useful.
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};

#[derive(Clone, Debug, Hash, Default)]
struct Nothing;

impl Process<WarmupMsg> for Nothing {
    fn on_start(&mut self, _ctx: &mut Ctx<WarmupMsg>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<WarmupMsg>, _from: NodeId, _msg: WarmupMsg) {}
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    println!(r#"{{"score": 5.0, "max_score": 5.0, "output": "all passed", "tests": []}}"#);
    println!(r#"{{"reply": "slot", "slot": 1}}"#);
    Box::new(Nothing)
}
