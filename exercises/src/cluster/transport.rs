//! The sockets of a cluster run: each node has its own endpoint on
//! 127.0.0.1 (a TCP listener, or a UDP socket), and every message crosses
//! the kernel's loopback network as a frame: the sender's id, the message
//! id, and the message as JSON. Reader threads only move bytes; the
//! driver decodes and judges them.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::NodeId;

/// A frame that reached node `to`.
pub(crate) struct Arrival {
    pub to: NodeId,
    pub from: NodeId,
    pub id: u64,
    pub payload: Vec<u8>,
}

/// Which network the run uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transport {
    /// One TCP connection per ordered pair of nodes, frames prefixed by
    /// their length: nothing is lost or reordered on a link unless a node
    /// crashes.
    Tcp,
    /// One datagram per message; the sender loses each with probability
    /// `loss` (seeded), and nothing tells it so.
    Udp { loss: f64 },
}

/// Biggest frame accepted: a message is far smaller; a wrong length must
/// not make a reader allocate gigabytes.
const MAX_FRAME: usize = 1 << 20;
/// How often idle readers look whether their node crashed.
const POLL: Duration = Duration::from_millis(5);

pub(crate) fn encode(from: NodeId, id: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(12 + payload.len());
    frame.extend_from_slice(&(from as u32).to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn decode(to: NodeId, frame: &[u8]) -> Option<Arrival> {
    let from = u32::from_be_bytes(frame.get(..4)?.try_into().ok()?) as NodeId;
    let id = u64::from_be_bytes(frame.get(4..12)?.try_into().ok()?);
    Some(Arrival { to, from, id, payload: frame[12..].to_vec() })
}

/// One node's endpoint while the node is up. Dropping it (a crash) closes
/// every socket of the node: its listener or datagram socket, and the
/// connections peers opened to it.
pub(crate) struct Endpoint {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
    /// TCP: a handle on the listener, and a channel that disconnects when
    /// the accept loop has ended.
    listener: Option<(TcpListener, Receiver<()>)>,
}

impl Endpoint {
    pub fn open(node: NodeId, transport: Transport, arrivals: Sender<Arrival>) -> std::io::Result<Endpoint> {
        let up = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let mut listener_handle = None;
        let addr = match transport {
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let addr = listener.local_addr()?;
                let (up, accepted) = (Arc::clone(&up), Arc::clone(&accepted));
                let (closed_tx, closed_rx) = std::sync::mpsc::channel();
                listener_handle = Some((listener.try_clone()?, closed_rx));
                std::thread::spawn(move || accept_loop(node, listener, up, accepted, arrivals, closed_tx));
                addr
            }
            Transport::Udp { .. } => {
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.set_read_timeout(Some(POLL))?;
                let addr = socket.local_addr()?;
                let up = Arc::clone(&up);
                std::thread::spawn(move || datagram_loop(node, socket, up, arrivals));
                addr
            }
        };
        Ok(Endpoint { addr, up, accepted, listener: listener_handle })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.up.store(false, Ordering::SeqCst);
        if let Some((listener, closed)) = &self.listener {
            // Shutting a listening socket down stops it listening at once,
            // even where a forked process holds a copy of it, and wakes the
            // accept loop. Wait for that loop to end, so no connection is
            // accepted after the sweep below.
            unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
            let _ = closed.recv_timeout(Duration::from_secs(2));
        }
        for stream in self.accepted.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    node: NodeId,
    listener: TcpListener,
    up: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<TcpStream>>>,
    arrivals: Sender<Arrival>,
    closed: Sender<()>,
) {
    loop {
        let next = listener.accept();
        if !up.load(Ordering::SeqCst) {
            break;
        }
        match next {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                if let Ok(copy) = stream.try_clone() {
                    accepted.lock().unwrap().push(copy);
                }
                let arrivals = arrivals.clone();
                std::thread::spawn(move || read_frames(node, stream, arrivals));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
    // Connecting to a crashed node is refused from here on.
    drop(listener);
    drop(closed);
}

fn read_frames(node: NodeId, mut stream: TcpStream, arrivals: Sender<Arrival>) {
    let mut len = [0u8; 4];
    loop {
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return;
        }
        let mut frame = vec![0u8; n];
        if stream.read_exact(&mut frame).is_err() {
            return;
        }
        let Some(a) = decode(node, &frame) else { return };
        if arrivals.send(a).is_err() {
            return;
        }
    }
}

fn datagram_loop(node: NodeId, socket: UdpSocket, up: Arc<AtomicBool>, arrivals: Sender<Arrival>) {
    let mut buf = vec![0u8; 65_536];
    while up.load(Ordering::SeqCst) {
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            if let Some(a) = decode(node, &buf[..n]) {
                if arrivals.send(a).is_err() {
                    return;
                }
            }
        }
    }
}

/// The sending side of every node: TCP connections by (from, to), opened
/// on first use and closed when either end crashes; or one datagram socket
/// per sender.
pub(crate) struct Links {
    transport: Transport,
    tcp: std::collections::HashMap<(NodeId, NodeId), TcpStream>,
    udp: std::collections::HashMap<NodeId, UdpSocket>,
}

impl Links {
    pub fn new(transport: Transport) -> Links {
        Links { transport, tcp: Default::default(), udp: Default::default() }
    }

    /// Sends one frame from `from` to the endpoint at `addr`; an error
    /// means the receiver is not there (connection refused or reset).
    pub fn send(&mut self, from: NodeId, to: NodeId, addr: SocketAddr, frame: &[u8]) -> std::io::Result<()> {
        match self.transport {
            Transport::Tcp => {
                let stream = match self.tcp.entry((from, to)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
                        s.set_nodelay(true)?;
                        e.insert(s)
                    }
                };
                let mut buf = Vec::with_capacity(4 + frame.len());
                buf.extend_from_slice(&(frame.len() as u32).to_be_bytes());
                buf.extend_from_slice(frame);
                let sent = stream.write_all(&buf);
                if sent.is_err() {
                    self.tcp.remove(&(from, to));
                }
                sent
            }
            Transport::Udp { .. } => {
                let socket = match self.udp.entry(from) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(UdpSocket::bind("127.0.0.1:0")?),
                };
                socket.send_to(frame, addr).map(|_| ())
            }
        }
    }

    /// Closes every connection from or to `node` (it crashed).
    pub fn close(&mut self, node: NodeId) {
        self.tcp.retain(|&(from, to), stream| {
            let keep = from != node && to != node;
            if !keep {
                let _ = stream.shutdown(Shutdown::Both);
            }
            keep
        });
        self.udp.remove(&node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crash (dropping the endpoint) closes the listener and the
    /// connections peers had open: a new connection is refused, an old one
    /// reads end-of-file.
    #[test]
    fn a_dropped_endpoint_closes_its_sockets() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let endpoint = Endpoint::open(3, Transport::Tcp, tx).unwrap();
        let addr = endpoint.addr;
        let mut peer = TcpStream::connect(addr).unwrap();
        std::thread::sleep(POLL * 4); // accepted
        drop(endpoint);
        assert!(TcpStream::connect(addr).is_err(), "connecting to a crashed node is refused");
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(peer.read(&mut buf).unwrap(), 0, "an open connection ends");
    }
}
