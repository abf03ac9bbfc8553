use distlab::catalogue::warmup::WarmupMsg;
use distlab::{NodeId, Process};

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    let x: u32 = "not a number";
    todo!()
}
