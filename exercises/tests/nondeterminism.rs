//! A node that behaves differently when the explorer replays the same path
//! (here: a vote that flips after a number of calls, counted in a static)
//! is the student's failure, in plain words, and never a panic of the
//! checker, in debug or release builds.
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use distlab::catalogue::twophase::{self, TpcMsg, BLOCKING};
use distlab::catalogue::Run;
use distlab::check::{Status, NODES_RUN_CLEANLY};
use distlab::process::NodeFactory;
use distlab::*;

/// Prepares handled so far, by every participant of every run.
static PREPARES: AtomicU64 = AtomicU64::new(0);
/// After this many prepares, participants vote no.
static FLIP_AFTER: AtomicU64 = AtomicU64::new(u64::MAX);

/// A participant whose vote depends on a counter outside its state.
#[derive(Clone, Debug, Hash, Default)]
struct Flaky {
    decided: bool,
}

impl Process<TpcMsg> for Flaky {
    fn on_message(&mut self, ctx: &mut Ctx<TpcMsg>, _from: NodeId, msg: TpcMsg) {
        let decide = |ctx: &mut Ctx<TpcMsg>, done: &mut bool, d: Decision| {
            if !*done {
                *done = true;
                ctx.observe(Observation::Decide(d));
            }
        };
        match msg {
            TpcMsg::Prepare => {
                let yes = PREPARES.fetch_add(1, Ordering::SeqCst) < FLIP_AFTER.load(Ordering::SeqCst);
                if !yes {
                    decide(ctx, &mut self.decided, Decision::Abort);
                }
                ctx.send(0, TpcMsg::Vote(yes));
            }
            TpcMsg::Commit => decide(ctx, &mut self.decided, Decision::Commit),
            TpcMsg::Abort => decide(ctx, &mut self.decided, Decision::Abort),
            _ => {}
        }
    }
}

fn flaky() -> Box<NodeFactory<TpcMsg>> {
    Box::new(|id| if id == 0 { twophase::reference::solution()(id) } else { Box::new(Flaky::default()) })
}

const SAYS: &str = "behaved differently when the same inputs were replayed";

#[test]
fn a_vote_that_flips_between_exploring_and_replaying_fails_in_plain_words() {
    // Somewhere in this sweep the flip falls between the explorer finding
    // its path and replaying it.
    let mut caught = None;
    for flip in 0..400 {
        PREPARES.store(0, Ordering::SeqCst);
        FLIP_AFTER.store(flip, Ordering::SeqCst);
        let (verdict, trace) = twophase::explore_blocking(Rc::from(flaky()));
        assert_eq!(verdict.check, BLOCKING);
        if verdict.message.contains(SAYS) {
            assert!(trace.is_none(), "a replay that went differently is no counterexample to draw");
            caught = Some(verdict);
            break;
        }
    }
    let verdict = caught.expect("some flip point makes the replay differ");
    assert_eq!(verdict.status, Status::Fail, "{verdict}");
    assert!(verdict.message.contains("must depend only on its state and the inputs"), "{}", verdict.message);

    // The whole check runs through too, whatever the counter does.
    PREPARES.store(0, Ordering::SeqCst);
    FLIP_AFTER.store(40, Ordering::SeqCst);
    let report = twophase::check(flaky(), &Run::public(3));
    assert!(!report.verdicts.is_empty());
}

#[test]
fn a_deterministic_node_still_replays_cleanly() {
    let (verdict, trace) = twophase::explore_blocking(Rc::from(twophase::reference::solution()));
    assert_eq!(verdict.status, Status::Pass, "{verdict}");
    assert!(trace.is_some());
    assert!(!verdict.message.contains(SAYS));
    let _ = NODES_RUN_CLEANLY;
}
