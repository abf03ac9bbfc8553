from generate import code, exercise, md

STEM = "12-shared-memory-and-sockets"


def cells():
    return [
        md(r"""
# 12. Sockets, shared memory and distributed shared memory

So far every message in this course went through the simulator: a program that
decides when each message arrives, and can replay any run from its seed. This notebook
steps outside it, three ways:

1. **Sockets**, the operating system's interface to a real network, and the same
   node code you wrote for the simulator running on them.
2. **Shared memory** between two processes on one machine: no messages at all, just
   a page of memory both can write.
3. **Distributed shared memory**, which pretends to be the second while being built
   from the first. You implement it, measure what false sharing costs, and run your
   nodes over TCP.

## 1. Two kinds of socket

A socket is one end of a communication channel, named (in the Internet domain) by an
IP address and a port. Two kinds matter here:

- A **stream** socket (TCP) belongs to a connection between two ends. The bytes
  written at one end arrive at the other in order, each exactly once, or the
  connection breaks and both ends learn it. The stream has **no message
  boundaries**: two writes may be read back as one, or one write as two pieces.
- A **datagram** socket (UDP) sends separate packets, with no connection. Each
  datagram arrives whole or not at all, so **boundaries are kept**, but a datagram
  may be lost, duplicated or overtaken by a later one, and nobody is told.

Setting up a stream takes a few calls. The side that waits makes a socket, **binds**
it to an address, **listens**, and then **accepts** each connection, which gives it
a new socket for that one peer. The side that calls makes a socket and **connects**
it to the listener's address. Both then read and write, and close. Rust's standard
library folds some of these together: `TcpListener::bind` is socket + bind +
listen, `TcpStream::connect` is socket + connect. One thread can wait on many
sockets with `select` (or `poll`); the cluster mode below uses a thread per
connection instead, which is simpler to read.
"""),
        code(r"""
{
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // socket, bind, listen (port 0: any free port)
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap(); // socket, connect
    let (mut server, peer) = listener.accept().unwrap(); // a new socket for this peer
    println!("listening on {addr}, accepted a connection from {peer}");
    client.write_all(b"hello ").unwrap();
    client.write_all(b"world").unwrap();
    drop(client); // close: the server's read ends there
    let mut got = String::new();
    server.read_to_string(&mut got).unwrap();
    println!("two writes, read back as one stream of {} bytes: {got:?}", got.len());
    drop(listener);
    match TcpStream::connect(addr) {
        Ok(_) => println!("connected again?"),
        Err(e) => println!("once the listener is closed, connecting is refused: {e}"),
    }
};
""", role="demo"),
        code(r"""
{
    use std::net::UdpSocket;

    let a = UdpSocket::bind("127.0.0.1:0").unwrap(); // socket, bind: no listen, no connection
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = b.local_addr().unwrap();
    a.send_to(b"hello ", to).unwrap();
    a.send_to(b"world", to).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        let (n, from) = b.recv_from(&mut buf).unwrap();
        println!("one datagram of {n} bytes from {from}: {:?}", String::from_utf8_lossy(&buf[..n]));
    }
};
""", role="demo"),
        md(r"""
On one machine nothing is lost, so the datagrams both arrived. Across a busy network
either could have been dropped, and `a` would never know.

## 2. The same node code on a real network

`distlab::cluster::run(&scenario, transport, seed, factory)` runs the nodes that
`factory` makes, the very `Box<dyn Process<M>>` the simulator runs, as peers on
127.0.0.1. Each node gets its own TCP listener (or UDP socket); every message is
turned into bytes (its JSON, after a small header naming the sender and the message)
and crosses the kernel's loopback network. Timers are real waits. A crash in the
scenario's schedule closes the node's sockets, so peers find their connections
broken and new connections refused, and drops everything the node kept in memory;
a recovery opens new sockets and restarts the node from its durable store.

The run is recorded as a trace in the simulator's format, with times in
microseconds since the start, so the monitors of an exercise judge it exactly as
they judge a simulated run, and the same diagram draws it. What is lost is
reproducibility: the delays are whatever the machine gives, and two runs differ.
That is why grading stays in the simulator.

The node below passes a counter around a ring every 5 ms: node 0 starts it, each
node adds one and sends it on, and every node notes what it got. In the scenario,
node 2 crashes at 40 ms. The cell runs it three ways: in the simulator, over TCP, and
over UDP with 20 % of the datagrams lost at the sender.
"""),
        code(r"""
use distlab::cluster::{self, Transport};
use distlab::{ms, Ctx, EventKind, Fault, NodeId, Observation, Process, Scenario, Trace};

#[derive(Clone, Debug, Hash)]
struct Relay;

impl Process<u64> for Relay {
    fn on_start(&mut self, ctx: &mut Ctx<u64>) {
        if ctx.me() == 0 {
            ctx.send(1, 1);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<u64>, _from: NodeId, n: u64) {
        ctx.observe(Observation::Note { name: "got".into(), value: n as i64 });
        // Wait 5 ms, then pass it on (the timer's tag carries the count).
        ctx.set_timer(n, ms(5));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<u64>, n: u64) {
        let next = (ctx.me() + 1) % ctx.nodes();
        ctx.send(next, n + 1);
    }
}

fn relay_scenario() -> Scenario {
    let mut s = Scenario::new("a counter around a ring of 4; node 2 crashes at 40 ms", 4);
    s.schedule.faults.push(Fault::Crash { node: 2, at: ms(40) });
    s.until = ms(100);
    s
}

fn summary(name: &str, trace: &Trace<u64>) {
    let count = |f: &dyn Fn(&EventKind<u64>) -> bool| trace.events.iter().filter(|e| f(&e.kind)).count();
    let delivered = count(&|k| matches!(k, EventKind::Deliver { .. }));
    let lost = count(&|k| matches!(k, EventKind::Drop { reason: distlab::DropReason::Loss, .. }));
    let to_crashed = count(&|k| matches!(k, EventKind::Drop { reason: distlab::DropReason::Crashed, .. }));
    let highest = trace.observations().filter_map(|(_, _, _, o)| match o {
        Observation::Note { value, .. } => Some(*value),
        _ => None,
    }).max().unwrap_or(0);
    println!("{name:<22} sent {:>3}, delivered {delivered:>3}, lost {lost:>2}, refused by the crashed node {to_crashed}; highest count {highest}", trace.messages_sent());
}
""", role="demo"),
        code(r"""
{
    let scenario = relay_scenario();
    let simulated = distlab::simulate(&scenario, 1, |_| Box::new(Relay) as Box<dyn Process<u64>>).unwrap();
    summary("simulator", &simulated);
    let tcp = cluster::run(&scenario, Transport::Tcp, 1, |_| Box::new(Relay) as Box<dyn Process<u64>>).unwrap();
    summary("TCP on loopback", &tcp);
    let udp = cluster::run(&scenario, Transport::Udp { loss: 0.2 }, 1, |_| Box::new(Relay) as Box<dyn Process<u64>>).unwrap();
    summary("UDP, 20 % loss", &udp);
    let times = cluster::delivery_times(&tcp);
    println!("TCP one-way delivery, send to receive: median {} us, longest {} us", times[times.len() / 2], times[times.len() - 1]);
};
""", role="demo"),
        md(r"""
Read the three lines side by side. In the simulator and over TCP the counter goes
round until it reaches node 2 after its crash: that message is refused (the node's
listener is gone), and with it the only counter in the system, so nothing else
happens. Over UDP the counter usually dies earlier, at the first lost datagram,
because this node trusts its links: it sends once and never asks again. Making a
datagram protocol reliable takes acknowledgements, time-outs and resends, which is
exactly what TCP does under the hood. The one-way times are microseconds, a
thousand times below the simulator's millisecond delays: on one machine the network
is not the slow part.

The diagram is drawn from the TCP run's trace, as for any simulated run.
"""),
        code(r"""
{
    let trace = cluster::run(&relay_scenario(), Transport::Tcp, 1, |_| Box::new(Relay) as Box<dyn Process<u64>>).unwrap();
    let options = distlab::DiagramOptions { title: Some("the relay over TCP".into()), ..Default::default() };
    distlab::Svg(distlab::svg(&trace, &options)).evcxr_display();
};
""", role="demo"),
        md(r"""
## 3. Shared memory between two processes

Threads of one process share all their memory. Separate processes do not: each has
its own address space, and `fork` gives the child a **copy** of the parent's memory.
To share, the two must map the same physical memory into both address spaces. The
simplest way on Linux is to map one anonymous page as *shared* before forking
(`mmap` with `MAP_SHARED | MAP_ANONYMOUS`): the child inherits the mapping itself, not
a copy, so a write by either process is seen by the other. Everything else the child
got is still a copy.

`distlab::shm::counter_race(n, increment)` does exactly that, then has the parent
and the child each add 1 to a counter in the shared page `n` times, starting at the
same moment on two different cores. The child also adds 1 to an ordinary variable
`n` times. Two ways to add:

- **Plain**: read the counter, then write the value plus one. Between the read and
  the write, the other process may write too; one of the two increments is lost.
- **Atomic**: one indivisible fetch-and-add, which the hardware never interleaves.
"""),
        code(r"""
{
    use distlab::shm::{counter_race, Increment};

    for increment in [Increment::Plain, Increment::Atomic] {
        let race = counter_race(1_000_000, increment).unwrap();
        println!(
            "{:<6} 2 processes x {} increments: counter {:>9} of {}, {:>7} lost",
            format!("{increment:?}"), race.per_process, race.counted, race.expected(), race.lost()
        );
    }
    let race = counter_race(1_000, Increment::Atomic).unwrap();
    println!("the child's own copy of an ordinary variable, seen by the parent afterwards: {}", race.private_in_parent);
};
""", role="demo"),
        md(r"""
With plain increments a large share of the updates disappear (how many depends on how
often the two processes collide; on one core they would collide far less, which makes
the bug rarer, not absent). With the atomic add the count is exact. The ordinary
variable shows the other half of the story: the child changed its own copy, and the
parent's stayed 0.

Sharing memory is fast, but the processes must coordinate explicitly: an atomic
instruction, a lock or a semaphore in the shared page. And it only works on one
machine.

## 4. Distributed shared memory

What if the processes are on different machines? No page can be mapped into both.
**Distributed shared memory** (DSM) gives the illusion anyway, in software, a page at a
time. Each page has an **owner** that keeps its master copy. A process that reads a
page it does not have takes a fault, and the DSM layer fetches a **read-only copy**
over the network; later reads of that page are local and free. A write cannot go to a
read-only copy: it faults too, and the write is sent to the owner, which puts it in
order with the other writes to the page and deals with the other copies. Two ways:

- **write-invalidate**: the owner tells every other holder to drop its copy, waits
  until all have answered, then applies the write. The next read elsewhere fetches
  the page again.
- **write-update**: the owner sends the new value to every holder, which puts it into
  its copy. Nobody fetches again, but every write costs a message per holder.

The goal is that the programs cannot tell they are not sharing one memory: every read
returns what some order of all the writes, one at a time and keeping each process's
own order, says it should. That is **sequential consistency** (notebook 9), here of the
page contents.

### Exercise: a page manager and its clients

In the simulator, node 0 owns every page and runs no program; every other node runs a
small program of reads and writes (`program(i, nodes)`). Messages are slow and
overtake each other, which is where the protocol gets hard: a copy can arrive after
the invalidation that was sent after it. Either protocol passes.
"""),
        *exercise("dsm"),
        md(r"""
### False sharing

A page is the unit that moves. Two variables that nobody shares, but that happen to
sit on the same page, make that page travel between their users as if they were
shared: **false sharing**. The experiment below runs your protocol on 3 nodes: nodes 1
and 2 each increment a counter of their own 15 times. Both counters sit on page 0
(false sharing); at the same time each also increments a second counter that sits
alone on a page of its own (pages 1 and 2). The counts are split by page: what the
page-0 pair cost, next to what the same work cost on separate pages.
"""),
        code(r"""
{
    use distlab::catalogue::dsm::{false_sharing_with, false_sharing_svg};

    let f = false_sharing_with(Box::new(dsm_node), 7);
    println!("{} increments of each pair of counters", f.increments);
    println!("  one page shared:  {:>3} page transfers, {:>3} messages", f.same_page.transfers, f.same_page.messages);
    println!("  separate pages:   {:>3} page transfers, {:>3} messages", f.separate_pages.transfers, f.separate_pages.messages);
    if f.separate_pages.transfers > 0 {
        println!("  false sharing costs {:.1} times the transfers", f.same_page.transfers as f64 / f.separate_pages.transfers as f64);
    }
    distlab::Svg(false_sharing_svg(&f)).evcxr_display();
};
""", role="demo"),
        md(r"""
On separate pages each node fetches its page once and then works locally. On the
shared page every increment by one node takes the page away from the other (under
write-invalidate) and the next increment there fetches it back, so the page
ping-pongs. Real DSM systems fight this by padding hot variables onto pages of their
own, by smaller units than a page, or by letting several writers change one page and
merging their changes later.

### Your DSM nodes over TCP

The same `dsm_node` you wrote, now on real sockets: the exercise's first public
scenario, each node a peer on 127.0.0.1, judged by the exercise's own monitors. The
delays are the machine's, so the run goes much faster than in the simulator, and the
ordering problems of slow, overtaking messages mostly disappear; a protocol that
passes here has not passed the exercise.
"""),
        code(r"""
{
    use distlab::catalogue::dsm;
    use distlab::{check_trace, Provenance};

    let scenario = dsm::scenarios(2024).remove(0).scenario;
    let trace = cluster::run(&scenario, Transport::Tcp, 1, dsm_node).unwrap();
    println!("{} over TCP: {} events, {} messages, stopped because {}", scenario.name, trace.events.len(), trace.messages_sent(), trace.stop);
    for v in check_trace(&trace, &dsm::monitors(&scenario), &Provenance::of(&trace, "cluster run")) {
        println!("  {:<36} {:?}: {}", v.check, v.status, v.message);
    }
};
""", role="demo"),
        md(r"""
## 5. Message passing or shared memory across machines?

How the two styles compare:

| | message passing | distributed shared memory |
|---|---|---|
| data | packed into messages and unpacked at the other end | read and written in place, as ordinary variables |
| cost of communication | visible: every send is in the code | hidden: a plain read may cost a network round trip |
| protection | each process owns its memory; others can only ask | a faulty process can overwrite what others rely on |
| lifetimes | sender and receiver must both be running | a process can leave data for one that starts later |
| coordination | the messages themselves order events | needs locks or atomic operations, as on one machine |
| what can go wrong silently | a lost message | **false sharing**: two unrelated variables on one page make it move back and forth |
"""),
    ]
