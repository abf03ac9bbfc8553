from generate import code, exercise, md

STEM = "06-election"


def cells():
    return [
        md(r"""
# 6. Electing a coordinator

Many algorithms lean on one process as coordinator: a lock server, a sequencer, the
owner of a queue. When it crashes, the others must agree on a successor, and the usual
rule is: **the live process with the highest id wins**. Every process knows the ids of
the others, but not which of them are alive.

A crash can only be noticed by silence, so both algorithms here use **timeouts**: the
coordinator sends `Alive` heartbeats, and a node that hears nothing for a while
suspects a crash. In the scenarios every message takes between 1 and 5 ms, so a reply
comes within 10 ms or not at all; pick timeouts comfortably above that.

Both exercises are judged on the same properties, under crashes and recoveries:

- within a deadline after the last fault, **every live node follows the highest live
  id** (observed with `ctx.observe(Observation::Leader(id))`), and that lasts;
- once a higher node has been up and reachable for a while, nobody adopts a lower one;
- the number of `Election` messages per round stays within a budget.

## The bully algorithm

A node P that suspects the coordinator (or has just started or recovered):

1. sends `Election` to every node with a **higher** id;
2. if nobody answers in time, P wins: it sends `Coordinator` to everyone;
3. a higher node that gets `Election` replies `Answer` (it takes over) and holds its own
   election, unless it is already holding one;
4. P, once answered, waits for the `Coordinator` message, and starts again if none comes.

A node that comes back from a crash holds an election at once; if it has the highest
id it "bullies" its way to the top.

**Two nodes detect the crash at once.** Both send `Election` to all higher nodes, so
each higher node gets two. That is harmless: it answers both, but starts only one
election of its own (the second `Election` finds it already electing). The election
proceeds as usual, and the budget allows for it: at most n(n-1) `Election`s per round.

**Here we differ from the source on purpose.** Its answer to problem 5.6 says a higher
node *ignores* the second `Election`. Taken literally that breaks the algorithm: the
second sender also waits for an `Answer`, and hearing none it would declare itself
coordinator while a higher node is alive. So our nodes answer every `Election`; what
they do not do twice is start an election of their own.

### Exercise: the bully algorithm
"""),
        *exercise("bully"),
        md(r"""
## The ring algorithm

The nodes sit on a logical ring in id order (after the last comes node 0). To elect:

1. a node sends `Election` carrying the list `[its id]` to its successor;
2. every node appends its own id and passes the message on; if the successor is dead
   (no `Ack` in time), it skips to the next one, and so on round the ring;
3. when the message is back at the node that started it, the list holds every live
   node; the starter picks the highest id and sends `Coordinator` round the ring once.

**Killing duplicate elections.** When several nodes start at once, several `Election`
messages circulate. That is harmless but wasteful. Each node can kill some: a node that
has started an election of its own and receives an `Election` begun by a **lower** id
simply drops it; one begun by a higher id is passed on as usual. So only the election
with the highest starter survives, and the others die on the way. (A node drops an
`Election` that already lists it, too: its starter is gone.) The budget is 3n
`Election` messages per round.

### Exercise: the ring algorithm
"""),
        *exercise("ring"),
        md(r"""
## Questions to think about

- In the bully algorithm, what happens to the message count when the node with the
  *lowest* id notices the crash first? When the second highest does?
- In the ring, suppose two elections start at once and you do not kill duplicates. Do
  both finish? Do they agree? What does it cost?
- Both algorithms trust timeouts. What goes wrong if the network is sometimes slower
  than the timeout assumes?
"""),
    ]
