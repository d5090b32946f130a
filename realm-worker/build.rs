//! Link options of the realm binary, of which a zone runs one process per
//! arena (BENCHMARKS.md, "Realm memory").

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Relative relocations packed as DT_RELR: the table every realm reads at
    // start-up shrinks from about 200 KiB to a few KiB. Only the C library
    // of glibc 2.36 and later applies them, and a linker that packs them for
    // an older one makes a binary that crashes at start; the linkers that
    // know the option (GNU ld 2.38+, lld 15+) ship with such systems. So it
    // is used only for a native build on a machine whose glibc is 2.36 or
    // later.
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if native && host_glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
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
