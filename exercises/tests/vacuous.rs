//! No vacuous pass: a check that saw none of the activity it judges fails
//! and says what was missing, for the classes of mistake the audit found
//! (a property of events that never happened; a bound with no work to
//! bound; a rule never reached because another broke first).
use distlab::catalogue::clocks::{period, TICKS};
use distlab::catalogue::lamport::{self, LamportMsg};
use distlab::catalogue::locks::{self, Answer, Grant, Item, LockManager, Mode, Txn, FAIR, NO_NEEDLESS_WAIT};
use distlab::catalogue::warmup::{self, WarmupMsg};
use distlab::catalogue::{Report, Run, Scope};
use distlab::check::Status;
use distlab::*;

fn failing<'a>(report: &'a Report, check: &str) -> Vec<&'a str> {
    report
        .verdicts
        .iter()
        .filter(|v| v.check == check && v.status == Status::Fail)
        .map(|v| v.message.as_str())
        .collect()
}

#[test]
fn a_silent_warmup_has_no_pong_to_judge() {
    #[derive(Clone, Debug, Hash, Default)]
    struct Silent;
    impl Process<WarmupMsg> for Silent {
        fn on_message(&mut self, _: &mut Ctx<WarmupMsg>, _: NodeId, _: WarmupMsg) {}
    }
    let report = warmup::check(Box::new(|_| Box::new(Silent)), &Run::all(1));
    let why = failing(&report, "every pong answers a ping");
    assert!(!why.is_empty() && why[0].contains("no node ever sent a Pong"), "{why:?}");
    assert_eq!(report.score(&warmup::SPEC, Scope::All), 0.0);
}

#[test]
fn a_lock_manager_that_grants_everything_never_tests_waiting_or_fairness() {
    struct Yes;
    impl LockManager for Yes {
        fn request(&mut self, _: Txn, _: Item, _: Mode) -> Answer {
            Answer::Granted
        }
        fn release(&mut self, _: Txn, _: Item) -> Vec<Grant> {
            Vec::new()
        }
    }
    let make = || Box::new(Yes) as Box<dyn LockManager>;
    let report = locks::check(&make, &Run::all(0));
    let wait = failing(&report, NO_NEEDLESS_WAIT);
    assert!(
        !wait.is_empty() && wait[0].contains("never both granted a free lock and made a blocked request wait"),
        "{wait:?}"
    );
    let fair = failing(&report, FAIR);
    assert!(!fair.is_empty() && fair[0].contains("no release ever granted a waiting request"), "{fair:?}");
    assert_eq!(report.score(&locks::SPEC, Scope::All), 0.0);
}

#[test]
fn lamport_ticks_without_messages_never_test_the_message_rules() {
    const TICK: TimerTag = 1;
    #[derive(Clone, Debug, Hash, Default)]
    struct Lonely {
        clock: u64,
        ticks: u64,
    }
    impl Process<LamportMsg> for Lonely {
        fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
            ctx.set_timer(TICK, period(ctx.me()));
        }
        fn on_message(&mut self, _: &mut Ctx<LamportMsg>, _: NodeId, _: LamportMsg) {}
        fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, _: TimerTag) {
            self.clock += 1;
            self.ticks += 1;
            ctx.observe(Observation::Clock(self.clock));
            if self.ticks < TICKS {
                ctx.set_timer(TICK, period(ctx.me()));
            }
        }
    }
    let report = lamport::check(Box::new(|_| Box::new(Lonely::default())), &Run::public(1));
    for check in [lamport::CONDITION, lamport::STAMPS, lamport::EXACT] {
        let why = failing(&report, check);
        assert!(
            !why.is_empty() && why[0].contains("rules for messages were never put to the test"),
            "{check}: {why:?}"
        );
    }
}

#[test]
fn a_silent_two_phase_commit_is_not_blocked_when_its_coordinator_dies() {
    use distlab::catalogue::twophase::{self, TpcMsg, TERMINATION};
    #[derive(Clone, Debug, Hash, Default)]
    struct Silent;
    impl Process<TpcMsg> for Silent {
        fn on_message(&mut self, _: &mut Ctx<TpcMsg>, _: NodeId, _: TpcMsg) {}
    }
    let report = twophase::check(Box::new(|_| Box::new(Silent)), &Run::public(1));
    let crashed: Vec<_> = report
        .verdicts
        .iter()
        .filter(|v| v.check == TERMINATION && v.scenario.starts_with("the coordinator crashes after the votes"))
        .collect();
    assert!(!crashed.is_empty());
    for v in crashed {
        assert_eq!(v.status, Status::Fail, "{v}");
        assert!(v.message.contains("no waiting participant had voted yes"), "{}", v.message);
    }
    assert_eq!(report.score(&twophase::SPEC, Scope::Public), 0.0);
}
