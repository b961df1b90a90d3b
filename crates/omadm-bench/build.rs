//! Compiles the C shim over libwbxml and links libwbxml2, found with pkg-config. Fails with a
//! clear message when the library or its headers are missing.

use std::process::Command;

const MISSING: &str = "omadm-bench needs libwbxml and its headers (Debian: `apt-get install libwbxml2-dev \
                       pkg-config`; scripts/test installs them)";

fn pkg_config(args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libwbxml2")
        .output()
        .unwrap_or_else(|e| panic!("{MISSING}: cannot run pkg-config: {e}"));
    if !out.status.success() {
        panic!("{MISSING}: pkg-config {} libwbxml2 failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).expect("pkg-config output is UTF-8").trim().to_string()
}

fn main() {
    println!("cargo:rerun-if-changed=shim/libwbxml_shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let version = pkg_config(&["--modversion"]);
    let mut build = cc::Build::new();
    build.file("shim/libwbxml_shim.c").warnings(true).extra_warnings(true);
    for flag in pkg_config(&["--cflags"]).split_whitespace() {
        match flag.strip_prefix("-I") {
            Some(dir) => {
                build.include(dir);
            }
            None => {
                build.flag(flag);
            }
        }
    }
    let header = pkg_config(&["--variable=includedir"]) + "/wbxml/wbxml_conv.h";
    if !std::path::Path::new(&header).exists() {
        panic!("{MISSING}: {header} does not exist");
    }
    build.compile("omadm_libwbxml_shim");

    // Debian's libwbxml2.pc has a relative libdir ("lib/<triple>"): link by name only and let the
    // linker search its default folders, where the library is.
    for flag in pkg_config(&["--libs-only-L"]).split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L").filter(|d| d.starts_with('/')) {
            println!("cargo:rustc-link-search=native={dir}");
        }
    }
    for flag in pkg_config(&["--libs-only-l"]).split_whitespace() {
        if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    println!("cargo:rustc-env=OMADM_LIBWBXML_VERSION={version}");
}
