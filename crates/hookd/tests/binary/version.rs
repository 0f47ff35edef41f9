//! `hookd --version` names the version and the git commit the binary was built from.

use std::process::Command;

#[test]
fn version_names_the_release_and_the_commit_built() {
    let out = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("--version")
        .output()
        .expect("running hookd --version");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The commit this source is, when it is a git checkout (as in CI); else `unknown`.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        text.trim(),
        format!("hookd {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}
