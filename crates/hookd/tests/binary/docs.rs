//! The documentation checked against the code: every relative link (and `#anchor`) in
//! the Markdown pages leads somewhere, the pages written for users name no source or test
//! files, and every route a page documents (`GET /api/v1/...`, `POST $ING/...`) is a
//! route of a real `hookd serve`.

use crate::support::Node;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every Markdown page of the repository a reader is pointed at.
fn pages() -> Vec<PathBuf> {
    let root = repo();
    let mut pages: Vec<PathBuf> = [
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "BENCHMARKS.md",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    for entry in std::fs::read_dir(root.join("docs")).expect("reading docs/") {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages
}

/// Pages for users (not for contributors): they must not name the code's files.
fn user_pages() -> Vec<PathBuf> {
    pages()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !matches!(
                &*name,
                "CONTRIBUTING.md" | "CHANGELOG.md" | "BENCHMARKS.md" | "architecture.md"
            )
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn name(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The page's text outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of `[text](target)` links outside code.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_owned());
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_leads_somewhere() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", name(&page)));
            } else if !fragment.is_empty() && !anchors(&read(&target)).contains(&fragment.into()) {
                broken.push(format!("{}: {link} (no such heading)", name(&page)));
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} links found: is the parser broken?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn user_pages_name_no_source_or_test_files() {
    let mut found = Vec::new();
    for page in user_pages() {
        let mut fenced = false;
        for (n, line) in read(&page).lines().enumerate() {
            // Commands in code blocks may name paths (`cargo install --path crates/hookd`).
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if fenced {
                continue;
            }
            let words = line.split(|c: char| c.is_whitespace() || "`()[],;:".contains(c));
            for word in words {
                let word = word.trim_end_matches('.');
                if word.ends_with(".rs") || word.contains("crates/") || word.contains("tests/") {
                    found.push(format!("{}:{}: {word}", name(&page), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "user pages name the code's files (say it in the user's terms, or move it to \
         CONTRIBUTING.md or docs/architecture.md):\n{}",
        found.join("\n")
    );
}

/// `(method, path)` for every route a page documents in a code span such as
/// `` `GET/PUT /api/v1/app/{app}/endpoint/{ep}/headers` `` or `` `GET $ING/source/{id}` ``.
fn documented_routes() -> Vec<(String, String, String)> {
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let mut out = Vec::new();
    for page in pages() {
        let text = read(&page);
        // Code spans outside fenced blocks.
        let spans = prose(&text)
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for span in spans {
            let Some((methods, path)) = span.split_once(' ') else {
                continue;
            };
            let methods: Vec<&str> = methods.split('/').collect();
            if !methods.iter().all(|m| METHODS.contains(m)) {
                continue;
            }
            let path = path.split(['?', ' ']).next().unwrap_or_default();
            let path = if let Some(p) = path.strip_prefix("$ING") {
                format!("/ingest/api/v1{p}")
            } else if let Some(p) = path.strip_prefix("$API") {
                format!("/api/v1{p}")
            } else if path.starts_with("/api/v1/") || path.starts_with("/ingest/api/v1/") {
                path.to_owned()
            } else {
                continue; // `.../msg/{msg}/content` and the like: not a whole path
            };
            for m in methods {
                out.push((name(&page), m.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// Fills a path template's `{parameters}` with an id that names nothing.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str("doc-check-none");
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_documented_route_exists() {
    let routes = documented_routes();
    assert!(
        routes.len() >= 20,
        "only {} documented routes found: is the parser broken?",
        routes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::sqlite_url(dir.path());
    let node = Node::start(&url, dir.path(), &[]).await;
    let api = node.api();
    let mut missing = Vec::new();
    for (page, method, template) in &routes {
        let body = (method != "GET" && method != "DELETE").then(|| serde_json::json!({}));
        let (status, reply) = api.call_root(method, &concrete(template), body).await;
        let no_route = status == 404 && reply["detail"] == "no such route";
        if no_route || status == 405 {
            missing.push(format!("{page}: {method} {template} -> {status} {reply}"));
        }
    }
    assert!(
        missing.is_empty(),
        "documented routes hookd does not have:\n{}",
        missing.join("\n")
    );
}
