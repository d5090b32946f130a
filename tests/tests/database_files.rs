//! The database file as an operator sees it: a zone that cannot write its
//! database refuses to start (one line naming the file), and a clean stop
//! leaves nothing but `zone.db` behind.

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use nix::sys::signal::Signal;
use ss_proto::game::ship;
use ss_tests::scenario::*;
use ss_tests::zone::{bin_dir, TestZone, ZoneOptions};

fn zone_with_db(db: &Path) -> Result<TestZone> {
    TestZone::start_with(ZoneOptions {
        overrides: vec![format!("Persist:DatabasePath={}", db.display())],
        ..ZoneOptions::default()
    })
}

/// The files in `dir`, sorted.
fn files_in(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    names.sort();
    Ok(names)
}

#[test]
fn a_clean_stop_leaves_only_the_database_file() {
    in_temp_dir("dbfiles", |dir| {
        let data = dir.join("data");
        std::fs::create_dir(&data)?;
        let db = data.join("zone.db");
        let mut zone = zone_with_db(&db)?;
        // Some traffic, so the database has been written while running.
        let _a = bot_in(&zone, "alice", "0", ship::WARBIRD)?;
        ensure!(
            files_in(&data)?.len() > 1,
            "expected the write-ahead log while running: {:?}",
            files_in(&data)?
        );
        zone.signal(Signal::SIGTERM)?;
        ensure!(zone.wait_exit(WAIT)?.success(), "clean exit");
        ensure!(
            files_in(&data)? == vec!["zone.db".to_string()],
            "left behind: {:?}",
            files_in(&data)?
        );
        Ok(())
    });
}

/// Makes a file immutable (even for root) until dropped.
struct Immutable<'a>(&'a Path);

impl<'a> Immutable<'a> {
    fn set(path: &'a Path) -> Result<Self> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .context("running chattr (e2fsprogs)")?
            .success();
        ensure!(ok, "chattr +i {} failed", path.display());
        Ok(Immutable(path))
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

#[test]
fn a_database_that_cannot_be_written_stops_the_start_with_one_line() {
    in_temp_dir("dbreadonly", |dir| {
        let db = dir.join("zone.db");
        // A real database first (made by a zone that stops cleanly).
        {
            let mut zone = zone_with_db(&db)?;
            zone.signal(Signal::SIGTERM)?;
            ensure!(zone.wait_exit(WAIT)?.success());
        }
        // File modes do not stop root: make the file immutable instead.
        let _guard = Immutable::set(&db)?;
        let out = Command::new(bin_dir()?.join("zone-supervisor"))
            .args(["run", "--port", "0", "--control"])
            .arg(dir.join("control.sock"))
            .arg("--set")
            .arg(format!("Persist:DatabasePath={}", db.display()))
            .env("RUST_BACKTRACE", "1")
            .output()
            .context("running the supervisor")?;
        ensure!(out.status.code() == Some(1), "status {:?}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains(" WARN ") && !l.contains(" INFO "))
            .collect();
        ensure!(errors.len() == 1, "not one line:\n{stderr}");
        ensure!(
            errors[0].contains(&db.display().to_string()),
            "the error does not name the file: {}",
            errors[0]
        );
        ensure!(
            !String::from_utf8_lossy(&out.stdout).contains("zone listening"),
            "the zone started anyway"
        );
        Ok(())
    });
}
