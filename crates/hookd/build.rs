//! Records the git commit the binary is built from, for `hookd --version`.
//!
//! `HOOKD_GIT_COMMIT` is the commit's short hash, or `unknown` when the source is not a
//! git checkout (a source archive, `cargo install` from a registry) or git is missing.
//! Cargo builds again when `HEAD` or the branch it points at moves.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HOOKD_GIT_COMMIT={commit}");
    // Watch only files that exist: cargo runs the script again on every build for a
    // watched path that is missing (a fresh clone has no loose branch ref, say).
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
