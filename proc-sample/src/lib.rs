//! CPU time, resident memory and child processes of a Linux process, read
//! from `/proc/<pid>/stat` and `/proc/<pid>/statm`.
//!
//! Clock ticks and the page size are the running system's, from
//! `sysconf(_SC_CLK_TCK)` and `sysconf(_SC_PAGESIZE)`; nothing is assumed.
//! The parsers take the files' text so they can be tested without a
//! process.

#![warn(missing_docs)]

use std::sync::OnceLock;

use nix::unistd::{sysconf, SysconfVar};

/// CPU time and resident memory of one process.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcSample {
    /// User CPU seconds.
    pub user_secs: f64,
    /// System CPU seconds.
    pub system_secs: f64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// Virtual memory size in bytes (everything mapped or reserved,
    /// touched or not).
    pub vm_bytes: u64,
}

impl ProcSample {
    /// User plus system CPU seconds.
    pub fn cpu_secs(&self) -> f64 {
        self.user_secs + self.system_secs
    }
}

/// The system's units: clock ticks per second and bytes per page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Units {
    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    pub ticks_per_sec: u64,
    /// Bytes per page (`sysconf(_SC_PAGESIZE)`).
    pub page_size: u64,
}

impl Units {
    /// The running system's units (asked once, then remembered).
    pub fn system() -> Units {
        static UNITS: OnceLock<Units> = OnceLock::new();
        *UNITS.get_or_init(|| {
            let ask = |var: SysconfVar, fallback: u64| match sysconf(var) {
                Ok(Some(v)) if v > 0 => v as u64,
                _ => fallback,
            };
            Units {
                ticks_per_sec: ask(SysconfVar::CLK_TCK, 100),
                page_size: ask(SysconfVar::PAGE_SIZE, 4096),
            }
        })
    }
}

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Process state (`R`, `S`, `Z`, …).
    pub state: char,
    /// Parent process id.
    pub ppid: u32,
    /// User CPU time in clock ticks.
    pub utime: u64,
    /// System CPU time in clock ticks.
    pub stime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// Whether the process has exited and waits to be reaped (or is dead).
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses the text of a `/proc/<pid>/stat` file. The command name is in
/// parentheses and may itself hold spaces and parentheses, so fields are
/// counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 of the line (state): utime is 14, stime 15,
    // vsize 23, rss 24.
    let state = fields.first()?.chars().next()?;
    Some(Stat {
        state,
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
        vsize: fields.get(20)?.parse().ok()?,
        rss_pages: fields.get(21)?.parse().ok()?,
    })
}

/// Parses the text of a `/proc/<pid>/statm` file: resident pages (its
/// second field).
pub fn parse_statm_resident(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Parses the text of a `/proc/<pid>/statm` file: total program size in
/// pages (its first field).
pub fn parse_statm_size(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Reads and parses `/proc/<pid>/stat`; `None` if the process is gone.
pub fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// A sample from the texts of `/proc/<pid>/stat` and, if read,
/// `/proc/<pid>/statm` (whose memory figures are preferred), in `units`.
pub fn sample_from(stat: &str, statm: Option<&str>, units: Units) -> Option<ProcSample> {
    let s = parse_stat(stat)?;
    let pages = statm.and_then(parse_statm_resident).unwrap_or(s.rss_pages);
    let vm_bytes = statm
        .and_then(parse_statm_size)
        .map_or(s.vsize, |p| p * units.page_size);
    let hz = units.ticks_per_sec.max(1) as f64;
    Some(ProcSample {
        user_secs: s.utime as f64 / hz,
        system_secs: s.stime as f64 / hz,
        rss_bytes: pages * units.page_size,
        vm_bytes,
    })
}

/// Parses the text of a `/proc/<pid>/stat` file with the system's units
/// (the resident size from the stat line).
pub fn parse_proc_stat(text: &str) -> Option<ProcSample> {
    sample_from(text, None, Units::system())
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/statm`; `None` if the process
/// is gone.
pub fn read_proc(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok();
    sample_from(&stat, statm.as_deref(), Units::system())
}

/// CPU use between two samples taken `secs` apart, in percent of one core.
pub fn cpu_percent(before: &ProcSample, after: &ProcSample, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((after.cpu_secs() - before.cpu_secs()) / secs * 100.0).max(0.0)
}

/// The machine's CPU time by kind, summed over all CPUs, in clock ticks
/// (the `cpu` line of `/proc/stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineTimes {
    /// Every kind of time together: user, nice, system, idle, iowait, irq,
    /// softirq and steal.
    pub total: u64,
    /// Time the machine was not idle (everything but idle, iowait and steal).
    pub busy: u64,
    /// Time a hypervisor ran something else while this virtual machine had
    /// work ready ("steal"). On a shared host it is what makes a quiet
    /// benchmark stall: neither the server nor the client gets the CPU.
    pub steal: u64,
}

impl MachineTimes {
    /// Percent of the machine's CPU time between two samples that was
    /// stolen by the hypervisor (0 when no time passed).
    pub fn steal_percent(before: &MachineTimes, after: &MachineTimes) -> f64 {
        let total = after.total.saturating_sub(before.total);
        if total == 0 {
            return 0.0;
        }
        after.steal.saturating_sub(before.steal) as f64 / total as f64 * 100.0
    }
}

/// Parses the aggregate `cpu` line of a `/proc/stat` text. Kernels older
/// than 2.6.11 have no steal field; it then counts as 0. Guest time is
/// already inside user and nice, so it is not added again.
pub fn parse_machine_times(text: &str) -> Option<MachineTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 4 {
        return None;
    }
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    let (idle, iowait, steal) = (at(3), at(4), at(7));
    let total: u64 = (0..8).map(at).sum();
    Some(MachineTimes {
        total,
        busy: total - idle - iowait - steal,
        steal,
    })
}

/// Reads the machine's CPU times from `/proc/stat`.
pub fn read_machine_times() -> Option<MachineTimes> {
    parse_machine_times(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The command line of a process, arguments joined by spaces (empty if the
/// process is gone or is a kernel thread).
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    join_cmdline(&raw)
}

/// Joins the NUL-separated arguments of a `/proc/<pid>/cmdline` file.
pub fn join_cmdline(raw: &[u8]) -> String {
    raw.split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command name in a `/proc/<pid>/stat` text: what the parentheses
/// after the pid hold (it may itself contain spaces and parentheses).
pub fn stat_comm(text: &str) -> Option<&str> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    (close > open).then(|| &text[open + 1..close])
}

/// CPU seconds (user + system) of each thread of `pid`, summed by thread
/// name (so threads sharing a name, like a pool's, count as one), sorted
/// by name. Empty if the process is gone.
pub fn thread_cpu_secs(pid: u32) -> Vec<(String, f64)> {
    let mut by_name: std::collections::BTreeMap<String, f64> = Default::default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let (Some(name), Some(sample)) = (stat_comm(&text), parse_proc_stat(&text)) {
            *by_name.entry(name.to_string()).or_default() += sample.cpu_secs();
        }
    }
    by_name.into_iter().collect()
}

/// Live (not zombie) child processes of `parent`, by pid, ascending.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if parse_stat(&text).is_some_and(|s| s.ppid == parent && !s.is_zombie()) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_may_hold_parentheses_and_spaces() {
        assert_eq!(stat_comm("42 (send-0) S 1 2"), Some("send-0"));
        assert_eq!(stat_comm("42 (a (b) c) S 1 2"), Some("a (b) c"));
        assert_eq!(stat_comm("garbage"), None);
    }

    #[test]
    fn this_process_has_named_threads_with_cpu_time() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .name("probe-thread".into())
            .spawn(move || {
                ready_tx.send(()).unwrap();
                rx.recv().ok();
            })
            .unwrap();
        ready_rx.recv().unwrap();
        let threads = thread_cpu_secs(std::process::id());
        tx.send(()).unwrap();
        t.join().unwrap();
        assert!(
            threads
                .iter()
                .any(|(n, s)| n == "probe-thread" && *s >= 0.0),
            "{threads:?}"
        );
        assert!(thread_cpu_secs(u32::MAX).is_empty());
    }

    const LINE: &str = "1234 (realm:a b) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000000 300 18446744073709551615";

    #[test]
    fn parses_stat_line_with_spaces_in_name() {
        let s = parse_stat(LINE).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.utime, 250);
        assert_eq!(s.stime, 50);
        assert_eq!(s.vsize, 1000000);
        assert_eq!(s.rss_pages, 300);
        assert!(!s.is_zombie());
    }

    #[test]
    fn parses_stat_line_with_parentheses_in_name() {
        let line = LINE.replace("(realm:a b)", "(x) Z 7 (y))");
        let s = parse_stat(&line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.utime, 250);
    }

    #[test]
    fn zombie_state_is_seen() {
        let s = parse_stat(&LINE.replace(") S ", ") Z ")).unwrap();
        assert!(s.is_zombie());
    }

    #[test]
    fn truncated_or_garbled_stat_is_none() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("1234 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(&LINE.replace(" 250 ", " x ")), None);
        assert_eq!(parse_stat("no parenthesis at all"), None);
    }

    #[test]
    fn sample_uses_the_given_units() {
        let units = Units {
            ticks_per_sec: 250,
            page_size: 16384,
        };
        let s = sample_from(LINE, None, units).unwrap();
        assert!((s.user_secs - 1.0).abs() < 1e-12);
        assert!((s.system_secs - 0.2).abs() < 1e-12);
        assert_eq!(s.rss_bytes, 300 * 16384);
        assert_eq!(s.vm_bytes, 1000000, "vsize is in bytes already");
        assert!((s.cpu_secs() - 1.2).abs() < 1e-12);
    }

    #[test]
    fn statm_resident_is_preferred() {
        let units = Units {
            ticks_per_sec: 100,
            page_size: 4096,
        };
        assert_eq!(parse_statm_resident("5000 420 100 1 0 800 0\n"), Some(420));
        assert_eq!(parse_statm_resident("5000"), None);
        assert_eq!(parse_statm_size("5000 420 100 1 0 800 0\n"), Some(5000));
        let s = sample_from(LINE, Some("5000 420 100 1 0 800 0\n"), units).unwrap();
        assert_eq!(s.rss_bytes, 420 * 4096);
        assert_eq!(s.vm_bytes, 5000 * 4096);
        // An unreadable statm falls back to the stat line's figure.
        let s = sample_from(LINE, Some("garbage"), units).unwrap();
        assert_eq!(s.rss_bytes, 300 * 4096);
        assert_eq!(s.vm_bytes, 1000000);
    }

    #[test]
    fn system_units_are_the_systems() {
        let u = Units::system();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
        // SAFETY: as above.
        let page = unsafe { nix::libc::sysconf(nix::libc::_SC_PAGESIZE) };
        assert_eq!(u.ticks_per_sec, hz as u64);
        assert_eq!(u.page_size, page as u64);
    }

    #[test]
    fn own_process_is_readable() {
        let me = read_proc(std::process::id()).unwrap();
        assert!(me.rss_bytes > 0);
        assert!(me.vm_bytes >= me.rss_bytes);
        assert!(me.cpu_secs() >= 0.0);
        assert!(!cmdline(std::process::id()).is_empty());
    }

    #[test]
    fn gone_process_is_none() {
        // Pids are at most 2^22 on Linux.
        assert_eq!(read_proc(u32::MAX - 1), None);
    }

    #[test]
    fn own_child_is_listed_until_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let kids = children_of(std::process::id());
        assert!(kids.contains(&child.id()), "{kids:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children_of(std::process::id()).contains(&child.id()));
    }

    #[test]
    fn cmdline_joins_arguments() {
        assert_eq!(
            join_cmdline(b"realm-worker\0--name\0a b\0"),
            "realm-worker --name a b"
        );
        assert_eq!(join_cmdline(b""), "");
    }

    #[test]
    fn cpu_percent_of_interval() {
        let a = ProcSample {
            user_secs: 1.0,
            system_secs: 0.5,
            rss_bytes: 0,
            vm_bytes: 0,
        };
        let b = ProcSample {
            user_secs: 1.5,
            system_secs: 0.5,
            rss_bytes: 0,
            vm_bytes: 0,
        };
        assert!((cpu_percent(&a, &b, 2.0) - 25.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&a, &b, 0.0), 0.0);
        assert_eq!(cpu_percent(&b, &a, 1.0), 0.0);
    }

    #[test]
    fn machine_times_count_steal_and_skip_guest() {
        let text = "cpu  100 5 50 800 10 1 4 30 20 0\ncpu0 50 2 25 400 5 0 2 15 10 0\nintr 1\n";
        let m = parse_machine_times(text).unwrap();
        assert_eq!(m.total, 100 + 5 + 50 + 800 + 10 + 1 + 4 + 30);
        assert_eq!(m.steal, 30);
        assert_eq!(m.busy, 100 + 5 + 50 + 1 + 4);
        let later = MachineTimes {
            total: m.total + 200,
            busy: m.busy + 100,
            steal: m.steal + 50,
        };
        assert_eq!(MachineTimes::steal_percent(&m, &later), 25.0);
        assert_eq!(MachineTimes::steal_percent(&m, &m), 0.0);
    }

    #[test]
    fn machine_times_of_an_old_kernel_and_of_garbage() {
        let m = parse_machine_times("cpu 1 2 3 4\n").unwrap();
        assert_eq!((m.total, m.busy, m.steal), (10, 6, 0));
        assert_eq!(parse_machine_times("cpu 1 x 3 4\n"), None);
        assert_eq!(parse_machine_times("cpu 1 2\n"), None);
        assert_eq!(parse_machine_times("intr 5\n"), None);
        assert!(read_machine_times().is_some_and(|m| m.total > 0));
    }
}
