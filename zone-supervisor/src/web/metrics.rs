//! The zone's figures in the Prometheus text format, read from the latest
//! published [`Snapshot`] at each scrape. Names start with `subsumption_`;
//! realm series carry the label `realm`.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::watch;

use super::Snapshot;

/// Encodes the latest snapshot on every scrape.
#[derive(Debug)]
pub struct SnapshotCollector {
    snapshots: watch::Receiver<Arc<Snapshot>>,
}

impl SnapshotCollector {
    /// Reads from the zone's published snapshots.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>) -> Self {
        SnapshotCollector { snapshots }
    }
}

/// Writes one unlabelled counter.
fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

/// Writes one unlabelled gauge.
fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

/// Writes a family with one series per labelled value.
fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: Vec<(Vec<(&str, String)>, M)>,
) -> std::fmt::Result {
    let Some(kind) = series.first().map(|(_, m)| m.metric_type()) else {
        return Ok(());
    };
    let mut fam = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in &series {
        metric.encode(fam.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let snap = self.snapshots.borrow().clone();
        let z = &snap.report.zone;
        let e = &mut enc;
        gauge(
            e,
            "subsumption_players",
            "Players in arenas.",
            f64::from(z.players),
        )?;
        gauge(
            e,
            "subsumption_connections",
            "Open client connections.",
            f64::from(z.connections),
        )?;
        gauge(
            e,
            "subsumption_uptime_seconds",
            "Seconds since the zone started.",
            z.uptime_secs,
        )?;
        counter(
            e,
            "subsumption_datagrams_in",
            "Datagrams received on the game port.",
            z.counters.datagrams_in,
        )?;
        counter(
            e,
            "subsumption_datagrams_out",
            "Datagrams sent to clients.",
            z.traffic.datagrams_out,
        )?;
        counter(
            e,
            "subsumption_bytes_in",
            "Bytes received from clients.",
            z.traffic.bytes_in,
        )?;
        counter(
            e,
            "subsumption_bytes_out",
            "Bytes sent to clients.",
            z.traffic.bytes_out,
        )?;
        counter(
            e,
            "subsumption_retransmits",
            "Reliable packets sent again.",
            z.traffic.retransmits,
        )?;
        counter(
            e,
            "subsumption_dropped_packets",
            "Packets dropped: unknown senders, malformed, out of window.",
            z.dropped,
        )?;
        counter(
            e,
            "subsumption_refused_connections",
            "Connection requests refused.",
            z.counters.refused,
        )?;
        counter(
            e,
            "subsumption_refused_realm_sends",
            "Realm send requests refused.",
            z.counters.refused_realm_sends,
        )?;
        counter(
            e,
            "subsumption_lagouts",
            "Players dropped for lag (any reason).",
            z.counters.lagout_no_data + z.counters.lagout_retries + z.counters.lagout_outgoing,
        )?;
        gauge(
            e,
            "subsumption_supervisor_cpu_seconds",
            "CPU seconds of the supervisor process.",
            z.process.cpu_user_secs + z.process.cpu_system_secs,
        )?;
        gauge(
            e,
            "subsumption_supervisor_rss_bytes",
            "Resident memory of the supervisor.",
            z.process.rss_bytes as f64,
        )?;
        let biller_up = f64::from(u8::from(z.biller == "up"));
        gauge(
            e,
            "subsumption_biller_up",
            "1 while the billing server link is up.",
            biller_up,
        )?;
        counter(
            e,
            "subsumption_biller_drops",
            "Times the biller link was lost.",
            z.billing.drops,
        )?;
        if let Some(ms) = z.billing.last_message_ms {
            gauge(
                e,
                "subsumption_biller_last_message_seconds",
                "Seconds since the biller last sent a message.",
                ms as f64 / 1000.0,
            )?;
        }
        if let Some(p) = &z.persist {
            gauge(
                e,
                "subsumption_db_last_write_seconds",
                "How long the database's latest write took.",
                p.last_write_secs,
            )?;
            gauge(
                e,
                "subsumption_db_pending_writes",
                "Score writes waiting for the database.",
                p.pending_writes as f64,
            )?;
            counter(
                e,
                "subsumption_db_failed_writes",
                "Failed database write attempts.",
                p.failed_writes,
            )?;
            counter(
                e,
                "subsumption_db_dropped_writes",
                "Writes given up (queue full).",
                p.dropped_writes,
            )?;
        }
        let realms = &snap.report.realms;
        let by_realm = |f: &dyn Fn(&crate::stats::RealmReport) -> f64| {
            realms
                .iter()
                .map(|r| (vec![("realm", r.name.clone())], ConstGauge::new(f(r))))
                .collect::<Vec<_>>()
        };
        let count_by_realm = |f: &dyn Fn(&crate::stats::RealmReport) -> u64| {
            realms
                .iter()
                .map(|r| (vec![("realm", r.name.clone())], ConstCounter::new(f(r))))
                .collect::<Vec<_>>()
        };
        family(
            e,
            "subsumption_realm_players",
            "Players in the realm.",
            by_realm(&|r| f64::from(r.players)),
        )?;
        family(
            e,
            "subsumption_realm_up",
            "1 while the realm's worker is running.",
            by_realm(&|r| f64::from(u8::from(r.state == "running"))),
        )?;
        family(
            e,
            "subsumption_realm_cpu_seconds",
            "CPU seconds of the realm's current worker.",
            by_realm(&|r| r.process.cpu_user_secs + r.process.cpu_system_secs),
        )?;
        family(
            e,
            "subsumption_realm_rss_bytes",
            "Resident memory of the realm's worker.",
            by_realm(&|r| r.process.rss_bytes as f64),
        )?;
        family(
            e,
            "subsumption_realm_ipc_queue_bytes",
            "Bytes queued for the realm's worker.",
            by_realm(&|r| r.ipc_queue_bytes as f64),
        )?;
        family(
            e,
            "subsumption_realm_restarts",
            "Worker restarts (crashes, hangs, operator requests).",
            count_by_realm(&|r| u64::from(r.restarts)),
        )?;
        family(
            e,
            "subsumption_realm_ipc_messages_in",
            "IPC messages from the realm.",
            count_by_realm(&|r| r.ipc_msgs_from),
        )?;
        family(
            e,
            "subsumption_realm_ipc_messages_out",
            "IPC messages to the realm.",
            count_by_realm(&|r| r.ipc_msgs_to),
        )?;
        family(
            e,
            "subsumption_realm_ipc_bytes_in",
            "IPC bytes from the realm.",
            count_by_realm(&|r| r.ipc_bytes_from),
        )?;
        family(
            e,
            "subsumption_realm_ipc_bytes_out",
            "IPC bytes to the realm.",
            count_by_realm(&|r| r.ipc_bytes_to),
        )?;
        family(
            e,
            "subsumption_realm_ipc_dropped",
            "Player packets dropped at the IPC queue cap.",
            count_by_realm(&|r| r.ipc_dropped),
        )?;
        family(
            e,
            "subsumption_realm_packets_in",
            "Player packets forwarded to the realm.",
            count_by_realm(&|r| r.packets_in),
        )?;
        family(
            e,
            "subsumption_realm_packets_out",
            "Packets the realm sent to players.",
            count_by_realm(&|r| r.packets_out),
        )?;
        let exits: Vec<_> = realms
            .iter()
            .filter_map(|r| {
                let cause = r.last_exit.clone()?;
                Some((
                    vec![("realm", r.name.clone()), ("cause", cause)],
                    ConstGauge::new(1.0),
                ))
            })
            .collect();
        family(
            e,
            "subsumption_realm_last_exit",
            "Why the realm's last worker ended (1 per realm).",
            exits,
        )?;
        Ok(())
    }
}
