//! Link options of the realm binary, of which a zone runs one process per
//! arena (BENCHMARKS.md, "Realm memory").

mod link_decision;

use std::path::{Path, PathBuf};

use link_decision::{host_glibc_at_least, static_c_archives, static_link_wanted};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link_decision.rs");
    println!("cargo:rerun-if-env-changed=REALM_WORKER_DYNAMIC");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    let glibc_236 = native && host_glibc_at_least(2, 36);
    // Relative relocations packed as DT_RELR: the table every realm reads at
    // start-up shrinks from about 200 KiB to a few KiB. Only the C library
    // of glibc 2.36 and later applies them, and a linker that packs them for
    // an older one makes a binary that crashes at start; the linkers that
    // know the option (GNU ld 2.38+, lld 15+) ship with such systems. So it
    // is used only for a native build on a machine whose glibc is 2.36 or
    // later.
    if glibc_236 {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // The C library linked in (a static PIE): a dynamically linked realm
    // maps all of libc.so, the loader and libgcc_s, and the kernel's 64 KiB
    // fault-around makes nearly all of libc's 1.5 MiB of code resident in
    // every realm; linked in, only the parts the realm calls are there
    // (idle realm RSS 3.9 -> 2.8 MiB). The realm resolves no host names
    // and loads nothing at run time, the two things a static glibc cannot
    // do as well as a shared one. `REALM_WORKER_DYNAMIC=1` links it the
    // usual way, as does any machine without the static archives.
    if native && static_link_wanted() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        match static_libs(&out.join("static-libs")) {
            Some(dir) => {
                // rustc asks for the C libraries and libgcc_s by name; a
                // directory searched first that holds only the archives
                // makes every one of them resolve to its static version,
                // for the binary only (tests link as usual).
                println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
                println!("cargo:rustc-link-arg-bins=-static-pie");
            }
            None => println!(
                "cargo:warning=static C archives not found; realm-worker is linked dynamically"
            ),
        }
    }
}

/// Builds `dir`: a link to each C library's archive, and a `libgcc_s.a`
/// that stands for the static unwinder and compiler runtime. `None` when
/// the compiler driver does not know one of the archives.
fn static_libs(dir: &Path) -> Option<PathBuf> {
    let archives = static_c_archives()?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).ok()?;
    for (name, archive) in archives {
        std::os::unix::fs::symlink(&archive, dir.join(name)).ok()?;
    }
    // A file ld cannot read as an archive is read as a linker script.
    std::fs::write(dir.join("libgcc_s.a"), "INPUT(-lgcc_eh -lgcc)\n").ok()?;
    Some(dir.to_path_buf())
}
