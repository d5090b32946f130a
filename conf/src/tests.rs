//! Crate-level tests: parsing, includes, lookups, zone loading, the
//! embedded default zone and the settings packet it produces.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;

use crate::*;

fn parse(text: &str) -> ConfigFile {
    ConfigFile::parse_str(text).expect("parses")
}

/// A source from (path, text) pairs.
fn src(files: &[(&str, &str)]) -> EmbeddedSource {
    let mut s = EmbeddedSource::new();
    for &(p, t) in files {
        s.insert(p, t.as_bytes().to_vec());
    }
    s
}

fn load(source: &EmbeddedSource, name: &str) -> ConfigFile {
    ConfigFile::load(source, None, name).expect("loads")
}

/// A fresh, empty directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "conf-test-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

// ---- syntax ----

#[test]
fn sections_keys_and_comments() {
    let c = parse(
        "; comment\n\
         / also a comment\n\
         # not a directive, so a comment\n\
         \n\
         [ General ]\n\
         Map = Foo.LVL\n\
         \x20  ; indented comment\n\
         Spaced   =    value with spaces   \n\
         Trailing = 5 ; not a comment\n\
         [Misc]\r\n\
         Crlf = 1\r\n",
    );
    assert_eq!(c.get_str("general", "map"), Some("Foo.LVL"));
    assert_eq!(c.get_str("GENERAL", "MAP"), Some("Foo.LVL"));
    assert_eq!(c.get_str("General", "Spaced"), Some("value with spaces"));
    assert_eq!(c.get_str("General", "Trailing"), Some("5 ; not a comment"));
    assert_eq!(c.get_int("General", "Trailing", 0), 5);
    assert_eq!(c.get_str("Misc", "Crlf"), Some("1"));
    assert_eq!(c.get_str("General", "Missing"), None);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let names: Vec<_> = c.sections().map(Section::name).collect();
    assert_eq!(names, ["General", "Misc"]);
}

#[test]
fn one_line_section_key_keeps_current_section() {
    let c = parse("[A]\nx = 1\nB:y = 2\nz = 3\n");
    assert_eq!(c.get_str("A", "x"), Some("1"));
    assert_eq!(c.get_str("B", "y"), Some("2"));
    assert_eq!(c.get_str("A", "z"), Some("3"));
    assert_eq!(c.get_str("B", "z"), None);
    // Allowed before any section header.
    let c = parse("Team:MaxPerTeam = 4\n");
    assert_eq!(c.get_int("team", "maxperteam", 0), 4);
}

#[test]
fn last_value_wins_case_insensitively() {
    let c = parse("[Bomb]\nBombDamageLevel = 1000\n[bomb]\nbombdamagelevel = 7500\n");
    assert_eq!(c.get_int("Bomb", "BombDamageLevel", 0), 7500);
    let bomb = c.section("BOMB").expect("section");
    assert_eq!(bomb.len(), 1);
    assert_eq!(bomb.name(), "Bomb");
    assert_eq!(bomb.keys().collect::<Vec<_>>(), ["BombDamageLevel"]);
    let c = parse("[S]\nk = 1\nS:K = 2\n");
    assert_eq!(c.get_str("s", "k"), Some("2"));
}

#[test]
fn keys_without_value_escapes_and_empty_values() {
    let c = parse("[sysop]\ncmd_seta\n  privcmd_kick  \n[E]\na\\=b = c\\\\d\nempty =\n= novalue\n");
    assert_eq!(c.get_str("sysop", "cmd_seta"), Some(""));
    assert_eq!(c.get_str("sysop", "privcmd_kick"), Some(""));
    assert_eq!(c.get_str("E", "a=b"), Some("c\\d"));
    assert_eq!(c.get_str("E", "empty"), Some(""));
    assert_eq!(c.get_int("E", "empty", 9), 0);
    assert_eq!(c.section("E").map(Section::len), Some(2));
}

#[test]
fn value_before_section_is_ignored_with_warning() {
    let c = parse("lonely = 1\n[S]\nk = 2\n");
    assert_eq!(c.sections().count(), 1);
    assert!(matches!(c.warnings(), [Warning::NoSection { line: 1, .. }]));
}

#[test]
fn continuation_lines() {
    let c = parse("[Modules]\nAttachModules = \\\n    points_kill \\\n    buy\nNext = 1\n");
    // Joined as-is; the value's leading blanks are then dropped.
    assert_eq!(
        c.get_str("Modules", "AttachModules"),
        Some("points_kill     buy")
    );
    assert_eq!(c.get_str("Modules", "Next"), Some("1"));
    // A trailing backslash on the last line does not lose the line.
    let c = parse("[A]\nk = v\\");
    assert_eq!(c.get_str("A", "k"), Some("v"));
}

#[test]
fn long_lines_are_cut() {
    let long = format!("[A]\nk = {}\n", "x".repeat(10_000));
    let c = parse(&long);
    assert_eq!(c.get_str("A", "k").map(str::len), Some(MAX_LINE - 4));
    assert!(matches!(
        c.warnings(),
        [Warning::LineTooLong { line: 2, .. }]
    ));
}

#[test]
fn latin1_and_bom() {
    let c = ConfigFile::parse_bytes(
        &EmbeddedSource::new(),
        None,
        "x",
        b"\xEF\xBB\xBF[(global)]\nJos\xE9 = sysop\n",
    )
    .expect("parses");
    assert_eq!(c.get_str("(global)", "Jos\u{e9}"), Some("sysop"));
}

// ---- values ----

#[test]
fn integer_forms() {
    let c = parse(
        "[V]\ndec = 42\nneg = -17\nhex = 0x1F\noct = 010\nbad8 = 09\nrange = 5 - 7\n\
         yes = yes\nYes = Yes\nno = no\ntrue = true\nword = abc\nspace =  12\nenum = $SEE_TEAM\n",
    );
    let v = |k| c.get_int("V", k, -99);
    assert_eq!(v("dec"), 42);
    assert_eq!(v("neg"), -17);
    assert_eq!(v("hex"), 31);
    assert_eq!(v("oct"), 8);
    assert_eq!(v("bad8"), 0);
    assert_eq!(v("range"), 5);
    assert_eq!(v("yes"), 1);
    assert_eq!(v("Yes"), 1);
    assert_eq!(v("no"), 0);
    assert_eq!(v("true"), 0);
    assert_eq!(v("word"), 0);
    assert_eq!(v("space"), 12);
    assert_eq!(v("missing"), -99);
    assert!(c.get_bool("V", "yes", false));
    assert!(!c.get_bool("V", "no", true));
    assert!(c.get_bool("V", "missing", true));
    let names = [("SEE_NONE", 0), ("SEE_ALL", 1), ("SEE_TEAM", 2)];
    assert_eq!(c.get_enum("V", "enum", &names, -1), 2);
    assert_eq!(c.get_enum("V", "dec", &names, -1), 42);
    assert_eq!(c.get_enum("V", "missing", &names, -1), -1);
}

#[test]
fn in_memory_set() {
    let mut c = parse("[A]\nk = 1\n");
    c.set("a", "K", "2");
    c.set("New", "x", "y");
    assert_eq!(c.get_int("A", "k", 0), 2);
    assert_eq!(c.get_str("new", "X"), Some("y"));
}

// ---- preprocessor ----

#[test]
fn conditionals() {
    let c = parse(
        "#define FOO\n\
         #define Bar some value\n\
         [S]\n\
         #ifdef FOO\n\
         a = 1\n\
         #ifndef BAR\n\
         b = 1\n\
         #else\n\
         b = 2\n\
         #endif\n\
         #else\n\
         a = 2\n\
         #endif\n\
         #ifdef {NOPE}\n\
         c = 1\n\
         #ifdef FOO\n\
         c = 2\n\
         #endif\n\
         #else\n\
         c = 3\n\
         #endif\n\
         #undef FOO\n\
         #ifdef (FOO)\n\
         d = 1\n\
         #endif\n\
         #ifndef FOO\n\
         e = 1\n\
         #endif\n\
         #if FOO\n\
         f = 1\n",
    );
    assert_eq!(c.get_str("S", "a"), Some("1"));
    assert_eq!(c.get_str("S", "b"), Some("2"));
    assert_eq!(c.get_str("S", "c"), Some("3"));
    assert_eq!(c.get_str("S", "d"), None);
    assert_eq!(c.get_str("S", "e"), Some("1"));
    // `#if` is not a directive ASSS knows: ignored, so f is set.
    assert_eq!(c.get_str("S", "f"), Some("1"));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn defines_inside_false_blocks_do_nothing() {
    let c = parse("#ifdef X\n#define Y\n#endif\n[S]\n#ifdef Y\nk = 1\n#endif\n");
    assert_eq!(c.get_str("S", "k"), None);
}

#[test]
fn unmatched_conditionals_are_reported() {
    let c = parse("#else\n#endif\n#ifdef A\n#else\n#else\n");
    let w = c.warnings();
    assert!(matches!(
        w[0],
        Warning::UnmatchedConditional {
            directive: "else",
            line: 1,
            ..
        }
    ));
    assert!(matches!(
        w[1],
        Warning::UnmatchedConditional {
            directive: "endif",
            line: 2,
            ..
        }
    ));
    assert!(matches!(w[2], Warning::DuplicateElse { line: 5, .. }));
    assert!(matches!(
        w[3],
        Warning::UnterminatedConditional { open: 1, .. }
    ));
}

#[test]
fn includes_nested_and_in_place() {
    let s = src(&[
        (
            "conf/top.conf",
            "[A]\nx = 1\n#include mid.conf\ny = 3\n#include \"conf/q.conf\"\n",
        ),
        ("conf/mid.conf", "x = 2\n#include <leaf>\n"),
        ("conf/leaf", "[B]\nz = 1\n"),
        ("conf/q.conf", "A:q = 1\n"),
    ]);
    let c = load(&s, "top.conf");
    assert_eq!(c.get_str("A", "x"), Some("2"));
    assert_eq!(c.get_str("B", "z"), Some("1"));
    // The section set inside an include carries on after it.
    assert_eq!(c.get_str("B", "y"), Some("3"));
    assert_eq!(c.get_str("A", "q"), Some("1"));
    assert_eq!(
        c.files(),
        ["conf/top.conf", "conf/mid.conf", "conf/leaf", "conf/q.conf"]
    );
    assert_eq!(c.path(), "conf/top.conf");
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn defines_carry_into_includes() {
    let s = src(&[
        (
            "conf/a",
            "#define FROM_A\n#include b\n[S]\n#ifdef FROM_B\nk = 1\n#endif\n",
        ),
        ("conf/b", "#ifdef FROM_A\n#define FROM_B\n#endif\n"),
    ]);
    assert_eq!(load(&s, "a").get_str("S", "k"), Some("1"));
}

#[test]
fn missing_include_is_a_warning() {
    let s = src(&[("conf/a", "[S]\n#include nothere.conf\nk = 1\n#include\n")]);
    let c = load(&s, "a");
    assert_eq!(c.get_str("S", "k"), Some("1"));
    assert_eq!(
        c.warnings(),
        [
            Warning::IncludeNotFound {
                file: "conf/a".into(),
                line: 2,
                name: "nothere.conf".into()
            },
            Warning::IncludeNotFound {
                file: "conf/a".into(),
                line: 4,
                name: "".into()
            }
        ]
    );
    // Directive names match by prefix, as in ASSS.
    let c = load(&src(&[("conf/a", "#includex y\n")]), "a");
    assert!(matches!(c.warnings(), [Warning::IncludeNotFound { .. }]));
}

#[test]
fn include_loops_are_cut() {
    let s = src(&[
        ("conf/self", "[S]\nk = 1\n#include self\nafter = 1\n"),
        ("conf/a", "[S]\n#include b\n"),
        ("conf/b", "fromb = 1\n#include a\n"),
    ]);
    let c = load(&s, "self");
    assert_eq!(c.get_str("S", "after"), Some("1"));
    assert!(matches!(c.warnings(), [Warning::IncludeLoop { .. }]));
    let c = load(&s, "a");
    assert_eq!(c.get_str("S", "fromb"), Some("1"));
    assert!(matches!(
        c.warnings(),
        [Warning::IncludeLoop { path, .. }] if path == "conf/a"
    ));
    // The same file may be included twice when not nested (groupdef style).
    let s = src(&[
        ("conf/g", "[x]\n#include l\n[y]\n#include l\n"),
        ("conf/l", "cap\n"),
    ]);
    let c = load(&s, "g");
    assert!(c.contains("x", "cap") && c.contains("y", "cap"));
    assert!(c.warnings().is_empty());
}

#[test]
fn include_depth_is_limited() {
    let files: Vec<(String, String)> = (0..60)
        .map(|i| {
            (
                format!("conf/f{i}"),
                format!("F:k{i} = {i}\n#include f{}\n", i + 1),
            )
        })
        .collect();
    let mut s = EmbeddedSource::new();
    for (p, t) in &files {
        s.insert(p.clone(), t.as_bytes().to_vec());
    }
    let c = load(&s, "f0");
    assert_eq!(c.get_int("F", "k49", -1), 49);
    assert_eq!(c.get_int("F", "k50", -1), -1);
    assert!(matches!(
        c.warnings(),
        [Warning::IncludeTooDeep { name, .. }] if name == "f50"
    ));
}

#[test]
fn total_size_is_bounded() {
    // Each level includes the next ten times and carries 1 MiB of padding.
    let pad = format!(";{}\n", "p".repeat(1 << 20));
    let mut s = EmbeddedSource::new();
    for i in 0..4 {
        let mut t = pad.clone();
        for _ in 0..10 {
            t.push_str(&format!("#include l{}\n", i + 1));
        }
        s.insert(format!("conf/l{i}"), t.into_bytes());
    }
    s.insert("conf/l4", pad.into_bytes());
    assert!(matches!(
        ConfigFile::load(&s, None, "l0"),
        Err(ConfError::TooLarge { .. })
    ));
}

#[test]
fn arena_includes_use_the_arena_search_path() {
    let s = src(&[
        (
            "arenas/foo/arena.conf",
            "[S]\n#include flags.conf\n#include conf/svs/x\n",
        ),
        ("arenas/foo/flags.conf", "from = foo\n"),
        ("conf/flags.conf", "from = conf\n"),
        ("conf/svs/x", "svs = 1\n"),
    ]);
    let c = ConfigFile::load(&s, Some("foo"), "arena.conf").expect("loads");
    assert_eq!(c.get_str("S", "from"), Some("foo"));
    assert_eq!(c.get_str("S", "svs"), Some("1"));
    let c = ConfigFile::parse_bytes(&s, None, "t", b"[S]\n#include flags.conf\n").expect("ok");
    assert_eq!(c.get_str("S", "from"), Some("conf"));
}

// ---- zones and arenas ----

#[test]
fn base_names() {
    assert_eq!(base_name("smallpb2"), "smallpb");
    assert_eq!(base_name("duel"), "duel");
    assert_eq!(base_name("duel10"), "duel");
    assert_eq!(base_name("0"), "(public)");
    assert_eq!(base_name("17"), "(public)");
    assert_eq!(base_name(""), "(public)");
    assert_eq!(base_name("#priv3"), "#priv");
    assert_eq!(base_name("a1b2"), "a1b");
}

fn test_zone() -> ZoneConfig {
    let s = src(&[
        (
            "conf/global.conf",
            "[Listen]\nPort = 6000\n[Misc]\nOnlyGlobal = 5\n",
        ),
        (
            "arenas/(default)/arena.conf",
            "[General]\nWhich = default\n",
        ),
        ("arenas/(public)/arena.conf", "[General]\nWhich = public\n"),
        (
            "arenas/duel/arena.conf",
            "[General]\nWhich = duel\nMap = duel.lvl\n#include extra.conf\n",
        ),
        ("arenas/duel/extra.conf", "[Misc]\nExtra = 1\n"),
        ("arenas/duel/duel.lvl", "DUELMAP"),
        ("maps/other.lvl", "OTHER"),
        ("conf/staff.conf", "[(global)]\nBob = sysop\n"),
    ]);
    ZoneConfig::new(Arc::new(s)).expect("zone")
}

#[test]
fn arena_config_lookup_by_base_name() {
    let z = test_zone();
    assert_eq!(z.global().get_int("Listen", "Port", 0), 6000);
    let which = |a: &str| {
        let ac = z.load_arena(a).expect("arena");
        ac.get_str("General", "Which").map(str::to_string)
    };
    assert_eq!(which("duel").as_deref(), Some("duel"));
    assert_eq!(which("duel2").as_deref(), Some("duel"));
    assert_eq!(which("0").as_deref(), Some("public"));
    assert_eq!(which("12").as_deref(), Some("public"));
    assert_eq!(which("turf").as_deref(), Some("default"));
    let duel = z.load_arena("duel3").expect("arena");
    assert_eq!(duel.name(), "duel3");
    assert_eq!(duel.base_name(), "duel");
    assert_eq!(duel.file().path(), "arenas/duel/arena.conf");
    assert_eq!(duel.get_int("Misc", "Extra", 0), 1);
    assert_eq!(
        z.load_file("staff.conf")
            .expect("staff")
            .get_str("(global)", "bob"),
        Some("sysop")
    );
}

#[test]
fn arena_settings_do_not_fall_back_to_global() {
    // docs/protocol/config.md §2.1: an arena setting missing from the arena
    // file takes the reader's default, never the global.conf value.
    let z = test_zone();
    let a = z.load_arena("turf").expect("arena");
    assert_eq!(a.get_int("Misc", "OnlyGlobal", -1), -1);
    assert_eq!(a.get_str("Misc", "OnlyGlobal"), None);
    assert_eq!(a.global().get_int("Misc", "OnlyGlobal", -1), 5);
    assert_eq!(a.get_int("Listen", "Port", 0), 0);
}

#[test]
fn missing_files_are_errors() {
    let z = ZoneConfig::new(Arc::new(src(&[("conf/global.conf", "")]))).expect("zone");
    match z.load_arena("x") {
        Err(ConfError::NotFound { name, tried }) => {
            assert_eq!(name, "arena.conf");
            assert_eq!(tried.len(), 4);
            assert_eq!(tried[0], "arenas/x/arena.conf");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        ZoneConfig::new(Arc::new(EmbeddedSource::new())),
        Err(ConfError::NotFound { .. })
    ));
}

#[test]
fn map_search() {
    let z = test_zone();
    let f = z
        .load_map(&z.load_arena("duel").expect("arena"))
        .expect("ok")
        .expect("found");
    assert_eq!(f.path, "arenas/duel/duel.lvl");
    assert_eq!(f.data, b"DUELMAP");
    // No General:Map and no <base>.lvl anywhere: no map.
    assert!(z
        .load_map(&z.load_arena("turf").expect("arena"))
        .expect("ok")
        .is_none());
}

#[test]
fn reload_global() {
    let dir = temp_dir("reload");
    std::fs::create_dir_all(dir.join("conf")).expect("mkdir");
    std::fs::write(dir.join("conf/global.conf"), "[Listen]\nPort = 1\n").expect("write");
    let mut z = ZoneConfig::open_dir(&dir).expect("zone");
    assert_eq!(z.global().get_int("Listen", "Port", 0), 1);
    std::fs::write(dir.join("conf/global.conf"), "[Listen]\nPort = 2\n").expect("write");
    assert_eq!(
        z.load_global().expect("load").get_int("Listen", "Port", 0),
        2
    );
    assert_eq!(z.global().get_int("Listen", "Port", 0), 1);
    z.reload_global().expect("reload");
    assert_eq!(z.global().get_int("Listen", "Port", 0), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the embedded default zone ----

#[test]
fn embedded_zone_loads_cleanly() {
    let z = ZoneConfig::embedded().expect("zone");
    let g = z.global();
    assert!(g.warnings().is_empty(), "{:?}", g.warnings());
    assert_eq!(g.get_int("Listen", "Port", 0), 5000);
    assert_eq!(g.get_int("Net", "DropTimeout", 0), 3000);
    assert_eq!(g.get_int("Net", "MaxRetries", 0), 15);
    assert_eq!(g.get_int("Chat", "FloodLimit", 0), 10);
    for arena in ["0", "pub", "duel2"] {
        let a = z.load_arena(arena).expect("arena");
        assert_eq!(a.file().path(), "arenas/(default)/arena.conf");
        assert!(a.file().warnings().is_empty(), "{:?}", a.file().warnings());
        assert_eq!(a.map_name(), Some("default.lvl"));
        let map = z.load_map(&a).expect("ok").expect("map found");
        assert_eq!(map.path, DEFAULT_MAP_PATH);
        assert_eq!(map.data, ss_proto::map::default_map());
    }
    // The example turf arena: the default settings, its own modules and map.
    let t = z.load_arena("turf").expect("turf arena");
    assert_eq!(t.file().path(), "arenas/turf/arena.conf");
    assert!(t.file().warnings().is_empty(), "{:?}", t.file().warnings());
    assert_eq!(t.get_int("Flag", "CarryFlags", 1), 0);
    assert_eq!(t.get_int("Team", "SpectatorFrequency", 0), 8025);
    assert_eq!(
        t.get_str("Modules", "AttachModules"),
        Some("points_kill fg_turf periodic bricks")
    );
    let map = z.load_map(&t).expect("ok").expect("turf map found");
    assert_eq!(map.path, TURF_MAP_PATH);
    // The example soccer arena: the ball game, scoring and bricks on a
    // map with goals.
    let s = z.load_arena("soccer").expect("soccer arena");
    assert_eq!(s.file().path(), "arenas/soccer/arena.conf");
    assert!(s.file().warnings().is_empty(), "{:?}", s.file().warnings());
    assert_eq!(
        s.get_str("Modules", "AttachModules"),
        Some("points_kill balls points_goal bricks")
    );
    assert_eq!(s.get_int("Soccer", "BallCount", 0), 1);
    assert_eq!(s.get_int("Soccer", "Mode", 0), 1);
    let map = z.load_map(&s).expect("ok").expect("soccer map found");
    assert_eq!(map.path, SOCCER_MAP_PATH);
    assert_eq!(map.data, ss_proto::map::soccer_map());
    let a = z.load_arena("0").expect("arena");
    assert_eq!(a.get_int("Team", "SpectatorFrequency", 0), 8025);
    assert_eq!(a.get_int("Bomb", "BombDamageLevel", 0), 7500);

    for name in ["staff.conf", "passwd.conf", "groupdef.conf"] {
        let f = z.load_file(name).expect(name);
        assert!(f.warnings().is_empty(), "{name}: {:?}", f.warnings());
    }
    let staff = z.load_file("staff.conf").expect("staff");
    assert!(staff.section("(global)").is_some_and(Section::is_empty));
    let passwd = z.load_file("passwd.conf").expect("passwd");
    assert!(passwd.get_bool("General", "AllowUnknown", false));
    let groups = z.load_file("groupdef.conf").expect("groupdef");
    let has = |g: &str, cap: &str| groups.contains(g, cap);
    assert!(has("default", "cmd_arena") && has("default", "cmd_go"));
    assert!(!has("default", "cmd_seta") && !has("default", "privcmd_kick"));
    assert!(has("mod", "cmd_arena") && has("mod", "privcmd_kick"));
    assert!(has("mod", "higher_than_default") && !has("mod", "higher_than_mod"));
    assert!(has("sysop", "cmd_seta") && has("sysop", "higher_than_bot"));
    assert!(has("bot", "cmd_seta") && !has("bot", "higher_than_bot"));
    assert!(has("bot", "excludepopulation"));
}

/// Every client setting of docs/protocol/client-settings.md is present in the
/// default arena (a missing one would silently be sent as 0).
#[test]
fn embedded_arena_has_every_client_setting() {
    let a = ZoneConfig::embedded()
        .expect("zone")
        .load_arena("0")
        .expect("arena");
    let mut missing = Vec::new();
    for spec in ss_proto::settings::fields() {
        if !a.file().contains(spec.section, spec.key) {
            missing.push(format!("{}:{}", spec.section, spec.key));
        }
    }
    assert!(missing.is_empty(), "missing: {missing:?}");
}

#[test]
fn default_arena_settings_packet_matches_reference() {
    let a = ZoneConfig::embedded()
        .expect("zone")
        .load_arena("0")
        .expect("arena");
    let packet = a.client_settings();
    let bytes = packet.as_bytes();
    assert_eq!(bytes.len(), 1428);
    assert_eq!(
        bytes[..32],
        [
            0x0f, 0x00, 0x00, 0x00, 0x70, 0x17, 0x00, 0x00, 0xa0, 0x0f, 0x00, 0x00, 0xdc, 0x05,
            0x64, 0x00, 0x14, 0x00, 0x1e, 0x00, 0x2c, 0x01, 0x32, 0x00, 0x0e, 0x01, 0x96, 0x00,
            0xd0, 0x07, 0xd0, 0x07
        ]
    );
    let words = [
        0x02311048u32,
        0x02305048,
        0x02315848,
        0x03314048,
        0x06315048,
        0x1A315048,
        0x02315048,
        0x0231545F,
    ];
    for (ship, want) in words.iter().enumerate() {
        let off = 4 + 144 * ship + 124;
        let got = u32::from_le_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]]);
        assert_eq!(got, *want, "ship {ship} weapon bits");
    }
    assert_eq!(packet.checksum(0), 0x3E88_3C63);
    assert_eq!(packet.checksum(0x1234_5678), 0x7F10_42BB);
    assert_eq!(packet.checksum(0xDEAD_BEEF), 0x8A9E_03E8);
    assert_eq!(crc32fast::hash(bytes), 0x8bff_37f7);
}

#[test]
fn write_default_zone_round_trip() {
    let dir = temp_dir("write");
    let written = write_default_zone(&dir, false).expect("write");
    assert_eq!(written.len(), DEFAULT_ZONE_FILES.len() + 3);
    assert!(written.iter().any(|p| p.ends_with(SOCCER_MAP_PATH)));
    assert!(written
        .iter()
        .any(|p| p.ends_with("arenas/soccer/arena.conf")));
    for (path, data) in default_zone().files() {
        assert_eq!(
            std::fs::read(dir.join(path)).expect("read back"),
            data,
            "{path}"
        );
    }
    // A second write refuses to overwrite, and changes nothing.
    std::fs::write(dir.join("news.txt"), "edited").expect("edit");
    assert!(matches!(
        write_default_zone(&dir, false),
        Err(ConfError::WouldOverwrite(_))
    ));
    assert_eq!(
        std::fs::read(dir.join("news.txt")).expect("read"),
        b"edited"
    );
    write_default_zone(&dir, true).expect("forced write");
    assert_ne!(
        std::fs::read(dir.join("news.txt")).expect("read"),
        b"edited"
    );

    // The zone on disk reads the same as the embedded one.
    let disk = ZoneConfig::open_dir(&dir).expect("zone on disk");
    let mem = ZoneConfig::embedded().expect("embedded zone");
    let a = disk.load_arena("5").expect("arena");
    let b = mem.load_arena("5").expect("arena");
    assert_eq!(a.client_settings(), b.client_settings());
    assert_eq!(disk.global().get_int("Listen", "Port", 0), 5000);
    let map = disk.load_map(&a).expect("ok").expect("map");
    assert_eq!(map.data, ss_proto::map::default_map());
    assert!(disk.root().describe().starts_with("dir "));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- robustness ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes, in files that include each other, never panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        a in proptest::collection::vec(any::<u8>(), 0..600),
        b in proptest::collection::vec(any::<u8>(), 0..600),
        text in "(\\PC|[\\[\\]=:;/#\\\\ \n]|#include b|#include a|#ifdef X|#else|#endif|#define X){0,80}",
    ) {
        let mut s = EmbeddedSource::new();
        let mut a_inc = a.clone();
        a_inc.extend_from_slice(b"\n#include b\n");
        s.insert("conf/a", a_inc);
        s.insert("conf/b", b);
        s.insert("conf/t", text.clone().into_bytes());
        for name in ["a", "t"] {
            let c = ConfigFile::load(&s, Some("z"), name).expect("found");
            for sec in c.sections() {
                for (k, v) in sec.iter() {
                    let _ = c.get_int(sec.name(), k, 0);
                    prop_assert_eq!(c.get_str(sec.name(), k), Some(v));
                }
            }
        }
        let c = ConfigFile::parse_bytes(&s, None, "raw", &a).expect("parses");
        let _ = c.warnings().len();
    }

    /// `parse_int` agrees with Rust's parser on plain decimal numbers.
    #[test]
    fn decimal_matches_std(n in any::<i32>(), junk in "[^0-9]{0,5}") {
        prop_assert_eq!(parse_int(&format!("{n}{junk}")), n);
        prop_assert_eq!(parse_int(&format!("{:#x}", n.unsigned_abs())), n.unsigned_abs() as i32);
    }

    /// `parse_int` never panics.
    #[test]
    fn parse_int_total(s in "\\PC*") {
        let _ = parse_int(&s);
        let _ = strtol(&s);
        let _ = parse_enum(&s, &[("A", 1)], 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Sections and `key = value` lines written as text parse back to the
    /// same values (names are case-insensitive; the last value of a key
    /// wins): write → parse is the identity on what was written.
    #[test]
    fn written_settings_parse_back(
        entries in proptest::collection::vec(
            ("[A-Za-z][A-Za-z0-9]{0,11}", "[A-Za-z][A-Za-z0-9]{0,15}", "[A-Za-z0-9_.,-]([A-Za-z0-9 _.,-]{0,30}[A-Za-z0-9_.,-])?"),
            1..40,
        ),
        spaced in any::<bool>(),
    ) {
        let mut text = String::new();
        let mut expected = std::collections::BTreeMap::new();
        for (section, key, value) in &entries {
            let eq = if spaced { " = " } else { "=" };
            text.push_str(&format!("[{section}]\n{key}{eq}{value}\n"));
            expected.insert((section.to_ascii_lowercase(), key.to_ascii_lowercase()), value.clone());
        }
        let c = parse(&text);
        for ((section, key), value) in &expected {
            prop_assert_eq!(c.get_str(section, key), Some(value.as_str()), "{}:{} in\n{}", section, key, text);
        }
        let parsed: usize = c.sections().map(|s| s.len()).sum();
        prop_assert_eq!(parsed, expected.len());
    }
}

// ---- problems reported as warnings ----

#[test]
fn garbage_lines_are_reported() {
    let c = parse("[S]\nthis is garbage\n= 5\nname_only\nk = 1\n");
    assert_eq!(c.get_str("S", "k"), Some("1"));
    assert_eq!(c.get_str("S", "name_only"), Some(""));
    assert_eq!(
        c.warnings(),
        [
            Warning::Garbage {
                file: "<string>".into(),
                line: 2,
                text: "this is garbage".into()
            },
            Warning::Garbage {
                file: "<string>".into(),
                line: 3,
                text: "= 5".into()
            },
        ]
    );
    assert_eq!(
        c.warnings()[0].to_string(),
        "<string>:2: not a setting: \"this is garbage\""
    );
}

#[test]
fn unterminated_section_header_is_reported() {
    let c = parse("[General\nMap = x.lvl\n");
    assert_eq!(c.get_str("General", "Map"), Some("x.lvl"));
    assert_eq!(
        c.warnings(),
        [Warning::UnterminatedSection {
            file: "<string>".into(),
            line: 1,
            text: "[General".into()
        }]
    );
}

#[test]
fn values_remember_where_they_were_set() {
    let s = src(&[
        ("conf/a", "[S]\nk = 1\n#include b\n"),
        ("conf/b", "; b\n[T]\nj = 2\nS:k = 3\n"),
    ]);
    let mut c = load(&s, "a");
    let at = |c: &ConfigFile, sec: &str, key: &str| c.origin(sec, key).map(|o| o.to_string());
    assert_eq!(at(&c, "T", "j").as_deref(), Some("conf/b:3"));
    // Last assignment wins, for the origin too.
    assert_eq!(at(&c, "S", "k").as_deref(), Some("conf/b:4"));
    c.set("S", "k", "4");
    assert_eq!(at(&c, "S", "k"), None);
    c.set_from(
        "S",
        "k",
        "5",
        Origin {
            file: "--set".into(),
            line: 0,
        },
    );
    assert_eq!(at(&c, "S", "k").as_deref(), Some("--set"));
}

#[test]
fn checked_ints_warn_once_and_use_the_default() {
    let c = ConfigFile::parse_bytes(
        &EmbeddedSource::new(),
        None,
        "conf/global.conf",
        b"[Listen]\nPort = abc\n[Net]\nMaxConnections = 70000\nOk = 0x20\nPart = 12abc\n",
    )
    .expect("parses");
    assert_eq!(c.get_int_checked("Net", "Ok", 1, 0..=100), (32, None));
    assert_eq!(c.get_int_checked("Net", "Missing", 7, 0..=100), (7, None));
    let (port, w) = c.get_int_checked("Listen", "Port", 5000, 0..=65534);
    assert_eq!(port, 5000);
    let w = w.expect("warning");
    assert_eq!(
        w,
        Warning::BadValue {
            file: "conf/global.conf".into(),
            line: 2,
            section: "Listen".into(),
            key: "Port".into(),
            value: "abc".into(),
            problem: "is not a whole number".into(),
            used: "5000".into(),
        }
    );
    assert_eq!(
        w.to_string(),
        "conf/global.conf:2: Listen:Port = \"abc\" is not a whole number; using 5000"
    );
    let (n, w) = c.get_int_checked("Net", "MaxConnections", 1000, 1..=32000);
    assert_eq!(n, 1000);
    assert_eq!(
        w.expect("warning").to_string(),
        "conf/global.conf:4: Net:MaxConnections = \"70000\" is outside the range 1..=32000; using 1000"
    );
    let (n, w) = c.get_int_checked("Net", "Part", 3, 0..=100);
    assert_eq!(n, 3);
    assert!(w.is_some());
}

#[test]
fn checked_bools() {
    let c = parse("[S]\na = yes\nb = 0\nc = maybe\nd = true\n");
    assert_eq!(c.get_bool_checked("S", "a", false), (true, None));
    assert_eq!(c.get_bool_checked("S", "b", true), (false, None));
    assert_eq!(c.get_bool_checked("S", "d", false), (true, None));
    assert_eq!(c.get_bool_checked("S", "none", true), (true, None));
    let (v, w) = c.get_bool_checked("S", "c", true);
    assert!(v);
    assert_eq!(
        w.expect("warning").to_string(),
        "<string>:4: S:c = \"maybe\" is not yes or no; using yes"
    );
}

#[test]
fn arena_checks() {
    let s = src(&[
        ("conf/global.conf", ""),
        ("arenas/good/arena.conf", "[General]\nMap = good.lvl\n"),
        ("arenas/good/good.lvl", "MAP"),
        (
            "arenas/nomap/arena.conf",
            "[Misc]\nx = 1\n[General]\nMap = gone.lvl\n#include missing.conf\n",
        ),
    ]);
    let z = ZoneConfig::new(Arc::new(s)).expect("zone");
    assert_eq!(z.check_arena("good"), []);
    let w = z.check_arena("nomap2");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        matches!(&w[0], Warning::IncludeNotFound { file, line: 5, .. } if file == "arenas/nomap/arena.conf")
    );
    assert_eq!(
        w[1].to_string(),
        "arenas/nomap/arena.conf:4: arena 'nomap2': map file 'gone.lvl' not found (tried: \
         arenas/nomap/gone.lvl, maps/gone.lvl, gone.lvl, arenas/nomap/nomap.lvl, maps/nomap.lvl, \
         arenas/(default)/gone.lvl)"
    );
    // No arena.conf anywhere (no (default) either).
    let w = z.check_arena("lost");
    assert!(
        matches!(&w[..], [Warning::ArenaConfig { arena, error }]
            if arena == "lost" && error.contains("arenas/lost/arena.conf")),
        "{w:?}"
    );
}
