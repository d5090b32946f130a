//! The metrics endpoint and the dashboard, against a zone with bots
//! flying: Prometheus series per realm that move with play, the token rule,
//! and the page rendered by headless Chromium showing the realm rows, the
//! radar dots of the bots and a crash as a restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use ss_proto::game::{ship, WeaponInfo};
use ss_tests::bot::Bot;
use ss_tests::scenario::*;
use ss_tests::zone::{wait_until, TestZone, ZoneOptions};

fn zone_with_metrics(extra: &[&str]) -> Result<TestZone> {
    let mut overrides = vec!["Metrics:Listen=127.0.0.1:0".to_string()];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    TestZone::start_with(ZoneOptions {
        overrides,
        ..ZoneOptions::default()
    })
}

/// GET `path`: (status code, body).
fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(WAIT))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// The value of one series (`name{labels}`) in a scrape.
fn series(scrape: &str, name_and_labels: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        let (key, value) = l.rsplit_once(' ')?;
        (key == name_and_labels)
            .then(|| value.parse().ok())
            .flatten()
    })
}

fn metrics_of(zone: &TestZone) -> Result<String> {
    let addr = zone
        .metrics_addr()
        .context("no metrics= in the listening line")?;
    let (status, body) = http_get(addr, "/metrics")?;
    ensure!(status == 200, "status {status}: {body}");
    Ok(body)
}

/// Keeps two bots flying in arena 0 until `done` holds (or the wait ends).
fn fly_until(a: &mut Bot, b: &mut Bot, mut done: impl FnMut() -> bool) -> Result<()> {
    let mut step: i16 = 0;
    let ok = wait_until(WAIT, || {
        step = step.wrapping_add(1);
        let x = 8000 + (step % 200) * 4;
        let _ = a.send_position(x, 8000, 0, 0, WeaponInfo::NONE);
        let _ = b.send_position(8400, x, 0, 0, WeaponInfo::NONE);
        a.clear_backlog();
        b.clear_backlog();
        done()
    });
    ensure!(ok, "the condition did not hold within {WAIT:?}");
    Ok(())
}

#[test]
fn per_realm_series_move_while_bots_play() {
    let zone = zone_with_metrics(&[]).expect("zone");
    let result = (|| -> Result<()> {
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::JAVELIN)?;
        let mut first = 0.0;
        fly_until(&mut a, &mut b, || {
            let Ok(m) = metrics_of(&zone) else {
                return false;
            };
            first = series(&m, "subsumption_realm_packets_in_total{realm=\"0\"}").unwrap_or(0.0);
            series(&m, "subsumption_realm_players{realm=\"0\"}") == Some(2.0) && first > 0.0
        })?;
        // The realm's traffic grows as they keep flying.
        fly_until(&mut a, &mut b, || {
            metrics_of(&zone).is_ok_and(|m| {
                series(&m, "subsumption_realm_packets_in_total{realm=\"0\"}")
                    .is_some_and(|v| v > first)
            })
        })?;
        let m = metrics_of(&zone)?;
        for name in [
            "subsumption_players",
            "subsumption_connections",
            "subsumption_datagrams_in_total",
            "subsumption_realm_up{realm=\"0\"}",
            "subsumption_realm_rss_bytes{realm=\"0\"}",
            "subsumption_realm_restarts_total{realm=\"0\"}",
        ] {
            ensure!(series(&m, name).is_some(), "no {name} in:\n{m}");
        }
        ensure!(series(&m, "subsumption_players") == Some(2.0), "{m}");
        // Scores are kept: the database's write time is published too.
        ensure!(
            series(&m, "subsumption_db_last_write_seconds").is_some(),
            "no database write time in:\n{m}"
        );
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

#[test]
fn a_token_is_required_when_one_is_set() {
    zone_test(
        &["Metrics:Listen=127.0.0.1:0", "Metrics:Token=s3cret"],
        |zone| {
            let addr = zone.metrics_addr().context("metrics address")?;
            for path in ["/metrics", "/", "/api/stats"] {
                let (status, _) = http_get(addr, path)?;
                ensure!(status == 401, "{path} without a token: {status}");
                let (status, _) = http_get(addr, &format!("{path}?token=s3cret"))?;
                ensure!(status == 200, "{path} with the token: {status}");
            }
            Ok(())
        },
    );
}

/// The headless browser this test drives (Debian's `chromium`).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// The page as the browser rendered it once loaded (the page shows the
/// zone's current snapshot as it loads; `millis` bounds the wait).
fn rendered_page(browser: &str, url: &str, millis: u64) -> Result<String> {
    let dir = TempDir::new("chromium");
    let out = Command::new("timeout")
        .arg("60")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", dir.path().display()))
        .arg(format!("--timeout={millis}"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .context("running the browser")?;
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    if dom.trim().is_empty() {
        bail!(
            "the browser printed no page (status {:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(dom)
}

/// The number in `data-dots="N"` of the radar canvas.
fn radar_dots(dom: &str) -> Option<u32> {
    let at = dom.find("id=\"radar\"")?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[dom[..at].rfind('<')?..tag_end];
    let v = tag.split("data-dots=\"").nth(1)?.split('"').next()?;
    v.parse().ok()
}

#[test]
fn the_dashboard_shows_realms_radar_dots_and_a_restart() {
    let Some(browser) = chromium() else {
        // CI installs it (.ci/run); a developer machine may not have it.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed (CI must install it)"
        );
        eprintln!("SKIPPED: no chromium on this machine");
        return;
    };
    let zone = zone_with_metrics(&[]).expect("zone");
    let result = (|| -> Result<()> {
        let addr = zone.metrics_addr().context("metrics address")?;
        let mut a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        let mut b = bot_in(&zone, "bob", "0", ship::JAVELIN)?;
        // Flying bots, so the radar has something to show.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let dom = std::thread::scope(|scope| -> Result<String> {
            let handle = scope.spawn(|| {
                let mut step: i16 = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    step = step.wrapping_add(1);
                    let _ = a.send_position(8000 + step % 300, 8000, 0, 0, WeaponInfo::NONE);
                    let _ = b.send_position(8200, 8000 + step % 300, 0, 0, WeaponInfo::NONE);
                    a.clear_backlog();
                    b.clear_backlog();
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            // Someone watches arena 0's radar (as the page does); once the
            // realm's positions are in, the page shows them as it loads.
            let ok = wait_until(WAIT, || radar_count(addr, "0") == Some(2));
            let dom = rendered_page(browser, &format!("http://{addr}/?radar=0"), 20_000);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            handle.join().ok();
            ensure!(ok, "the radar of arena 0 never had both bots");
            dom
        })?;
        ensure!(radar_dots(&dom) == Some(2), "radar dots not 2:\n{dom}");
        ensure!(dom.contains("data-realm=\"0\""), "no realm row:\n{dom}");
        ensure!(dom.contains("players: 2"), "no zone summary:\n{dom}");
        // A crash shows as a restart in the realm's row.
        let worker = zone
            .realm_workers()
            .into_iter()
            .map(|(pid, _)| pid)
            .next()
            .context("realm worker")?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker as i32), Signal::SIGKILL)?;
        let restarted = wait_until(WAIT, || {
            http_get(addr, "/api/stats").is_ok_and(|(_, body)| {
                serde_json::from_str::<serde_json::Value>(&body)
                    .is_ok_and(|v| v["report"]["realms"][0]["restarts"].as_u64().unwrap_or(0) >= 1)
            })
        });
        ensure!(restarted, "the zone never reported the restart");
        let dom = rendered_page(browser, &format!("http://{addr}/"), 20_000)?;
        ensure!(
            restarts_of(&dom, "0").is_some_and(|n| n >= 1),
            "no restart shown:\n{dom}"
        );
        Ok(())
    })();
    if let Err(e) = result {
        panic!("{e:?}\nzone log:\n{}", zone.log_tail());
    }
}

/// How many dots the zone's JSON has for a realm's radar (asking for it
/// renews the watch).
fn radar_count(addr: SocketAddr, realm: &str) -> Option<usize> {
    let (_, body) = http_get(addr, &format!("/api/stats?radar={realm}")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(v["radar"][realm].as_array()?.len())
}

/// The restarts cell of a realm's row.
fn restarts_of(dom: &str, realm: &str) -> Option<u32> {
    let row_at = dom.find(&format!("data-realm=\"{realm}\""))?;
    let row = &dom[row_at..row_at + dom[row_at..].find("</tr>")?];
    let cell = row.split("class=\"restarts\">").nth(1)?;
    cell.split('<').next()?.trim().parse().ok()
}
