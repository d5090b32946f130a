//! Operator statistics: the report `zone-supervisor stats` shows, and the
//! process figures (CPU time, memory) read from /proc.

use serde::{Deserialize, Serialize};

pub use proc_sample::{cpu_percent, read_proc, ProcSample};

/// Process figures as reported.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ProcessReport {
    /// OS process id (0 when no process runs).
    pub pid: u32,
    /// User CPU seconds.
    pub cpu_user_secs: f64,
    /// System CPU seconds.
    pub cpu_system_secs: f64,
    /// CPU % of one core over the last sampling interval.
    pub cpu_percent: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

/// One realm in the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RealmReport {
    /// Arena name.
    pub name: String,
    /// starting / running / restarting / failed / stopping.
    pub state: String,
    /// The worker process.
    pub process: ProcessReport,
    /// Seconds since the current worker started.
    pub uptime_secs: f64,
    /// Restarts after crashes, hangs or operator requests.
    pub restarts: u32,
    /// Why the last worker ended (exit code, signal, "unresponsive").
    pub last_exit: Option<String>,
    /// Players in the realm.
    pub players: u32,
    /// IPC messages supervisor → worker.
    pub ipc_msgs_to: u64,
    /// IPC messages worker → supervisor.
    pub ipc_msgs_from: u64,
    /// IPC bytes supervisor → worker.
    pub ipc_bytes_to: u64,
    /// IPC bytes worker → supervisor.
    pub ipc_bytes_from: u64,
    /// Bytes queued for the worker and not yet written.
    pub ipc_queue_bytes: u64,
    /// Player packets dropped because the queue to the worker was full
    /// (`Realms:IpcQueueMaxBytes`; a hung or overloaded worker).
    #[serde(default)]
    pub ipc_dropped: u64,
    /// Game packets from players into the realm.
    pub packets_in: u64,
    /// Game packets the realm sent to players (per receiver).
    pub packets_out: u64,
    /// Setup problems the realm reported (missing map, ...).
    #[serde(default)]
    pub problems: Vec<String>,
    /// The build version of the realm's worker binary (`docs/upgrades.md`).
    #[serde(default)]
    pub version: Option<String>,
}

/// Zone-wide event counters, kept by the zone task and reported as they
/// are (declared once: the zone increments these very fields).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ZoneCounters {
    /// Datagrams received on the game port.
    pub datagrams_in: u64,
    /// Datagrams from unknown addresses that were not connection requests.
    #[serde(default)]
    pub dropped_unknown: u64,
    /// Game packets dropped (wrong state for them, malformed).
    #[serde(default)]
    pub dropped_game: u64,
    /// Connection requests refused (full, or client type not allowed).
    pub refused: u64,
    /// Refused by the per-IP connection limit.
    pub limit_per_ip: u64,
    /// Refused because too many connections had not logged in.
    pub limit_pending: u64,
    /// Refused by the total connection limit.
    pub limit_total: u64,
    /// Idle not-logged-in connections evicted to make room for new ones.
    pub evicted_pending: u64,
    /// Downloads refused because the player already had several queued.
    pub refused_downloads: u64,
    /// Continuum update requests (C2S 0x0B) answered with the update file.
    #[serde(default)]
    pub update_requests_served: u64,
    /// Continuum update requests ignored: the zone has no update file.
    #[serde(default)]
    pub update_requests_ignored: u64,
    /// File uploads (C2S 0x16) dropped: nothing was asked of the player,
    /// or the packet was too short.
    #[serde(default)]
    pub uploads_refused: u64,
    /// Players dropped for sending nothing (`Net:DropTimeout`).
    pub lagout_no_data: u64,
    /// Players dropped for not acknowledging reliable packets.
    pub lagout_retries: u64,
    /// Players dropped for a full outgoing queue (`Net:MaxOutlistSize`).
    pub lagout_outgoing: u64,
    /// Realm send requests refused (target not in that realm, too large).
    pub refused_realm_sends: u64,
    /// Positions the supervisor relayed itself (`Net:SupervisorRelay`).
    #[serde(default)]
    pub supervisor_relayed: u64,
}

/// Transport figures summed over connections (live and ended ones, so
/// the totals never shrink when players leave).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrafficCounters {
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Reliable packets retransmitted.
    pub retransmits: u64,
    /// Packets the transport dropped (out of window, malformed).
    #[serde(default)]
    pub transport_dropped: u64,
    /// Unreliable packets discarded because a player's queue was full.
    pub unreliable_discarded: u64,
}

impl TrafficCounters {
    /// Adds one connection's figures.
    pub fn absorb(&mut self, s: &ss_proto::transport::ConnStats) {
        self.datagrams_out += s.datagrams_out;
        self.bytes_in += s.bytes_in;
        self.bytes_out += s.bytes_out;
        self.retransmits += s.retransmits;
        self.transport_dropped += s.dropped;
        self.unreliable_discarded += s.unreliable_discarded;
    }
}

/// Zone-wide figures in the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ZoneReport {
    /// The supervisor's build version (`docs/upgrades.md`).
    #[serde(default)]
    pub version: String,
    /// In-place supervisor upgrades since the zone started.
    #[serde(default)]
    pub upgrades: u32,
    /// Why the last supervisor upgrade was refused or abandoned.
    #[serde(default)]
    pub upgrade_error: Option<String>,
    /// The supervisor process.
    pub process: ProcessReport,
    /// Seconds since the zone started.
    pub uptime_secs: f64,
    /// Open connections.
    pub connections: u32,
    /// Players in arenas.
    pub players: u32,
    /// The zone's event counters.
    #[serde(flatten)]
    pub counters: ZoneCounters,
    /// Transport totals.
    #[serde(flatten)]
    pub traffic: TrafficCounters,
    /// Packets dropped in all: unknown senders, malformed, out of window.
    pub dropped: u64,
    /// Datagrams to clients the kernel refused (send buffer full, error).
    #[serde(default)]
    pub send_failed: u64,
    /// Threads making the game socket's sends (`Net:SendThreads`; 0: the
    /// zone thread).
    #[serde(default)]
    pub send_threads: u32,
    /// Billing server link: "disabled", "connecting", "up", "down".
    pub biller: String,
    /// Details of the billing server link.
    #[serde(default)]
    pub billing: BillingReport,
    /// Score persistence (absent when scores are not kept).
    #[serde(default)]
    pub persist: Option<PersistReport>,
}

/// The billing server link in the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BillingReport {
    /// "disabled", "connecting", "up" or "down".
    pub state: String,
    /// The link state in ASSS's `?userdbadm` words.
    pub status: String,
    /// Milliseconds since the biller last sent anything the link took (an
    /// acknowledgement counts); `None` if it never did.
    #[serde(default)]
    pub last_heard_ms: Option<u64>,
    /// Milliseconds since the biller last sent a billing message; `None`
    /// if it never did.
    #[serde(default)]
    pub last_message_ms: Option<u64>,
    /// Connection attempts.
    pub connect_attempts: u64,
    /// Attempts that failed before the zone login was answered.
    #[serde(default)]
    pub failed_attempts: u64,
    /// Reliable messages to the biller sent again for want of an ack.
    #[serde(default)]
    pub retransmits: u64,
    /// Times the link was lost after being logged in.
    pub drops: u64,
    /// Messages received from the biller.
    pub messages_in: u64,
    /// Messages sent to the biller.
    pub messages_out: u64,
    /// Malformed or unsupported biller messages dropped.
    pub malformed: u64,
    /// Player logins waiting for the biller.
    pub pending_logins: u32,
    /// Player logoffs not yet acknowledged by the biller.
    pub queued_logoffs: u32,
    /// Player logins sent to the biller.
    pub logins_sent: u64,
    /// Logins answered by the fallback.
    pub logins_fallback: u64,
    /// Logins refused as busy by the throttle.
    pub logins_busy: u64,
    /// Player logoffs the biller acknowledged.
    pub logoffs_delivered: u64,
}

/// State of score persistence.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PersistReport {
    /// The database file.
    pub path: String,
    /// Stats writes kept in memory because the database refused them.
    pub pending_writes: u64,
    /// Failed write attempts so far.
    pub failed_writes: u64,
    /// Writes given up because the in-memory queue was full.
    pub dropped_writes: u64,
    /// Whether writes are failing now (the latest attempt failed; pending
    /// writes are kept and retried every second).
    #[serde(default)]
    pub write_failing: bool,
    /// Why the latest write attempt failed, while `write_failing`.
    #[serde(default)]
    pub last_error: Option<String>,
    /// How long the latest write took, seconds.
    #[serde(default)]
    pub last_write_secs: f64,
}

impl PersistReport {
    /// A short line about failing writes for operators (`?realms`, the
    /// systemd status), or `None` while writes succeed.
    pub fn failure_line(&self) -> Option<String> {
        self.write_failing.then(|| {
            format!(
                "database writes failing ({} pending, {} dropped): {}",
                self.pending_writes,
                self.dropped_writes,
                self.last_error.as_deref().unwrap_or("unknown error")
            )
        })
    }
}

/// The whole report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatsReport {
    /// Zone figures.
    pub zone: ZoneReport,
    /// One entry per realm, by name.
    pub realms: Vec<RealmReport>,
}

/// Renders the report as a table for people.
pub fn render_table(r: &StatsReport) -> String {
    let z = &r.zone;
    let mut s = String::new();
    s.push_str(&format!(
        "zone: version {}  pid {}  up {:.0}s  cpu {:.1}%  rss {:.1} MiB  connections {}  players {}  biller {}\n",
        z.version,
        z.process.pid,
        z.uptime_secs,
        z.process.cpu_percent,
        z.process.rss_bytes as f64 / 1048576.0,
        z.connections,
        z.players,
        z.biller
    ));
    s.push_str(&format!(
        "      datagrams in/out {}/{}  bytes in/out {}/{}  retransmits {}  dropped {}  refused {}\n",
        z.counters.datagrams_in,
        z.traffic.datagrams_out,
        z.traffic.bytes_in,
        z.traffic.bytes_out,
        z.traffic.retransmits,
        z.dropped,
        z.counters.refused
    ));
    if z.biller != "disabled" && !z.biller.is_empty() {
        let b = &z.billing;
        let ago = |ms: Option<u64>| {
            ms.map_or("never".to_string(), |ms| {
                format!("{:.1}s ago", ms as f64 / 1000.0)
            })
        };
        s.push_str(&format!(
            "      biller {} ({})  last heard {}  last message {}  attempts {} (failed {})  drops {}  retransmits {}\n",
            b.state,
            b.status,
            ago(b.last_heard_ms),
            ago(b.last_message_ms),
            b.connect_attempts,
            b.failed_attempts,
            b.drops,
            b.retransmits
        ));
    }
    if z.upgrades > 0 || z.upgrade_error.is_some() {
        s.push_str(&format!(
            "      in-place upgrades {}{}\n",
            z.upgrades,
            z.upgrade_error
                .as_ref()
                .map(|e| format!("  last refused: {e}"))
                .unwrap_or_default()
        ));
    }
    if let Some(line) = z.persist.as_ref().and_then(PersistReport::failure_line) {
        s.push_str(&format!("      {line}\n"));
    }
    s.push('\n');
    s.push_str(&format!(
        "{:<16} {:>7} {:<10} {:>8} {:>4} {:>7} {:>6} {:>8} {:>9} {:>9} {:>9} {:>6} {:>6}  {}\n",
        "REALM",
        "PID",
        "STATE",
        "UPTIME",
        "RST",
        "PLAYERS",
        "CPU%",
        "RSS MiB",
        "IPC→",
        "IPC←",
        "PKT→",
        "QUEUE",
        "DROP",
        "LAST EXIT"
    ));
    for realm in &r.realms {
        s.push_str(&format!(
            "{:<16} {:>7} {:<10} {:>7.0}s {:>4} {:>7} {:>6.1} {:>8.1} {:>9} {:>9} {:>9} {:>6} {:>6}  {}\n",
            realm.name,
            realm.process.pid,
            realm.state,
            realm.uptime_secs,
            realm.restarts,
            realm.players,
            realm.process.cpu_percent,
            realm.process.rss_bytes as f64 / 1048576.0,
            realm.ipc_msgs_to,
            realm.ipc_msgs_from,
            realm.packets_out,
            realm.ipc_queue_bytes,
            realm.ipc_dropped,
            realm.last_exit.as_deref().unwrap_or("-")
        ));
        if let Some(version) = &realm.version {
            s.push_str(&format!("{:<16} version {version}\n", ""));
        }
        for problem in &realm.problems {
            s.push_str(&format!("{:<16} problem: {problem}\n", ""));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_the_biller_link_when_billing_is_on() {
        let mut r = StatsReport::default();
        r.zone.biller = "disabled".into();
        assert!(!render_table(&r).contains("last heard"));
        r.zone.biller = "up".into();
        r.zone.billing = BillingReport {
            state: "up".into(),
            status: "logged in".into(),
            last_heard_ms: Some(1500),
            connect_attempts: 3,
            failed_attempts: 2,
            ..BillingReport::default()
        };
        let table = render_table(&r);
        assert!(
            table.contains(
                "biller up (logged in)  last heard 1.5s ago  last message never  attempts 3 (failed 2)"
            ),
            "{table}"
        );
    }

    #[test]
    fn process_figures_come_from_proc() {
        let me = read_proc(std::process::id()).unwrap();
        assert!(me.rss_bytes > 0);
        let later = ProcSample {
            user_secs: me.user_secs + 1.0,
            ..me
        };
        assert!((cpu_percent(&me, &later, 1.0) - 100.0).abs() < 1e-6);
    }
}
