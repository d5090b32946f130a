//! Link options of the realm binary, of which a zone runs one process per
//! arena (BENCHMARKS.md, "Realm memory").

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
    if glibc_236 && std::env::var_os("REALM_WORKER_DYNAMIC").is_none() {
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

/// The libraries rustc links a Rust program on glibc against.
const C_LIBS: [&str; 6] = ["c", "m", "util", "rt", "pthread", "dl"];

/// Builds `dir`: a link to each C library's archive, and a `libgcc_s.a`
/// that stands for the static unwinder and compiler runtime. `None` when
/// the compiler driver does not know one of the archives.
fn static_libs(dir: &Path) -> Option<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).ok()?;
    for lib in C_LIBS {
        let name = format!("lib{lib}.a");
        let archive = archive_path(&name)?;
        std::os::unix::fs::symlink(&archive, dir.join(&name)).ok()?;
    }
    // The start-up file of a static PIE, and the static runtime.
    for needed in ["rcrt1.o", "libgcc_eh.a", "libgcc.a"] {
        archive_path(needed)?;
    }
    // A file ld cannot read as an archive is read as a linker script.
    std::fs::write(dir.join("libgcc_s.a"), "INPUT(-lgcc_eh -lgcc)\n").ok()?;
    Some(dir.to_path_buf())
}

/// Where rustc's linker, a C compiler driver (`cc` unless the build
/// configures another, which cargo passes on as `RUSTC_LINKER`), finds the
/// file `name`, if anywhere.
fn archive_path(name: &str) -> Option<PathBuf> {
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(linker)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // An unknown file is printed back as its bare name.
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// Whether this (build) machine's glibc is at least `major.minor`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    extern "C" {
        // glibc's own version string, e.g. "2.36".
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version
        .to_str()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// Not a glibc machine: no packed relocations.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn host_glibc_at_least(_major: u32, _minor: u32) -> bool {
    false
}
