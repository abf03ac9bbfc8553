//! Notebook 12, distributed shared memory: the reference (write-invalidate)
//! and a write-update solution pass over many seeds; typical mistakes fail
//! with a diagram; the false-sharing experiment shows the ping-pong.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use distlab::catalogue::dsm::{self, DsmMsg, Op};
use distlab::catalogue::{Report, Run, Scope};
use distlab::*;

fn assert_passes(check: impl Fn(&Run) -> Report, what: &str, seeds: u64) {
    let spec = &dsm::SPEC;
    let mut sims = BTreeSet::new();
    for seed in 0..seeds {
        let report = check(&Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{what}: {bad}");
        }
        assert!(report.diagram.is_none());
        assert_eq!(report.score(spec, Scope::All), spec.points as f64, "{what}");
        sims.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    println!("{what}: {} distinct simulations", sims.len());
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
}

#[test]
fn the_reference_passes() {
    assert_passes(dsm::reference::check, "write-invalidate (reference)", 25);
}

// ---------------------------------------------------------------------------
// A second solution, written differently: write-update, one write at a time
// over all pages; and the mistakes, as switches on it.

const NEXT_OP: TimerTag = 1;
const GIVE_UP: TimerTag = 1_000;

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
enum Proto {
    Invalidate,
    Update,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
enum Bug {
    None,
    /// Not a mistake: a Copy older than an Invalidate already seen is
    /// thrown away and the page fetched again (the reference uses it once).
    RefetchStale,
    /// The manager applies a write without touching the other copies.
    NoInvalidate,
    /// The manager answers a Fetch while a write of the page is under way,
    /// with the data from before the write, and forgets to deal with the
    /// new copy.
    StaleCopy,
    /// The writer puts its write into its copy and completes at once,
    /// before the manager has ordered it.
    EarlyApply,
    /// Write-update: the manager answers Done as soon as the Updates are
    /// sent, without waiting for the Acks.
    UnackedUpdate,
    /// A node never keeps a copy: every read fetches.
    NeverCache,
    /// The manager waits for the Acks of a crashed holder for ever.
    WaitForever,
}

#[derive(Clone, Debug, Hash, Default)]
struct PageState {
    data: Vec<i64>,
    version: u64,
    holders: BTreeSet<NodeId>,
}

#[derive(Clone, Debug, Hash)]
struct Node {
    proto: Proto,
    bug: Bug,
    // manager
    pages: Vec<PageState>,
    /// The write under way (update: at most one over all pages; invalidate:
    /// one per page): page -> (writer, word, value, holders still to answer).
    writing: BTreeMap<usize, (NodeId, usize, i64, BTreeSet<NodeId>)>,
    queue: VecDeque<(NodeId, DsmMsg)>,
    // node
    next: usize,
    copies: BTreeMap<usize, (u64, Vec<i64>)>,
    behind: BTreeMap<usize, u64>,
}

impl Node {
    fn new(proto: Proto, bug: Bug) -> Self {
        Node {
            proto,
            bug,
            pages: Vec::new(),
            writing: BTreeMap::new(),
            queue: VecDeque::new(),
            next: 0,
            copies: BTreeMap::new(),
            behind: BTreeMap::new(),
        }
    }

    fn op(&self, ctx: &Ctx<DsmMsg>) -> Option<Op> {
        dsm::program(ctx.me(), ctx.nodes()).get(self.next).copied()
    }

    fn finish(&mut self, ctx: &mut Ctx<DsmMsg>, what: Observation) {
        ctx.observe(what);
        self.next += 1;
        if self.op(ctx).is_some() {
            ctx.set_timer(NEXT_OP, dsm::THINK);
        }
    }

    fn busy(&self, page: usize) -> bool {
        match self.proto {
            Proto::Update => !self.writing.is_empty(),
            Proto::Invalidate => self.writing.contains_key(&page),
        }
    }

    fn request(&mut self, ctx: &mut Ctx<DsmMsg>, from: NodeId, msg: DsmMsg) {
        let p = msg.page();
        let stale_ok = self.bug == Bug::StaleCopy && matches!(msg, DsmMsg::Fetch { .. });
        if self.busy(p) && !stale_ok {
            self.queue.push_back((from, msg));
            return;
        }
        let pg = &mut self.pages[p];
        match msg {
            DsmMsg::Fetch { .. } => {
                if !self.writing.contains_key(&p) {
                    pg.holders.insert(from);
                }
                ctx.send(from, DsmMsg::Copy { page: p, version: pg.version, data: pg.data.clone() });
            }
            DsmMsg::Write { word, value, .. } => {
                let others: BTreeSet<NodeId> = pg.holders.iter().copied().filter(|&h| h != from).collect();
                let others = if self.bug == Bug::NoInvalidate { BTreeSet::new() } else { others };
                let version = pg.version + 1;
                for &h in &others {
                    ctx.send(
                        h,
                        match self.proto {
                            Proto::Invalidate => DsmMsg::Invalidate { page: p, version },
                            Proto::Update => DsmMsg::Update { page: p, version, word, value },
                        },
                    );
                }
                let waiting = if self.bug == Bug::UnackedUpdate { BTreeSet::new() } else { others };
                if !waiting.is_empty() && self.bug != Bug::WaitForever {
                    ctx.set_timer(GIVE_UP + p as TimerTag, dsm::ACK_WAIT);
                }
                self.writing.insert(p, (from, word, value, waiting));
                self.settle(ctx, p);
            }
            _ => {}
        }
    }

    fn settle(&mut self, ctx: &mut Ctx<DsmMsg>, p: usize) {
        let Some((writer, word, value, waiting)) = self.writing.get(&p) else { return };
        if !waiting.is_empty() {
            return;
        }
        let (writer, word, value) = (*writer, *word, *value);
        self.writing.remove(&p);
        ctx.cancel_timer(GIVE_UP + p as TimerTag);
        let pg = &mut self.pages[p];
        pg.data[word] = value;
        pg.version += 1;
        ctx.send(writer, DsmMsg::Done { page: p, version: pg.version });
        // Serve what waited, until a write is under way again where it blocks.
        let waiting: Vec<(NodeId, DsmMsg)> = self.queue.drain(..).collect();
        for (from, msg) in waiting {
            self.request(ctx, from, msg);
        }
    }
}

impl Process<DsmMsg> for Node {
    fn on_start(&mut self, ctx: &mut Ctx<DsmMsg>) {
        if ctx.me() == dsm::MANAGER {
            let page = PageState { data: vec![0; dsm::WORDS], ..PageState::default() };
            self.pages = vec![page; dsm::pages(ctx.nodes())];
        } else if self.op(ctx).is_some() {
            ctx.set_timer(NEXT_OP, dsm::first_op(ctx.me()));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<DsmMsg>, timer: TimerTag) {
        if timer >= GIVE_UP {
            // Silent holders have crashed for good.
            let p = (timer - GIVE_UP) as usize;
            if let Some((_, _, _, waiting)) = self.writing.get_mut(&p) {
                for h in std::mem::take(waiting) {
                    self.pages[p].holders.remove(&h);
                }
                self.settle(ctx, p);
            }
            return;
        }
        match self.op(ctx) {
            Some(Op::Read(a)) => match self.copies.get(&a.page) {
                Some((_, data)) => {
                    let value = data[a.word];
                    self.finish(ctx, Observation::Read { value })
                }
                None => ctx.send(dsm::MANAGER, DsmMsg::Fetch { page: a.page }),
            },
            Some(Op::Write(a, value)) => {
                ctx.send(dsm::MANAGER, DsmMsg::Write { page: a.page, word: a.word, value });
                if self.bug == Bug::EarlyApply {
                    if let Some(copy) = self.copies.get_mut(&a.page) {
                        copy.1[a.word] = value;
                    }
                    self.finish(ctx, Observation::Write { value });
                }
            }
            None => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<DsmMsg>, from: NodeId, msg: DsmMsg) {
        match msg {
            DsmMsg::Fetch { .. } | DsmMsg::Write { .. } => self.request(ctx, from, msg),
            DsmMsg::Ack { page, .. } => {
                if let Some((_, _, _, waiting)) = self.writing.get_mut(&page) {
                    waiting.remove(&from);
                    if self.proto == Proto::Invalidate {
                        self.pages[page].holders.remove(&from);
                    }
                    self.settle(ctx, page);
                }
            }
            DsmMsg::Copy { page, version, data } => {
                let Some(Op::Read(a)) = self.op(ctx) else { return };
                if a.page != page || self.copies.contains_key(&page) {
                    return;
                }
                let fresh = version >= self.behind.get(&page).copied().unwrap_or(0);
                if !fresh && self.bug == Bug::RefetchStale {
                    ctx.send(from, DsmMsg::Fetch { page });
                    return;
                }
                if fresh && self.bug != Bug::NeverCache {
                    self.copies.insert(page, (version, data.clone()));
                }
                self.finish(ctx, Observation::Read { value: data[a.word] });
            }
            DsmMsg::Invalidate { page, version } => {
                self.copies.remove(&page);
                let b = self.behind.entry(page).or_default();
                *b = (*b).max(version);
                ctx.send(from, DsmMsg::Ack { page, version });
            }
            DsmMsg::Update { page, version, word, value } => {
                match self.copies.get_mut(&page) {
                    Some(copy) => {
                        copy.0 = version;
                        copy.1[word] = value;
                    }
                    None => {
                        let b = self.behind.entry(page).or_default();
                        *b = (*b).max(version);
                    }
                }
                ctx.send(from, DsmMsg::Ack { page, version });
            }
            DsmMsg::Done { page, version } => {
                if self.bug == Bug::EarlyApply {
                    return;
                }
                let Some(Op::Write(a, value)) = self.op(ctx) else { return };
                if let Some(copy) = self.copies.get_mut(&page) {
                    copy.0 = version;
                    copy.1[a.word] = value;
                }
                self.finish(ctx, Observation::Write { value });
            }
        }
    }
}

fn solution(proto: Proto, bug: Bug) -> Box<dyn Fn(NodeId) -> Box<dyn Process<DsmMsg>>> {
    Box::new(move |_| Box::new(Node::new(proto, bug)))
}

#[test]
fn refetching_a_stale_copy_passes() {
    assert_passes(|run| dsm::check(solution(Proto::Invalidate, Bug::RefetchStale), run), "refetch a stale copy", 25);
}

#[test]
fn write_update_passes() {
    assert_passes(|run| dsm::check(solution(Proto::Update, Bug::None), run), "write-update", 25);
}

#[test]
fn a_second_write_invalidate_passes() {
    assert_passes(|run| dsm::check(solution(Proto::Invalidate, Bug::None), run), "write-invalidate (second)", 25);
}

/// The first failing verdict of a public check for any of `seeds`, with
/// its report: a mistake must show within a few students' seeds.
fn assert_caught(proto: Proto, bug: Bug, expected: &str, words: &[&str]) -> Verdict {
    for seed in 0..5 {
        let report = dsm::check(solution(proto, bug), &Run::public(seed));
        let Some(v) = report.verdicts.iter().find(|v| !v.passed() && v.check == expected) else { continue };
        assert_eq!(v.status, Status::Fail);
        assert!(v.event.is_some() && v.at.is_some(), "the verdict names the event: {v}");
        for w in words {
            assert!(v.message.contains(w), "'{}' lacks '{w}'", v.message);
        }
        let diagram = report.diagram.expect("a failing public run comes back as a diagram");
        assert!(diagram.starts_with("<svg"));
        println!("{bug:?}: {v}");
        return v.clone();
    }
    panic!("{bug:?}: no '{expected}' failure in 5 students' seeds");
}

#[test]
fn a_write_that_leaves_other_copies_alone_is_caught() {
    assert_caught(Proto::Invalidate, Bug::NoInvalidate, dsm::CONSISTENT, &["no single order"]);
}

#[test]
fn a_stale_copy_from_the_manager_is_caught() {
    assert_caught(Proto::Invalidate, Bug::StaleCopy, dsm::CONSISTENT, &["no single order"]);
}

#[test]
fn a_write_applied_before_the_manager_orders_it_is_caught() {
    assert_caught(Proto::Invalidate, Bug::EarlyApply, dsm::CONSISTENT, &["no single order"]);
}

#[test]
fn an_update_done_before_its_acks_is_caught() {
    assert_caught(Proto::Update, Bug::UnackedUpdate, dsm::CONSISTENT, &["no single order"]);
}

#[test]
fn a_node_that_never_keeps_a_copy_is_caught() {
    assert_caught(Proto::Invalidate, Bug::NeverCache, dsm::COST, &["page transfers"]);
}

/// Hidden: a client crashes for good while it holds copies; a manager that
/// keeps waiting for its Acks blocks every later write of those pages.
#[test]
fn waiting_for_a_crashed_holder_fails_the_hidden_crash_scenario() {
    let report = dsm::check(solution(Proto::Invalidate, Bug::WaitForever), &Run::hidden(1));
    let bad: Vec<&Verdict> = report.verdicts.iter().filter(|v| !v.passed()).collect();
    assert!(!bad.is_empty());
    for v in &bad {
        assert_eq!(v.check, distlab::catalogue::runs::HIDDEN_CHECK);
        assert!(v.scenario.contains("crashes"), "{v}");
    }
    assert!(bad.iter().any(|v| v.message.starts_with(dsm::DONE)), "{bad:?}");
    println!("{}", bad[0]);
    assert!(report.diagram.is_none(), "hidden runs are never drawn");
}

#[test]
fn the_scaffold_scores_nothing() {
    let report = dsm::check(Box::new(|_| Box::new(Idle) as Box<dyn Process<DsmMsg>>), &Run::all(1));
    assert_eq!(report.score(&dsm::SPEC, Scope::All), 0.0);
}

#[derive(Clone, Debug, Hash)]
struct Idle;
impl Process<DsmMsg> for Idle {
    fn on_message(&mut self, _: &mut Ctx<DsmMsg>, _: NodeId, _: DsmMsg) {}
}

#[test]
fn false_sharing_makes_the_shared_page_travel() {
    for seed in 0..5 {
        let f = dsm::false_sharing(seed);
        println!("{f:?}");
        assert!(f.same_page.transfers >= 5 * f.separate_pages.transfers, "{f:?}");
        assert!(f.separate_pages.transfers <= 2, "{f:?}");
        assert!(f.same_page.messages > 2 * f.separate_pages.messages, "{f:?}");
        let svg = dsm::false_sharing_svg(&f);
        roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
    }
}

#[test]
#[ignore = "prints how often each mistake fails, per scenario"]
fn catch_rates_by_scenario() {
    for (proto, bug) in [
        (Proto::Update, Bug::UnackedUpdate),
        (Proto::Invalidate, Bug::NoInvalidate),
        (Proto::Invalidate, Bug::StaleCopy),
    ] {
        let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for seed in 0..20 {
            let report = dsm::check(solution(proto, bug), &Run::all(seed));
            let mut runs: BTreeMap<(String, u64), bool> = BTreeMap::new();
            for v in &report.verdicts {
                *runs.entry((v.scenario.clone(), v.seed)).or_insert(false) |= !v.passed();
            }
            for ((s, _), bad) in runs {
                let e = by.entry(s.split(',').nth(1).unwrap_or("").to_string() + &s).or_default();
                e.0 += bad as usize;
                e.1 += 1;
            }
        }
        println!("{bug:?}: {by:?}");
    }
}
