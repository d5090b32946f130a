//! Link options of the realm binary, of which a zone runs one process per
//! arena (BENCHMARKS.md, "Realm memory").

fn main() {
    // Relative relocations packed as DT_RELR (glibc 2.36+, GNU ld 2.38+,
    // lld 15+): the table every realm reads at start-up shrinks from about
    // 200 KiB to a few KiB. Older linkers ignore an unknown `-z` keyword with
    // a warning, and GNU ld leaves the relocations unpacked when the C library
    // it links against cannot read DT_RELR, so the binary still runs there.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
