//! The zone's end of the biller link as a sans-IO state machine: the core
//! transport in the client role, the zone login, keepalive pings, and
//! reconnecting with back-off (`docs/protocol/billing-udp.md` §1, §6).
//!
//! States follow ASSS `billing_ssc`: *retry* (waiting to connect) →
//! *connecting* (`00 01` sent) → *waitlogin* (ServerConnect sent) →
//! *loggedin* on the first message from the biller. Unlike ASSS, a biller
//! that says nothing within [`LinkConfig::waitlogin`] of the zone login
//! fails the attempt (it is never assumed to have worked): a link is
//! either up with the biller talking, or down. Any drop or failed attempt
//! goes back to *retry*, after a `00 07` to the biller (unless the biller
//! ended the link) so that it forgets the old connection; the wait before
//! the next attempt starts at [`LinkConfig::retry_min`] and doubles after
//! each failed attempt up to [`LinkConfig::retry_max`]. Every attempt uses
//! a fresh key, and only the answer to that key is taken
//! (`docs/protocol/billing-udp.md` §6).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use ss_proto::billing::{
    BillerMessage, ServerConnect, ZoneMessage, CAP_DEMOGRAPHICS, CAP_MULTICAST_CHAT,
};
use ss_proto::transport::{
    Connection, DisconnectReason, Event, Priority, Reliability, TransportConfig,
};
use tracing::{debug, info, warn};

/// Timing of the link.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// First wait before reconnecting after a drop or failed attempt.
    pub retry_min: Duration,
    /// Longest wait between attempts (`Billing:RetryInterval`).
    pub retry_max: Duration,
    /// Interval of keepalive pings while logged in.
    pub ping_interval: Duration,
    /// How long to wait in *waitlogin* for the biller's first message
    /// before the attempt counts as failed.
    pub waitlogin: Duration,
    /// After `waitlogin`, take an acknowledged but unanswered zone login as
    /// accepted (ASSS's rule, for billers that never speak first); off by
    /// default, so the link is up only when the biller has said something.
    pub assume_login: bool,
    /// Transport settings of the link (drop timeout, retries).
    pub transport: TransportConfig,
}

/// Where the link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Billing is off.
    Disabled,
    /// Waiting to (re)connect.
    Retry,
    /// Connection request sent.
    Connecting,
    /// ServerConnect sent, no answer yet.
    WaitLogin,
    /// Usable.
    LoggedIn,
}

/// What happened on the link, for the zone to act on.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The zone is logged in to the biller.
    Up,
    /// The link ended; `was_up` if it had been logged in.
    Down {
        /// Whether the link had been logged in.
        was_up: bool,
    },
    /// A well-formed message from the biller.
    Message(BillerMessage),
}

/// Identifies a message sent with [`Link::send_tracked`]: the connection
/// it went out on and its ticket there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    generation: u64,
    ticket: u64,
}

/// Counters of the link.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkCounters {
    /// Connection attempts.
    pub attempts: u64,
    /// Times the link went down after being logged in.
    pub drops: u64,
    /// Connection attempts that ended before the link was logged in (no
    /// key reply, or no answer to the zone login).
    pub failed_attempts: u64,
    /// Reliable messages sent again for want of an acknowledgement, over
    /// all connections.
    pub retransmits: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Malformed or unsupported messages dropped.
    pub malformed: u64,
}

/// The biller link.
pub struct Link {
    cfg: LinkConfig,
    login: ServerConnect,
    state: LinkState,
    conn: Option<Connection>,
    /// Counts connections; tickets name the one they were sent on.
    generation: u64,
    /// The connection that ended last, kept so that what it had
    /// acknowledged can still be asked after the drop.
    previous: Option<(u64, Connection)>,
    retry_at: Instant,
    backoff: Duration,
    waitlogin_since: Instant,
    last_ping: Instant,
    /// A connection attempt or the link failed since it was last up.
    failed_since_up: bool,
    /// The transport ticket of the zone login (ServerConnect) in flight.
    login_ticket: Option<u64>,
    /// The biller proved it can fall silent (it acknowledged but answered
    /// nothing when it had to): the next zone login counts only when the
    /// biller says something, not after the wait.
    needs_word: bool,
    /// When the biller last sent a datagram the transport took.
    last_heard: Option<Instant>,
    /// When the biller last sent a billing message.
    last_message: Option<Instant>,
    /// A `00 07` for the biller about the connection that just ended.
    farewell: Option<[u8; 2]>,
    /// Retransmissions of the connections that ended.
    retransmits_before: u64,
    events: VecDeque<LinkEvent>,
    scratch: Vec<u8>,
    counters: LinkCounters,
}

impl Link {
    /// A link that is off.
    pub fn disabled(now: Instant) -> Link {
        Link::build(
            LinkConfig {
                retry_min: Duration::from_secs(1),
                retry_max: Duration::from_secs(1),
                ping_interval: Duration::from_secs(60),
                waitlogin: Duration::from_secs(5),
                assume_login: false,
                transport: TransportConfig::default(),
            },
            ServerConnect::default(),
            LinkState::Disabled,
            now,
        )
    }

    /// A link that connects at the first [`Link::poll`], logging in with
    /// `login`.
    pub fn new(cfg: LinkConfig, login: ServerConnect, now: Instant) -> Link {
        Link::build(cfg, login, LinkState::Retry, now)
    }

    fn build(cfg: LinkConfig, login: ServerConnect, state: LinkState, now: Instant) -> Link {
        Link {
            backoff: cfg.retry_min,
            cfg,
            login,
            state,
            conn: None,
            generation: 0,
            previous: None,
            retry_at: now,
            waitlogin_since: now,
            last_ping: now,
            failed_since_up: false,
            login_ticket: None,
            needs_word: false,
            last_heard: None,
            last_message: None,
            farewell: None,
            retransmits_before: 0,
            events: VecDeque::new(),
            scratch: Vec::new(),
            counters: LinkCounters::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Whether messages can be sent.
    pub fn is_up(&self) -> bool {
        self.state == LinkState::LoggedIn
    }

    /// `disabled`, `connecting` (no failure since start or the last time
    /// up), `up`, or `down` (the link dropped or attempts failed).
    pub fn state_name(&self) -> &'static str {
        match self.state {
            LinkState::Disabled => "disabled",
            LinkState::LoggedIn => "up",
            _ if self.failed_since_up => "down",
            _ => "connecting",
        }
    }

    /// ASSS's `?userdbadm` wording of the state.
    pub fn status_text(&self) -> &'static str {
        match self.state {
            LinkState::Disabled => "disabled",
            LinkState::Retry => "waiting to retry",
            LinkState::Connecting => "connecting",
            LinkState::WaitLogin => "waiting for login response",
            LinkState::LoggedIn => "logged in",
        }
    }

    /// The link's counters.
    pub fn counters(&self) -> LinkCounters {
        let current = self.conn.as_ref().map_or(0, |c| c.stats().retransmits);
        LinkCounters {
            retransmits: self.retransmits_before + current,
            ..self.counters
        }
    }

    /// Time since the biller last sent a datagram the transport took (an
    /// acknowledgement counts), if it ever did.
    pub fn since_heard(&self, now: Instant) -> Option<Duration> {
        self.last_heard.map(|t| now.saturating_duration_since(t))
    }

    /// Time since the biller last sent a billing message, if it ever did.
    pub fn since_message(&self, now: Instant) -> Option<Duration> {
        self.last_message.map(|t| now.saturating_duration_since(t))
    }

    /// Counts connection attempts; it changes when a new attempt starts
    /// (the shell may then take a fresh local port).
    pub fn attempt(&self) -> u64 {
        self.generation
    }

    /// The `00 07` owed to the biller for the connection that ended last,
    /// if not sent yet ([`Link::transmit`] sends it first otherwise). The
    /// shell takes it before it changes the socket.
    pub fn take_farewell(&mut self) -> Option<[u8; 2]> {
        self.farewell.take()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// The next time [`Link::poll`] or the link's transport has timed work
    /// (a reconnect, the end of the login wait, a ping, a retransmission);
    /// `None` when billing is off.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timer = match self.state {
            LinkState::Disabled => return None,
            LinkState::Connecting => None,
            LinkState::Retry => Some(self.retry_at),
            LinkState::WaitLogin => Some(self.waitlogin_since + self.cfg.waitlogin),
            LinkState::LoggedIn => Some(self.last_ping + self.cfg.ping_interval),
        };
        let transport = self.conn.as_ref().and_then(Connection::next_deadline);
        timer.into_iter().chain(transport).min()
    }

    /// Runs the timers: connecting when the retry wait is over, assuming
    /// the login after the wait-login time, pinging while logged in.
    pub fn poll(&mut self, now: Instant) {
        match self.state {
            LinkState::Disabled | LinkState::Connecting => {}
            LinkState::Retry => {
                if now >= self.retry_at {
                    self.connect(now);
                }
            }
            LinkState::WaitLogin => {
                if now.saturating_duration_since(self.waitlogin_since) >= self.cfg.waitlogin {
                    if self.cfg.assume_login && self.login_acked() && !self.needs_word {
                        // Billers do not answer the zone login as such:
                        // one that took it (acknowledged) and did not end
                        // the connection accepted it (ASSS rule).
                        info!("the biller took the zone login without a word; assuming it accepted it");
                        self.logged_in(now);
                    } else {
                        warn!("the biller did not answer the zone login; dropping the attempt");
                        self.went_down(now, DisconnectReason::Local);
                    }
                }
            }
            LinkState::LoggedIn => {
                if now.saturating_duration_since(self.last_ping) >= self.cfg.ping_interval {
                    self.last_ping = now;
                    self.send(&ZoneMessage::Ping);
                }
            }
        }
    }

    fn connect(&mut self, now: Instant) {
        let key = random_u32();
        self.generation += 1;
        self.conn = Some(Connection::client(now, self.cfg.transport.clone(), key));
        self.state = LinkState::Connecting;
        self.counters.attempts += 1;
        debug!("connecting to the biller");
    }

    fn logged_in(&mut self, now: Instant) {
        self.state = LinkState::LoggedIn;
        self.backoff = self.cfg.retry_min;
        self.failed_since_up = false;
        self.last_ping = now;
        info!("logged in to the biller");
        self.send(&ZoneMessage::ServerCapabilities {
            bits: CAP_MULTICAST_CHAT | CAP_DEMOGRAPHICS,
        });
        self.events.push_back(LinkEvent::Up);
    }

    fn went_down(&mut self, now: Instant, reason: DisconnectReason) {
        if self.state == LinkState::Disabled {
            return;
        }
        let was_up = self.state == LinkState::LoggedIn;
        if was_up {
            self.counters.drops += 1;
            warn!(?reason, "biller link lost");
        } else {
            self.counters.failed_attempts += 1;
            debug!(?reason, state = ?self.state, "biller connection attempt failed");
        }
        if let Some(conn) = self.conn.take() {
            if reason != DisconnectReason::Peer {
                // Tell the biller the connection is over, so that one
                // keeping state per address does not take the next
                // attempt for more of this one.
                let mut bye = [0u8, 0x07];
                conn.seal(&mut bye);
                self.farewell = Some(bye);
            }
            self.retransmits_before += conn.stats().retransmits;
            self.previous = Some((self.generation, conn));
        }
        self.state = LinkState::Retry;
        self.failed_since_up = true;
        self.retry_at = now + self.backoff;
        self.backoff = (self.backoff * 2)
            .min(self.cfg.retry_max)
            .max(self.cfg.retry_min);
        self.events.push_back(LinkEvent::Down { was_up });
    }

    /// Whether the biller acknowledged the zone login of this attempt.
    fn login_acked(&self) -> bool {
        match (self.conn.as_ref(), self.login_ticket) {
            (Some(conn), Some(ticket)) => conn.is_acked(ticket),
            _ => false,
        }
    }

    /// The zone judges the link dead although the transport does not
    /// (the biller acknowledges but answers nothing): it goes down as after
    /// a drop, `00 07` to the biller included, and reconnects; from then on
    /// a zone login counts only once the biller says something.
    pub fn abandon(&mut self, now: Instant) {
        self.needs_word = true;
        if self.conn.is_some() {
            self.went_down(now, DisconnectReason::Local);
        }
    }

    /// Feeds a datagram from the biller's address.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &mut [u8]) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut packets = Vec::new();
        let dropped = conn.stats().dropped;
        conn.handle_datagram(now, datagram, &mut |pkt| packets.push(pkt.to_vec()));
        if conn.stats().dropped == dropped {
            self.last_heard = Some(now);
        }
        self.conn_events(now);
        for pkt in packets {
            self.message(now, &pkt);
        }
    }

    fn message(&mut self, now: Instant, pkt: &[u8]) {
        if !matches!(self.state, LinkState::WaitLogin | LinkState::LoggedIn) {
            return;
        }
        self.counters.messages_in += 1;
        self.last_message = Some(now);
        self.needs_word = false;
        if self.state == LinkState::WaitLogin {
            // Any message from the biller means the login was accepted.
            self.logged_in(now);
        }
        match BillerMessage::decode(pkt) {
            Ok(msg) => self.events.push_back(LinkEvent::Message(msg)),
            Err(e) => {
                self.counters.malformed += 1;
                warn!(len = pkt.len(), "dropping a biller message: {e}");
            }
        }
    }

    fn conn_events(&mut self, now: Instant) {
        while let Some(ev) = self.conn.as_mut().and_then(Connection::poll_event) {
            match ev {
                Event::Connected { encrypted } => {
                    debug!(encrypted, "biller answered; sending the zone login");
                    self.state = LinkState::WaitLogin;
                    self.waitlogin_since = now;
                    let login = ZoneMessage::ServerConnect(self.login.clone());
                    self.login_ticket = self.send_login(&login);
                }
                Event::Disconnected(reason) => self.went_down(now, reason),
                Event::TimeSynced { .. } | Event::SizedCancelled => {}
            }
        }
    }

    /// Sends a message reliably; false if the link is not logged in.
    pub fn send(&mut self, msg: &ZoneMessage) -> bool {
        self.state == LinkState::LoggedIn && self.send_any(msg)
    }

    fn send_any(&mut self, msg: &ZoneMessage) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        self.scratch.clear();
        msg.encode(&mut self.scratch);
        let sent = conn.send(&self.scratch, Reliability::Reliable, Priority::Normal);
        if sent {
            self.counters.messages_out += 1;
        }
        sent
    }

    /// Sends the zone login, tracked so the wait can tell whether the
    /// biller took it.
    fn send_login(&mut self, msg: &ZoneMessage) -> Option<u64> {
        let conn = self.conn.as_mut()?;
        self.scratch.clear();
        msg.encode(&mut self.scratch);
        let ticket = conn.send_tracked(&self.scratch)?;
        self.counters.messages_out += 1;
        Some(ticket)
    }

    /// Sends a message reliably and returns a ticket for
    /// [`Link::is_acked`]; `None` if the link is not logged in.
    pub fn send_tracked(&mut self, msg: &ZoneMessage) -> Option<Ticket> {
        if self.state != LinkState::LoggedIn {
            return None;
        }
        let conn = self.conn.as_mut()?;
        self.scratch.clear();
        msg.encode(&mut self.scratch);
        let ticket = conn.send_tracked(&self.scratch)?;
        self.counters.messages_out += 1;
        Some(Ticket {
            generation: self.generation,
            ticket,
        })
    }

    /// Whether the biller acknowledged the message with this ticket. Still
    /// answers for the connection that ended last, so that after a drop
    /// the acknowledged messages can be told from the lost ones.
    pub fn is_acked(&self, t: Ticket) -> bool {
        if t.generation == self.generation {
            if let Some(conn) = self.conn.as_ref() {
                return conn.is_acked(t.ticket);
            }
        }
        self.previous
            .as_ref()
            .is_some_and(|(g, c)| *g == t.generation && c.is_acked(t.ticket))
    }

    /// Emits the datagrams that are due and notices timeouts.
    pub fn transmit(&mut self, now: Instant, out: &mut dyn FnMut(&[u8])) {
        // A farewell still owed goes out before anything of a new
        // connection, which it must not end.
        if let Some(bye) = self.farewell.take() {
            out(&bye);
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.poll_transmit(now, out);
        }
        self.conn_events(now);
        if self.conn.as_ref().is_some_and(Connection::is_closed) {
            // Closed without an event having been seen (cannot happen with
            // the current transport, but never leave a dead link "up").
            self.went_down(now, DisconnectReason::Local);
        }
        if let Some(bye) = self.farewell.take() {
            out(&bye);
        }
    }

    /// The zone is stopping: tells the biller (ServerDisconnect, then
    /// `00 07`) and turns the link off.
    pub fn shut_down(&mut self, now: Instant, out: &mut dyn FnMut(&[u8])) {
        if self.state == LinkState::LoggedIn {
            self.send_any(&ZoneMessage::ServerDisconnect);
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.poll_transmit(now, out);
            conn.disconnect();
            conn.poll_transmit(now, out);
        }
        self.conn = None;
        self.state = LinkState::Disabled;
    }
}

/// A random 32-bit value for the connection key (not security relevant;
/// the transport sets bit 31).
fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use ss_proto::billing::s2b_type;
    use ss_proto::transport::{decide_init, InitDecision, InitPolicy, TickClock};

    /// The biller end, in memory.
    struct FakeBiller {
        conn: Option<Connection>,
        got: Vec<Vec<u8>>,
    }

    impl FakeBiller {
        fn new() -> FakeBiller {
            FakeBiller {
                conn: None,
                got: Vec::new(),
            }
        }

        fn receive(&mut self, now: Instant, datagrams: Vec<Vec<u8>>) {
            for mut d in datagrams {
                if d.len() == 8 && d[1] == 0x01 {
                    if let InitDecision::Accept {
                        reply, cipher_key, ..
                    } = decide_init(&d, &InitPolicy::default())
                    {
                        // the reply goes out raw: the test hands it over
                        self.conn = Some(Connection::server(
                            now,
                            TransportConfig::default(),
                            TickClock::new(now, 0),
                            cipher_key,
                            false,
                        ));
                        self.got.push(reply.to_vec());
                    }
                    continue;
                }
                if let Some(c) = self.conn.as_mut() {
                    let got = &mut self.got;
                    c.handle_datagram(now, &mut d, &mut |p| got.push(p.to_vec()));
                }
            }
        }

        fn transmit(&mut self, now: Instant) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            if let Some(c) = self.conn.as_mut() {
                c.poll_transmit(now, &mut |d| out.push(d.to_vec()));
            }
            out
        }
    }

    fn cfg() -> LinkConfig {
        LinkConfig {
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_millis(400),
            ping_interval: Duration::from_secs(1),
            waitlogin: Duration::from_secs(5),
            assume_login: false,
            transport: TransportConfig {
                drop_timeout: Duration::from_secs(2),
                ..TransportConfig::default()
            },
        }
    }

    fn link_out(link: &mut Link, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        link.transmit(now, &mut |d| out.push(d.to_vec()));
        out
    }

    /// Connects `link` to `biller` (whose key reply is delivered raw).
    fn bring_up(link: &mut Link, biller: &mut FakeBiller, now: Instant) {
        link.poll(now);
        assert_eq!(link.state(), LinkState::Connecting);
        let init = link_out(link, now);
        biller.got.clear();
        biller.receive(now, init);
        let mut reply = biller.got.remove(0);
        link.handle_datagram(now, &mut reply);
        assert_eq!(link.state(), LinkState::WaitLogin);
        let login = link_out(link, now);
        biller.receive(now, login);
        assert_eq!(biller.got[0][0], s2b_type::SERVER_CONNECT);
        assert_eq!(biller.got[0].len(), 173);
        // the biller says something (an identity): logged in
        biller
            .conn
            .as_mut()
            .unwrap()
            .send(&[0x33, 1, 2], Reliability::Reliable, Priority::Normal);
        for mut d in biller.transmit(now) {
            link.handle_datagram(now, &mut d);
        }
        assert_eq!(link.state(), LinkState::LoggedIn);
    }

    #[test]
    fn logs_in_on_the_first_biller_message() {
        let now = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), now);
        assert_eq!(link.state_name(), "connecting");
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, now);
        assert_eq!(link.state_name(), "up");
        assert_eq!(link.poll_event(), Some(LinkEvent::Up));
        assert_eq!(
            link.poll_event(),
            Some(LinkEvent::Message(BillerMessage::BillingIdentity(vec![
                1, 2
            ])))
        );
        // capabilities go out after the login
        biller.got.clear();
        let out = link_out(&mut link, now);
        biller.receive(now, out);
        assert!(biller.got.contains(&vec![0x15, 3, 0, 0, 0]));
    }

    #[test]
    fn the_next_deadline_is_the_earliest_timer_of_the_link_and_its_transport() {
        let t0 = Instant::now();
        assert_eq!(Link::disabled(t0).next_deadline(), None);
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        // Waiting to connect, with the retry wait over: due at once.
        assert_eq!(link.next_deadline(), Some(t0));
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t0);
        // Logged in: the capabilities message leaves reliably, and its
        // retransmission time comes before the ping.
        let out = link_out(&mut link, t0);
        let due = link.next_deadline().expect("a deadline");
        assert!(
            due > t0 && due < t0 + Duration::from_secs(1),
            "{:?}",
            due - t0
        );
        // Acknowledged: the ping (1 s) is next, before the silence
        // timeout (2 s).
        biller.receive(t0, out);
        for mut d in biller.transmit(t0) {
            link.handle_datagram(t0, &mut d);
        }
        assert_eq!(link.next_deadline(), Some(t0 + Duration::from_secs(1)));
    }

    /// Brings `link` to *waitlogin* against `biller` and hands the zone
    /// login over; returns the datagrams the biller sends back.
    fn to_waitlogin(link: &mut Link, biller: &mut FakeBiller, now: Instant) -> Vec<Vec<u8>> {
        link.poll(now);
        let init = link_out(link, now);
        biller.got.clear();
        biller.receive(now, init);
        let mut reply = biller.got.remove(0);
        link.handle_datagram(now, &mut reply);
        assert_eq!(link.state(), LinkState::WaitLogin);
        let login = link_out(link, now);
        biller.receive(now, login);
        assert_eq!(biller.got[0][0], s2b_type::SERVER_CONNECT);
        biller.transmit(now)
    }

    #[test]
    fn a_zone_login_taken_without_a_word_fails_the_attempt() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        // the biller acknowledges the zone login and says nothing
        for mut d in to_waitlogin(&mut link, &mut biller, t0) {
            link.handle_datagram(t0, &mut d);
        }
        link.poll(t0 + Duration::from_secs(5));
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: false }));
        assert_eq!(link.state_name(), "down");
        assert_eq!(link.counters().failed_attempts, 1);
    }

    /// `Billing:AssumeLoginAfterWait`, for billers that never speak first.
    fn assuming_cfg() -> LinkConfig {
        LinkConfig {
            assume_login: true,
            ..cfg()
        }
    }

    #[test]
    fn a_zone_login_taken_without_a_word_counts_after_the_wait_when_assumed() {
        let t0 = Instant::now();
        let mut link = Link::new(assuming_cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        // the biller acknowledges the zone login and says nothing, as
        // billers do (they do not answer it as such)
        for mut d in to_waitlogin(&mut link, &mut biller, t0) {
            link.handle_datagram(t0, &mut d);
        }
        assert_eq!(
            link.since_heard(t0),
            Some(Duration::ZERO),
            "acks count as heard"
        );
        assert_eq!(link.since_message(t0), None);
        link.poll(t0 + Duration::from_millis(4999));
        assert_eq!(link.state(), LinkState::WaitLogin);
        assert_eq!(link.state_name(), "connecting");
        link.poll(t0 + Duration::from_secs(5));
        assert_eq!(link.state(), LinkState::LoggedIn);
        assert_eq!(link.poll_event(), Some(LinkEvent::Up));
    }

    #[test]
    fn a_zone_login_nobody_acknowledges_fails_the_attempt_even_when_assumed() {
        let t0 = Instant::now();
        let mut link = Link::new(assuming_cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        // the biller's acknowledgements never arrive
        let _lost = to_waitlogin(&mut link, &mut biller, t0);
        let t2 = t0 + Duration::from_secs(5);
        link.poll(t2);
        // never up: down at once, so logins take the fallback
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: false }));
        assert_eq!(link.state(), LinkState::Retry);
        assert_eq!(link.state_name(), "down");
        assert!(!link.send(&ZoneMessage::Ping));
        let c = link.counters();
        assert_eq!((c.failed_attempts, c.drops), (1, 0));
        // the biller is told the connection is over (`00 07`)
        let bye = link_out(&mut link, t2);
        assert_eq!(bye.len(), 1);
        biller.receive(t2, bye);
        assert!(biller.conn.as_ref().unwrap().is_closed());
        // the next attempt starts with a new key
        let attempt = link.attempt();
        link.poll(t2 + Duration::from_millis(100));
        assert_eq!(link.state(), LinkState::Connecting);
        assert_eq!(link.attempt(), attempt + 1);
    }

    #[test]
    fn once_the_biller_fell_silent_a_zone_login_needs_a_word_even_when_assumed() {
        let t0 = Instant::now();
        let mut link = Link::new(assuming_cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t0);
        while link.poll_event().is_some() {}
        // a player login went unanswered: the zone gives the link up
        link.abandon(t0);
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: true }));
        let bye = link_out(&mut link, t0);
        biller.receive(t0, bye);
        // the next attempt is acknowledged but meets silence again: that
        // is not taken for a login any more
        let t1 = t0 + Duration::from_secs(2);
        link.poll(t1);
        let mut biller = FakeBiller::new();
        for mut d in to_waitlogin(&mut link, &mut biller, t1) {
            link.handle_datagram(t1, &mut d);
        }
        link.poll(t1 + Duration::from_secs(5));
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: false }));
        assert_eq!(link.state_name(), "down");
        // a biller that speaks brings it up again (and is trusted again)
        let t2 = t1 + Duration::from_secs(20);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t2);
    }

    #[test]
    fn a_reply_to_an_earlier_attempt_is_not_taken() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        link.poll(t0);
        let first = link_out(&mut link, t0);
        assert_eq!(first[0][1], 0x01);
        // no answer: the attempt fails; its farewell is plain (no cipher)
        let t1 = t0 + Duration::from_secs(2);
        let out = link_out(&mut link, t1);
        assert_eq!(out, vec![vec![0, 7]]);
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: false }));
        let t2 = t1 + Duration::from_millis(100);
        link.poll(t2);
        let second = link_out(&mut link, t2);
        assert_eq!(second.len(), 1);
        assert_ne!(first[0], second[0], "a new key");
        // the biller wakes up and answers both requests in order
        let mut late = FakeBiller::new();
        late.receive(t2, first);
        let mut stale = late.got.remove(0);
        let mut biller = FakeBiller::new();
        biller.receive(t2, second);
        let mut fresh = biller.got.remove(0);
        link.handle_datagram(t2, &mut stale);
        assert_eq!(link.state(), LinkState::Connecting, "stale reply ignored");
        assert_eq!(link.since_heard(t2), None);
        link.handle_datagram(t2, &mut fresh);
        assert_eq!(link.state(), LinkState::WaitLogin);
        // the cipher is the right one: the biller reads the zone login
        let login = link_out(&mut link, t2);
        biller.receive(t2, login);
        assert_eq!(biller.got[0][0], s2b_type::SERVER_CONNECT);
        assert_eq!(biller.got[0].len(), 173);
    }

    #[test]
    fn a_drop_tells_the_biller_and_counts_retransmits() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t0);
        while link.poll_event().is_some() {}
        assert_eq!(link.since_message(t0), Some(Duration::ZERO));
        // the biller goes quiet; the link drops for want of data
        let mut t = t0;
        let mut last = Vec::new();
        while link.state() == LinkState::LoggedIn {
            t += Duration::from_millis(100);
            link.poll(t);
            last = link_out(&mut link, t);
        }
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: true }));
        assert!(link.counters().retransmits > 0);
        assert_eq!(link.counters().drops, 1);
        assert_eq!(link.since_message(t), Some(t - t0));
        // the last datagram of the pass is the farewell, which the biller
        // reads as the end of the connection
        let bye = last.pop().unwrap();
        assert_eq!(bye.len(), 2);
        biller.receive(t, vec![bye]);
        assert!(biller.conn.as_ref().unwrap().is_closed());
        assert_eq!(link.take_farewell(), None, "sent once");
    }

    #[test]
    fn an_abandoned_link_goes_down_and_says_goodbye() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t0);
        while link.poll_event().is_some() {}
        link.abandon(t0);
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: true }));
        assert_eq!(link.state_name(), "down");
        let bye = link_out(&mut link, t0);
        biller.receive(t0, bye);
        assert!(biller.conn.as_ref().unwrap().is_closed());
        // nothing to abandon while waiting to retry
        link.abandon(t0);
        assert_eq!(link.poll_event(), None);
        link.poll(t0 + Duration::from_millis(100));
        assert_eq!(link.state(), LinkState::Connecting);
    }

    #[test]
    fn a_farewell_still_owed_goes_out_before_the_next_request() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        let _ = to_waitlogin(&mut link, &mut biller, t0);
        // the attempt fails and the next one starts before any transmit
        let t1 = t0 + Duration::from_secs(5);
        link.poll(t1);
        link.poll(t1 + Duration::from_millis(100));
        assert_eq!(link.state(), LinkState::Connecting);
        let out = link_out(&mut link, t1 + Duration::from_millis(100));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], [0, 7]);
        assert_eq!(out[1][..2], [0, 1]);
    }

    #[test]
    fn a_biller_ending_the_link_gets_no_farewell() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, t0);
        while link.poll_event().is_some() {}
        biller.conn.as_mut().unwrap().disconnect();
        for mut d in biller.transmit(t0) {
            link.handle_datagram(t0, &mut d);
        }
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: true }));
        assert_eq!(link.take_farewell(), None);
        assert!(link_out(&mut link, t0).is_empty());
    }

    #[test]
    fn drops_retry_with_growing_back_off_and_reset_when_up() {
        let t0 = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), t0);
        link.poll(t0);
        let _ = link_out(&mut link, t0);
        // nobody answers: the attempt fails after the connect timeout
        let t1 = t0 + Duration::from_secs(2);
        let _ = link_out(&mut link, t1);
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: false }));
        assert_eq!(link.state(), LinkState::Retry);
        assert_eq!(link.state_name(), "down");
        link.poll(t1 + Duration::from_millis(99));
        assert_eq!(link.state(), LinkState::Retry, "first wait is 100 ms");
        link.poll(t1 + Duration::from_millis(100));
        assert_eq!(link.state(), LinkState::Connecting);
        let t2 = t1 + Duration::from_secs(3);
        let _ = link_out(&mut link, t2);
        assert_eq!(link.state(), LinkState::Retry);
        link.poll(t2 + Duration::from_millis(199));
        assert_eq!(link.state(), LinkState::Retry, "second wait is 200 ms");
        link.poll(t2 + Duration::from_millis(200));
        assert_eq!(link.state(), LinkState::Connecting);
        let mut t = t2;
        for _ in 0..5 {
            t += Duration::from_secs(10);
            let _ = link_out(&mut link, t);
            assert_eq!(link.state(), LinkState::Retry);
            assert!(link.backoff <= Duration::from_millis(400), "capped");
            t += Duration::from_secs(1);
            link.poll(t);
            assert_eq!(link.state(), LinkState::Connecting);
        }
        let mut biller = FakeBiller::new();
        // this attempt fails too; the next one is answered
        t += Duration::from_secs(10);
        let _ = link_out(&mut link, t);
        t += Duration::from_secs(1);
        bring_up(&mut link, &mut biller, t);
        assert_eq!(link.backoff, Duration::from_millis(100), "reset when up");
        assert_eq!(link.state_name(), "up");
    }

    #[test]
    fn silence_while_up_drops_the_link_and_tracked_messages_are_not_acked() {
        let now = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), now);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, now);
        while link.poll_event().is_some() {}
        let ticket = link
            .send_tracked(&ZoneMessage::UserLogoff {
                connection_id: 1,
                score: None,
            })
            .unwrap();
        let out = link_out(&mut link, now);
        biller.receive(now, out);
        for mut d in biller.transmit(now) {
            link.handle_datagram(now, &mut d);
        }
        assert!(link.is_acked(ticket));
        let second = link
            .send_tracked(&ZoneMessage::UserLogoff {
                connection_id: 2,
                score: None,
            })
            .unwrap();
        // the biller goes quiet; pings keep going out until the drop
        let mut t = now;
        for _ in 0..40 {
            t += Duration::from_millis(100);
            link.poll(t);
            let _ = link_out(&mut link, t);
        }
        assert_eq!(link.poll_event(), Some(LinkEvent::Down { was_up: true }));
        assert!(!link.is_acked(second));
        assert!(link.is_acked(ticket), "still known after the drop");
        assert_eq!(link.state_name(), "down");
        assert!(!link.send(&ZoneMessage::Ping));
    }

    #[test]
    fn malformed_messages_are_counted_and_dropped() {
        let now = Instant::now();
        let mut link = Link::new(cfg(), ServerConnect::default(), now);
        let mut biller = FakeBiller::new();
        bring_up(&mut link, &mut biller, now);
        while link.poll_event().is_some() {}
        let c = biller.conn.as_mut().unwrap();
        c.send(&[0x01, 0, 0], Reliability::Reliable, Priority::Normal); // truncated
        c.send(&[0x3F, 1], Reliability::Reliable, Priority::Normal); // unknown
        c.send(
            &[0x09, 1, 0, 0, 0, b'k', 0],
            Reliability::Reliable,
            Priority::Normal,
        );
        for mut d in biller.transmit(now) {
            link.handle_datagram(now, &mut d);
        }
        assert_eq!(link.counters().malformed, 2);
        assert_eq!(
            link.poll_event(),
            Some(LinkEvent::Message(BillerMessage::UserCommandChat {
                connection_id: 1,
                text: "k".into()
            }))
        );
        assert_eq!(link.state(), LinkState::LoggedIn);
    }

    #[test]
    fn disabled_link_does_nothing() {
        let now = Instant::now();
        let mut link = Link::disabled(now);
        link.poll(now + Duration::from_secs(100));
        assert!(link_out(&mut link, now).is_empty());
        assert_eq!(link.state_name(), "disabled");
        assert!(!link.send(&ZoneMessage::Ping));
    }
}
