//! The README's quickstart, run as written: its shell blocks are read from README.md (not
//! copied here), so the README cannot drift from what works. Only what a test must change
//! is changed: the built binary instead of `cargo run`, free ports instead of 8071 and
//! 9000 (other tests run at the same time), and a fresh data directory.

use hookd_testkit::free_port;
use hookd_testkit::wait::poll_blocking;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The shell blocks of the README's "Five-minute quickstart" section, in order.
fn quickstart_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("reading README.md");
    let start = readme
        .find("## Five-minute quickstart")
        .expect("the README has a quickstart");
    let section = &readme[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let section = &section[..end];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("a closed code block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 3..];
    }
    blocks
}

/// A background shell running one block; killed (with its children) when dropped.
struct Background(Child);

impl Background {
    fn start(script: &str, dir: &std::path::Path) -> Background {
        let child = Command::new("setsid")
            .args(["bash", "-c", script])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting bash");
        Background(child)
    }

    fn output(mut self) -> String {
        self.stop();
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        out
    }

    fn stop(&mut self) {
        // setsid made the shell a process group leader: end the whole group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls until something listens on `port` (another process: nothing else tells).
fn wait_for_port(port: u16, what: &str) {
    let listening = poll_blocking(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    assert!(listening.is_some(), "{what} did not start on port {port}");
}

#[test]
fn the_readme_quickstart_delivers_a_verified_message() {
    let blocks = quickstart_blocks();
    assert_eq!(
        blocks.len(),
        3,
        "server, receiver, client blocks: {blocks:#?}"
    );
    let dir = tempfile::TempDir::new().unwrap();
    let (api_port, rx_port) = (free_port(), free_port());
    let ports = |s: &str| {
        s.replace("127.0.0.1:8071", &format!("127.0.0.1:{api_port}"))
            .replace("9000", &rx_port.to_string())
    };

    let server = blocks[0].replace(
        "cargo run --release -p hookd --",
        &format!(
            "HOOKD_LISTEN=127.0.0.1:{api_port} {}",
            env!("CARGO_BIN_EXE_hookd")
        ),
    );
    assert_ne!(
        server, blocks[0],
        "the server block runs hookd with cargo run"
    );
    let _server = Background::start(&server, dir.path());
    let receiver = Background::start(&ports(&blocks[1]), dir.path());
    wait_for_port(api_port, "hookd");
    wait_for_port(rx_port, "the receiver");

    // The client block as written; its last command lists the attempts, which are
    // recorded just after the delivery: a reader who runs it a moment later sees them.
    let client = ports(&blocks[2]);
    let (setup, last) = client
        .trim_end()
        .rsplit_once('\n')
        .expect("the client block has several lines");
    let run = |script: &str| {
        let out = Command::new("bash")
            .args(["-c", &format!("set -e\n{script}")])
            .current_dir(dir.path())
            .output()
            .expect("running bash");
        assert!(out.status.success(), "{script}\n{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let created = run(setup);
    for refusal in ["\"code\"", "validation", "conflict"] {
        assert!(
            !created.contains(refusal),
            "a quickstart call was refused: {created}"
        );
    }
    let (exports, _) = setup
        .split_once("curl")
        .expect("the block sets its variables first");
    let mut attempts = String::new();
    poll_blocking(Duration::from_secs(30), || {
        attempts = run(&format!("{exports}{last}"));
        attempts
            .contains("\"responseStatusCode\":204")
            .then_some(())
    });
    assert!(attempts.contains("\"status\":0"), "{attempts}");
    assert!(
        attempts.contains("\"responseStatusCode\":204"),
        "{attempts}"
    );

    // The receiver printed the message id and the payload it got.
    let msg_id = created
        .split("\"id\":\"msg_")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|id| format!("msg_{id}"))
        .expect("the message was created");
    let printed = receiver.output();
    assert!(
        printed.contains(&format!(
            "{msg_id} {{\"invoice\":\"in_1\",\"amount\":4200}}"
        )),
        "the receiver printed: {printed}"
    );
}
