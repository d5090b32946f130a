//! The load generator against the real zone: a short run of `loadgen`
//! (20 bots, 5 s) whose JSON report must be complete and consistent. How
//! fast the zone is (latency, loss) is measured by the benchmarks, not
//! asserted here, so that a busy machine does not fail the test.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use ss_tests::zone::{bin_dir, TestZone};

/// Bots in the run.
const BOTS: u64 = 20;
/// Longest the whole loadgen run may take (ramp, 5 s window, drain).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// Runs `loadgen ARGS` with a bounded wait; returns its stdout.
fn run_loadgen(args: &[String]) -> Result<String> {
    let exe = bin_dir()?.join("loadgen");
    ensure!(
        exe.is_file(),
        "{} not found (build it: cargo build -p ss-tests --bins)",
        exe.display()
    );
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("loadgen did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "loadgen failed ({}):\n{}\n{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

fn num(v: &Value, path: &[&str]) -> Result<f64> {
    let mut cur = v;
    for key in path {
        cur = cur
            .get(key)
            .with_context(|| format!("report lacks {}", path.join(".")))?;
    }
    cur.as_f64()
        .with_context(|| format!("{} is not a number: {cur}", path.join(".")))
}

#[test]
fn loadgen_reports_a_sane_run() {
    sane_run(&[], |_| Ok(()));
}

/// With send threads the run is as sane, and the supervisor's threads are
/// reported by name: the zone thread and both send threads.
#[test]
fn with_send_threads_the_run_is_sane_and_the_threads_are_reported() {
    sane_run(&["Net:SendThreads=2"], |r| {
        let threads = r["server"]["supervisor"]["threads"]
            .as_object()
            .context("no supervisor threads")?;
        for name in ["send-0", "send-1"] {
            ensure!(threads.contains_key(name), "no {name} in {threads:?}");
        }
        ensure!(
            num(r, &["server", "supervisor", "threads", "zone-supervisor"])? > 0.0,
            "the zone thread did nothing: {threads:?}"
        );
        Ok(())
    });
}

/// Runs loadgen against a zone started with `overrides`, checks the
/// report, then `more` on it.
fn sane_run(overrides: &[&str], more: impl FnOnce(&Value) -> Result<()>) {
    let zone = TestZone::start(overrides).expect("starting the zone");
    let result = (|| -> Result<()> {
        let args: Vec<String> = [
            "--bots",
            &BOTS.to_string(),
            "--arenas",
            "1",
            "--rate",
            "10",
            "--duration",
            "5",
            "--server",
            &zone.game_addr().to_string(),
            "--control",
            &zone.control_path().display().to_string(),
            "--threads",
            "1",
            "--json",
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let text = run_loadgen(&args)?;
        let r: Value = serde_json::from_str(&text).with_context(|| format!("report {text:?}"))?;
        let ctx = || format!("report:\n{text}");

        // Every bot got in.
        for key in ["connected", "logged_in", "entered"] {
            ensure!(
                num(&r, &["logins", key])? as u64 == BOTS,
                "logins.{key}; {}",
                ctx()
            );
        }
        ensure!(
            num(&r, &["logins", "failed"])? == 0.0,
            "failed bots; {}",
            ctx()
        );
        ensure!(
            num(&r, &["logins", "per_sec"])? > 0.0,
            "logins/s; {}",
            ctx()
        );

        // Positions flowed and arrived.
        let sent = num(&r, &["positions", "sent"])?;
        let expected = num(&r, &["positions", "expected"])?;
        let received = num(&r, &["positions", "received"])?;
        // 20 bots at 10 Hz for 5 s: about 1000 positions. A busy machine
        // may fall behind (how far is the benchmark's business); the pacing
        // never sends more.
        let window = num(&r, &["config", "window_secs"])?;
        ensure!(sent > 0.0, "no positions sent; {}", ctx());
        ensure!(
            sent <= BOTS as f64 * 10.0 * (window + 1.0),
            "{sent} positions sent in {window} s; {}",
            ctx()
        );
        ensure!(
            expected == sent * (BOTS as f64 - 1.0),
            "expected {expected} != sent × 19; {}",
            ctx()
        );
        ensure!(received > 0.0, "nothing received; {}", ctx());
        // Loss is reported consistently (how much a busy machine loses is
        // measured by the benchmarks, not asserted here).
        let lost = num(&r, &["positions", "lost"])?;
        ensure!(
            lost == (expected - received).max(0.0),
            "received {received}, lost {lost} of {expected}; {}",
            ctx()
        );
        let loss = num(&r, &["positions", "loss_percent"])?;
        ensure!(
            (loss - lost / expected * 100.0).abs() < 1e-3,
            "loss {loss} %; {}",
            ctx()
        );

        // Latencies present, positive and ordered.
        let lat = |k: &str| num(&r, &["latency_ms", k]);
        ensure!(lat("count")? == received, "latency count; {}", ctx());
        ensure!(lat("min")? > 0.0, "min latency not positive; {}", ctx());
        ensure!(
            lat("p50")? <= lat("p95")? && lat("p95")? <= lat("p99")? && lat("p99")? <= lat("max")?,
            "latency quantiles out of order; {}",
            ctx()
        );
        // The same positions timed at the bots' sockets by the kernel's
        // stamps: every one of them, and never later than when the bot
        // read it (a millisecond's slack for wall-clock adjustment).
        let at_socket = |k: &str| num(&r, &["socket_latency_ms", k]);
        ensure!(
            at_socket("count")? == received,
            "socket latency count; {}",
            ctx()
        );
        ensure!(
            at_socket("p50")? <= at_socket("p99")? && at_socket("p99")? <= at_socket("max")?,
            "socket latency quantiles out of order; {}",
            ctx()
        );
        ensure!(
            at_socket("p99")? <= lat("p99")? + 1.0,
            "socket latency above the bots' own; {}",
            ctx()
        );

        // Traffic both ways, no disconnects.
        for key in [
            "datagrams_out_per_sec",
            "datagrams_in_per_sec",
            "bytes_out_per_sec",
            "bytes_in_per_sec",
        ] {
            ensure!(
                num(&r, &["traffic", key])? > 0.0,
                "traffic.{key}; {}",
                ctx()
            );
        }
        ensure!(num(&r, &["disconnects"])? == 0.0, "disconnects; {}", ctx());
        ensure!(
            r["reliable"]["retransmits"].is_u64(),
            "no retransmit count; {}",
            ctx()
        );

        // The zone's processes were found and measured.
        let sup = &r["server"]["supervisor"];
        ensure!(
            num(sup, &["pid"])? as u32 == zone.pid(),
            "supervisor pid; {}",
            ctx()
        );
        ensure!(
            num(sup, &["cpu_percent"])? > 0.0,
            "supervisor CPU; {}",
            ctx()
        );
        ensure!(num(sup, &["rss_bytes"])? > 0.0, "supervisor RSS; {}", ctx());
        let realms = r["server"]["realms"].as_array().context("no realms")?;
        ensure!(realms.len() == 1, "one realm expected; {}", ctx());
        ensure!(
            num(&realms[0], &["cpu_percent"])? > 0.0,
            "realm CPU; {}",
            ctx()
        );
        ensure!(
            num(&realms[0], &["rss_bytes"])? > 0.0,
            "realm RSS; {}",
            ctx()
        );
        ensure!(
            num(&r, &["server", "total_cpu_percent"])? > 0.0,
            "total CPU; {}",
            ctx()
        );
        ensure!(
            num(&r, &["server", "zone_counters", "datagrams_out_per_sec"])? > 0.0,
            "zone counters; {}",
            ctx()
        );
        let steal = num(&r, &["machine", "steal_percent"])?;
        ensure!(
            (0.0..=100.0).contains(&steal),
            "hypervisor steal {steal} % is not a share; {}",
            ctx()
        );
        more(&r).with_context(ctx)
    })();
    if let Err(e) = result {
        panic!("{e:?}");
    }
}
