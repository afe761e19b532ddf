//! The HTTP server: a pool of listening TCP sockets, each a keep-alive connection that feeds
//! bytes to the sans-IO parser of `keel-interface` and writes back what the [`Service`]
//! answers (the [`Service`] is the node, from `keel-node`). A request that waits on consensus parks its connection until the service has
//! the response. Slow or idle clients are timed out so they cannot hold a socket forever.

use crate::time::{self, Duration, Instant};
use alloc::vec;
use alloc::vec::Vec;
use keel_interface::http::{CONTINUE, HttpError, HttpParser, HttpResponse, Limits};
use keel_node::{Reply, Service};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;

/// Concurrent connections: enough for hundreds of clients at once, 6 MiB of buffers.
const CONNECTIONS: usize = 256;
const RX_BUFFER: usize = 8 * 1024;
const TX_BUFFER: usize = 16 * 1024;

/// How long clients may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// A request must arrive whole within this time once it starts (answered 408 otherwise).
    pub request: Duration,
    /// An idle keep-alive connection is closed after this.
    pub idle: Duration,
}

impl Timeouts {
    /// 30 s for a request, 60 s idle; `http.request_timeout=<s>` and `http.idle_timeout=<s>`
    /// on the command line override them.
    pub fn from_cmdline(cmdline: crate::boot::Cmdline<'_>) -> Self {
        let secs = |key, default| cmdline.get(key).and_then(|v| v.parse().ok()).map_or(default, Duration::from_secs);
        Self {
            request: secs("http.request_timeout", Duration::from_secs(30)),
            idle: secs("http.idle_timeout", Duration::from_secs(60)),
        }
    }
}

struct Connection {
    handle: SocketHandle,
    parser: HttpParser,
    /// Response bytes not yet accepted by the socket.
    out: Vec<u8>,
    /// A parked request and whether to keep the connection open after it.
    waiting: Option<(u64, bool)>,
    close_after_write: bool,
    last_activity: Instant,
    /// Whether the socket had a peer at the last look (to spot new connections).
    connected: bool,
}

pub struct Server {
    port: u16,
    timeouts: Timeouts,
    connections: Vec<Connection>,
}

impl Server {
    pub fn new(sockets: &mut SocketSet<'static>, port: u16, timeouts: Timeouts) -> Self {
        let connections = (0..CONNECTIONS)
            .map(|_| {
                let mut socket = tcp::Socket::new(
                    tcp::SocketBuffer::new(vec![0; RX_BUFFER]),
                    tcp::SocketBuffer::new(vec![0; TX_BUFFER]),
                );
                socket.set_nagle_enabled(false);
                let _ = socket.listen(port);
                Connection {
                    handle: sockets.add(socket),
                    parser: HttpParser::new(Limits::default()),
                    out: Vec::new(),
                    waiting: None,
                    close_after_write: false,
                    last_activity: time::now(),
                    connected: false,
                }
            })
            .collect();
        Self { port, timeouts, connections }
    }

    /// Moves every connection forward as far as it can go without waiting.
    pub fn serve(&mut self, sockets: &mut SocketSet<'static>, service: &mut impl Service) {
        let now = time::now();
        for conn in &mut self.connections {
            let socket = sockets.get_mut::<tcp::Socket>(conn.handle);
            conn.step(socket, service, now, self.port, &self.timeouts);
        }
    }

    /// When the earliest connection timeout falls due.
    pub fn next_deadline(&self) -> Duration {
        let now = time::now();
        self.connections
            .iter()
            .filter(|c| c.connected)
            .map(|c| {
                let limit = if c.parser.in_progress() { self.timeouts.request } else { self.timeouts.idle };
                (c.last_activity + limit).duration_since(now)
            })
            .min()
            .unwrap_or(self.timeouts.idle)
    }
}

impl Connection {
    fn reset(&mut self, now: Instant) {
        self.parser = HttpParser::new(Limits::default());
        self.out.clear();
        self.waiting = None;
        self.close_after_write = false;
        self.last_activity = now;
    }

    fn step(&mut self, socket: &mut tcp::Socket<'_>, service: &mut impl Service, now: Instant, port: u16, timeouts: &Timeouts) {
        if !socket.is_open() {
            // The peer went away (or we closed): listen for the next client, and tell the
            // node nobody will collect a parked answer.
            if let Some((ticket, _)) = self.waiting.take() {
                service.cancel(ticket);
            }
            self.connected = false;
            let _ = socket.listen(port);
            return;
        }
        if !socket.is_active() {
            self.connected = false;
            return; // listening
        }
        if !self.connected {
            self.connected = true;
            self.reset(now);
        }
        self.receive(socket, now);
        self.respond(service);
        self.transmit(socket, now);
        self.enforce_timeouts(socket, now, timeouts);
    }

    fn receive(&mut self, socket: &mut tcp::Socket<'_>, now: Instant) {
        // Back-pressure: read only when nothing is parked or unsent, so a client cannot
        // queue unbounded work by pipelining.
        while self.waiting.is_none() && self.out.is_empty() && socket.can_recv() {
            let parser = &mut self.parser;
            match socket.recv(|data| {
                parser.feed(data);
                (data.len(), data.len())
            }) {
                Ok(0) | Err(_) => break,
                Ok(_) => self.last_activity = now,
            }
        }
    }

    fn respond(&mut self, service: &mut impl Service) {
        let now_unix = time::unix_time_nanos();
        if let Some((ticket, keep_alive)) = self.waiting {
            if let Some(response) = service.poll(ticket, now_unix) {
                self.waiting = None;
                self.queue(&response, keep_alive);
            }
            return;
        }
        if !self.out.is_empty() || self.close_after_write {
            return;
        }
        match self.parser.next_request() {
            Ok(Some(request)) => match service.handle(&request, now_unix) {
                Reply::Now(response) => self.queue(&response, request.keep_alive),
                Reply::Later(ticket) => self.waiting = Some((ticket, request.keep_alive)),
            },
            // A client that sent `Expect: 100-continue` waits for this before the body.
            Ok(None) if self.parser.take_continue() => self.out = CONTINUE.to_vec(),
            Ok(None) => {}
            Err(error) => self.fail(error),
        }
    }

    fn queue(&mut self, response: &HttpResponse, keep_alive: bool) {
        self.out = response.to_bytes(keep_alive);
        self.close_after_write = !keep_alive;
    }

    /// The framing is lost after a malformed request: answer and close.
    fn fail(&mut self, error: HttpError) {
        let response = HttpResponse::text(error.status(), &alloc::format!("{error}"));
        self.queue(&response, false);
    }

    fn transmit(&mut self, socket: &mut tcp::Socket<'_>, now: Instant) {
        if !self.out.is_empty()
            && socket.can_send()
            && let Ok(sent) = socket.send_slice(&self.out)
        {
            self.out.drain(..sent);
            self.last_activity = now;
        }
        if self.out.is_empty() && self.close_after_write {
            socket.close();
        }
    }

    fn enforce_timeouts(&mut self, socket: &mut tcp::Socket<'_>, now: Instant, timeouts: &Timeouts) {
        let idle = now.duration_since(self.last_activity);
        if self.waiting.is_some() || !self.out.is_empty() {
            return; // the node owes this client an answer
        }
        if self.parser.in_progress() && idle >= timeouts.request {
            self.queue(&HttpResponse::text(408, "request not received in time"), false);
            self.transmit(socket, now);
        } else if !self.parser.in_progress() && idle >= timeouts.idle {
            socket.close();
        }
    }
}
