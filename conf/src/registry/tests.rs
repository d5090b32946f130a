use super::*;
use crate::zone::ZoneConfig;

/// Every key the default zone's files (what `zone-supervisor init` writes)
/// set is one Subsumption reads or sends to clients, in the right file.
#[test]
fn the_template_carries_only_real_keys() {
    let zone = ZoneConfig::embedded().expect("embedded zone");
    let (w, ignored) = check_file(zone.global(), Scope::Global);
    assert!(w.is_empty(), "global.conf: {w:#?}");
    assert!(ignored.is_empty(), "global.conf: {ignored:?}");
    for arena in ["0", "turf", "soccer"] {
        let a = zone.load_arena(arena).expect("arena");
        let (w, ignored) = check_file(a.file(), Scope::Arena);
        assert!(w.is_empty(), "{arena}: {w:#?}");
        assert!(ignored.is_empty(), "{arena}: {ignored:?}");
    }
}

#[test]
fn an_unknown_key_is_reported_at_its_line() {
    let file = ConfigFile::parse_str(
        "[Net]\nMaxConnections = 5\nNoSuchKey = 1\n[Soccer]\nKillerIgnorePassDelay = 1\n[Warbird]\nBulletSpeed = 2000\n[Team]\nMaxPerTeam = 3\n",
    )
    .expect("parse");
    let (w, ignored) = check_file(&file, Scope::Global);
    let got: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "<string>:3: Net:NoSuchKey is not a setting Subsumption knows; nothing reads it",
            "<string>:7: Warbird:BulletSpeed is an arena setting; nothing reads it from this file",
            "<string>:9: Team:MaxPerTeam is an arena setting; nothing reads it from this file",
        ]
    );
    assert_eq!(ignored, ["Soccer:KillerIgnorePassDelay"]);
}

#[test]
fn lookups() {
    let k = lookup("kill", "killpoints");
    assert!(k.is_none(), "ASSS has no Kill:KillPoints: {k:?}");
    let k = lookup("Kill", "FixedKillReward").expect("known");
    assert_eq!((k.status, k.scope), (Status::Read, Scope::Arena));
    let k = lookup("warbird", "bulletspeed").expect("client");
    assert_eq!(k.status, Status::Client);
    assert_eq!(
        k.kind,
        Kind::Int {
            min: -32768,
            max: 32767
        }
    );
    assert_eq!(
        lookup("Shark", "LimitPerTeam").map(|k| k.status),
        Some(Status::Read)
    );
    assert_eq!(
        lookup("Directory", "Server3").map(|k| k.scope),
        Some(Scope::Global)
    );
    assert_eq!(
        lookup("Directory", "Port").map(|k| k.default),
        Some("4991".to_string())
    );
    assert!(lookup("Directory", "Serverx").is_none());
    assert_eq!(
        lookup("Legalship", "Freq12Mask").map(|k| k.status),
        Some(Status::Read)
    );
    assert_eq!(
        lookup("Redirects", "elsewhere").map(|k| k.scope),
        Some(Scope::Global)
    );
    assert_eq!(
        lookup("Soccer", "KillerIgnorePassDelay").map(|k| k.status),
        Some(Status::NotImplemented)
    );
    assert_eq!(
        lookup("Javelin", "AntiWarpStatus").map(|k| k.status),
        Some(Status::Client)
    );
}

/// The game modules' and the supervisor's newer settings are read, in the
/// scope their code reads them from, with the code's defaults.
#[test]
fn module_and_supervisor_settings_are_read() {
    for (section, key, scope, default) in [
        ("Soccer", "BallCount", Scope::Arena, "0"),
        ("Soccer", "SpawnRadius3", Scope::Arena, ""),
        ("Soccer", "NewGameDelay", Scope::Arena, "-3000"),
        ("Brick", "BrickMode", Scope::Arena, "0"),
        ("King", "ExpireTime", Scope::Arena, "18000"),
        ("Cost", "XRadar", Scope::Arena, "0"),
        ("Cost", "PurchaseAnytime", Scope::Arena, "0"),
        ("Idle", "SpecAfter", Scope::Arena, "0"),
        ("Misc", "PeriodicMessage7", Scope::Arena, ""),
        ("Misc", "SpecSeeEnergy", Scope::Arena, "SEE_ALL"),
        ("Misc", "SheepMessage", Scope::Arena, ""),
        ("Log", "FileMaxBytes", Scope::Global, "10000000"),
        ("Net", "DatagramBudget", Scope::Global, "8000"),
        ("Net", "MaxFlushDelayMillis", Scope::Global, "6"),
        ("Net", "SendThreads", Scope::Global, "0"),
    ] {
        let k = lookup(section, key).unwrap_or_else(|| panic!("{section}:{key} unknown"));
        assert_eq!(
            (k.status, k.scope, k.default.as_str()),
            (Status::Read, scope, default),
            "{section}:{key}"
        );
    }
    // Read by the server and sent to clients: both.
    let k = lookup("Soccer", "PassDelay").expect("known");
    assert_eq!((k.status, k.client), (Status::Read, true));
    assert!(check_set(Scope::Arena, "Misc", "SeeEnergy", "see_team").is_ok());
    assert!(check_set(Scope::Arena, "Misc", "SeeEnergy", "some").is_err());
    assert!(check_set(Scope::Arena, "Soccer", "BallCount", "9").is_err());
    assert!(check_set(Scope::Global, "Net", "DatagramBudget", "10000001").is_err());
    assert!(lookup("Cost", "Nothing").is_none());
}

#[test]
fn values_are_checked_by_type_and_range() {
    assert!(check_set(Scope::Arena, "Warbird", "BulletSpeed", "3000").is_ok());
    let e = check_set(Scope::Arena, "Warbird", "BulletSpeed", "fast").unwrap_err();
    assert!(e.contains("not a whole number"), "{e}");
    let e = check_set(Scope::Arena, "Warbird", "BulletSpeed", "40000").unwrap_err();
    assert!(e.contains("outside the range -32768..32767"), "{e}");
    let e = check_set(Scope::Global, "Warbird", "BulletSpeed", "1").unwrap_err();
    assert!(e.contains("use ?seta"), "{e}");
    let e = check_set(Scope::Global, "Net", "Nonsense", "1").unwrap_err();
    assert!(e.contains("not a setting"), "{e}");
    let e = check_set(Scope::Global, "Nowhere", "Nonsense", "1").unwrap_err();
    assert!(e.contains("?help :"), "{e}");
    let e = check_set(Scope::Arena, "Soccer", "KillerIgnorePassDelay", "1").unwrap_err();
    assert!(e.contains("does not implement"), "{e}");
    assert!(check_set(Scope::Global, "Security", "SecurityKickoff", "yes").is_ok());
    assert!(check_set(Scope::Global, "Security", "SecurityKickoff", "maybe").is_err());
    assert!(check_set(Scope::Global, "Billing", "Fallback", "Refuse").is_ok());
    assert!(check_set(Scope::Global, "Billing", "Fallback", "sometimes").is_err());
    assert!(check_set(Scope::Global, "Chat", "Obscene", "a\nb").is_err());
    let e = check_set(Scope::Global, "realms", "workerpath", "/bin/sh").unwrap_err();
    assert!(e.contains("only the operator"), "{e}");
}

#[test]
fn help_reads_like_cfghelp() {
    let lines = help_lines("kill", "FixedKillReward");
    assert_eq!(lines[0], "Help on setting Kill:FixedKillReward");
    assert!(lines.iter().any(|l| l == "  Default: -1"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("  Location: arena")),
        "{lines:?}"
    );
    let lines = help_lines("Kill", "Nope");
    assert_eq!(lines.len(), 1);
    assert!(keys("Kill").iter().any(|k| k == "FixedKillReward"));
    assert!(keys("warbird").iter().any(|k| k == "LimitPerTeam"));
    assert!(sections().iter().any(|s| s == "Warbird"));
}

/// A stock ASSS zone's settings are all recognised: each is read, a
/// client setting or "not implemented", and never in the wrong file
/// because our scope differs from ASSS's.
#[test]
fn asss_settings_are_known_in_their_asss_scope() {
    let mut wrong = Vec::new();
    for &(section, key, scope) in asss::ASSS_SETTINGS {
        let sections: Vec<&str> = if section == "All" {
            SHIP_NAMES.to_vec()
        } else {
            vec![section]
        };
        for s in sections {
            let k = lookup(s, key).expect("an ASSS name is known");
            if !k.read_in(scope) {
                wrong.push(format!(
                    "{s}:{key} ({:?} in ASSS, {:?} here)",
                    scope, k.scope
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The template's commented-out examples (`;BindAddress = …`, the
/// `;[Billing]` block) name real keys too.
#[test]
fn the_template_examples_are_real_keys() {
    for (path, data) in crate::DEFAULT_ZONE_FILES {
        let scope = match *path {
            "conf/global.conf" => Scope::Global,
            p if p.starts_with("arenas/") => Scope::Arena,
            _ => continue,
        };
        let text = String::from_utf8_lossy(data);
        let uncommented: String = text
            .lines()
            .map(|l| {
                let rest = l.strip_prefix(';').unwrap_or("");
                let example = rest.starts_with('[')
                    || rest.split_once('=').is_some_and(|(k, _)| {
                        let k = k.trim();
                        k.starts_with(|c: char| c.is_ascii_alphabetic())
                            && k.chars().all(|c| c.is_ascii_alphanumeric())
                    });
                if example {
                    format!("{rest}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let file = ConfigFile::parse_str(&uncommented).expect("parse");
        let (w, ignored) = check_file(&file, scope);
        assert!(w.is_empty(), "{path}: {w:#?}");
        assert!(ignored.is_empty(), "{path}: {ignored:?}");
    }
}

/// Every `get_int("Section", "Key", …)`-style read with literal names in
/// the realm's and the supervisor's code has a registry entry (read or
/// client), so a key added by a merge cannot be missing here. Reads whose
/// key is computed (`format!`, closures over one section) are checked by
/// [`module_and_supervisor_settings_are_read`] instead.
#[test]
fn every_literal_read_in_the_server_code_is_known() {
    // `passwd.conf`'s own [General] keys: not a settings file.
    const OTHER_FILES: &[(&str, &str)] = &[
        ("General", "AllowUnknown"),
        ("General", "RequireAuthenticationToSetPassword"),
    ];
    const CALLS: &[&str] = &[
        "get_int(",
        "get_str(",
        "get_text(",
        "get_bool(",
        "get_enum(",
        "get_int_checked(",
        "get_bool_checked(",
        ".int(",
        ".count(",
        ".millis(",
        ".bool(",
        ".text(",
    ];
    fn literal(s: &str) -> Option<(&str, &str)> {
        let s = s.trim_start().strip_prefix('"')?;
        let end = s.find('"')?;
        Some((&s[..end], &s[end + 1..]))
    }
    fn rs_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                rs_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_none_or(|n| n != "tests.rs")
            {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["realm-worker", "zone-supervisor"] {
        rs_files(&root.join(krate).join("src"), &mut files);
    }
    let mut reads = 0;
    let mut missing = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for call in CALLS {
            for (at, _) in code.match_indices(call) {
                let rest = &code[at + call.len()..];
                let Some((section, rest)) = literal(rest) else {
                    continue;
                };
                let Some((key, _)) = rest.trim_start().strip_prefix(',').and_then(literal) else {
                    continue;
                };
                if OTHER_FILES.contains(&(section, key)) {
                    continue;
                }
                reads += 1;
                if lookup(section, key).is_none_or(|k| k.status == Status::NotImplemented) {
                    missing.push(format!("{section}:{key} ({})", path.display()));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no registry entry: {missing:#?}");
    assert!(reads > 100, "the scan found only {reads} reads");
}
