use super::*;
use hookd_delivery::ProxyConfig;
use hookd_store::secrets::MainKey;

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Resolves `flags` over an empty file.
fn with_flags(flags: Layer) -> anyhow::Result<Config> {
    Config::resolve(Layer::default(), flags)
}

fn defaults() -> Config {
    with_flags(Layer::default()).unwrap()
}

fn file(toml: &str) -> Layer {
    toml::from_str(toml).unwrap()
}

#[test]
fn every_setting_is_in_the_readme_table_and_the_example_file() {
    let readme = repo_file("README.md");
    let example = repo_file("hookd.example.toml");
    let mut missing = Vec::new();
    assert!(SETTINGS.len() > 30, "{}", SETTINGS.len());
    for setting in SETTINGS {
        let key = setting.name;
        // A row of the README's configuration table names the file key in backticks, then
        // its flag and variable (or none), its default (or what unset means), its meaning.
        let row = readme.lines().find(|l| {
            let first = l.split('|').nth(1).unwrap_or_default().trim();
            let file_key = first.rsplit(" / ").next().unwrap_or_default();
            l.starts_with('|') && file_key.trim_end_matches(" (list)") == format!("`{key}`")
        });
        let Some(row) = row else {
            missing.push(format!("{key}: no row in the README's configuration table"));
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        match (setting.flag(), setting.env()) {
            (Some(flag), Some(env)) => {
                if !cells[1].starts_with(&format!("`{flag}")) || cells[2] != format!("`{env}`") {
                    missing.push(format!(
                        "{key}: the README row lacks {flag} or {env}: {row}"
                    ));
                }
            }
            _ => {
                if cells[1] != format!("`{key}`") || !cells[2].is_empty() {
                    missing.push(format!("{key}: the README row names a flag or variable"));
                }
            }
        }
        if let Fallback::Value(default) = setting.default {
            if !cells[3].starts_with(&format!("`{default}`")) {
                missing.push(format!(
                    "{key}: the README's default is not {default}: {row}"
                ));
            }
        }
        // The example file sets it, or shows it commented out.
        let in_example = example.lines().any(|l| {
            let l = l.trim_start().trim_start_matches('#').trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        if !in_example {
            missing.push(format!("{key}: not in hookd.example.toml"));
        }
    }
    assert!(
        missing.is_empty(),
        "settings undocumented:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_file_takes_every_setting_and_no_other_key() {
    let err = toml::from_str::<Layer>("not_a_hookd_setting = 1")
        .err()
        .expect("an unknown key is refused")
        .to_string();
    for setting in SETTINGS {
        assert!(err.contains(&format!("`{}`", setting.name)), "{err}");
    }
}

#[test]
fn every_default_goes_through_its_rule() {
    // Resolving nothing parses each `default = "…"` and applies its rule.
    let c = defaults();
    assert_eq!(c.database_timeout, hookd_store::DEFAULT_CALL_TIMEOUT);
    assert_eq!(c.retry_schedule, RetrySchedule::default().delays());
    assert_eq!(c.poll_interval_ms, Duration::from_millis(500));
}

#[test]
fn the_database_timeout_defaults_to_5_seconds_and_is_bounded() {
    assert_eq!(defaults().database_timeout, Duration::from_secs(5));
    let file = file("database_timeout = 2.5");
    let c = Config::resolve(file.clone(), Layer::default()).unwrap();
    assert_eq!(c.database_timeout, Duration::from_millis(2500));
    let flags = Layer {
        database_timeout: Some(1.0),
        ..Layer::default()
    };
    let c = Config::resolve(file, flags).unwrap();
    assert_eq!(c.database_timeout, Duration::from_secs(1));
    for bad in [0.0, -1.0, 601.0, f64::NAN] {
        let err = with_flags(Layer {
            database_timeout: Some(bad),
            ..Layer::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("database_timeout"), "{err}");
    }
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let c = defaults();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8071");
    assert_eq!(
        c.database(),
        Database::Sqlite(PathBuf::from("hookd-data/hookd.db"))
    );
    assert_eq!(c.retry().max_attempts(), 8);
    assert_eq!(c.max_body_bytes, 1024 * 1024);
    assert!(c.allowed_networks.is_empty());
    assert_eq!(c.ingest_dedup_window, Duration::from_secs(259_200));
    assert_eq!(
        c.ingest_rejection_retention,
        Duration::from_secs(7 * 86_400)
    );
}

#[test]
fn flags_override_file_which_overrides_defaults() {
    let file = file(
        "listen = \"127.0.0.1:9000\"\nretry_schedule = [1, 2]\nmax_body_bytes = 10\n\
         allowed_networks = [\"10.0.0.0/8\"]\nadmin_token = \"file-token-0123456789\"",
    );
    let flags = Layer {
        listen: Some("127.0.0.1:9001".parse().unwrap()),
        allowed_networks: Some("127.0.0.0/8, ::1".into()),
        ..Default::default()
    };
    let c = Config::resolve(file, flags).unwrap();
    assert_eq!(c.listen.port(), 9001);
    assert_eq!(c.retry().max_attempts(), 3);
    assert_eq!(c.max_body_bytes, 10);
    assert_eq!(c.allowed_networks.len(), 2);
    assert!(!format!("{c:?}").contains("file-token"));
}

#[test]
fn allowed_networks_accept_the_words_loopback_and_private_among_cidrs() {
    let nets = |s: &str| {
        let c = with_flags(Layer {
            allowed_networks: Some(s.into()),
            ..Default::default()
        })
        .unwrap();
        c.allowed_networks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(nets("loopback"), ["127.0.0.0/8", "::1/128"]);
    assert_eq!(nets(" LOOPBACK "), ["127.0.0.0/8", "::1/128"]);
    assert_eq!(
        nets("10.20.0.0/16,loopback"),
        ["10.20.0.0/16", "127.0.0.0/8", "::1/128"]
    );
    assert_eq!(
        nets("private"),
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    );
    let file = file("allowed_networks = [\"loopback\", \"192.0.2.7\"]");
    let c = Config::resolve(file, Layer::default()).unwrap();
    assert_eq!(c.allowed_networks.len(), 3);
    let err = with_flags(Layer {
        allowed_networks: Some("loopbak".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("`loopback`"), "{err}");
}

#[test]
fn the_example_file_parses_to_the_defaults() {
    let file: Layer = toml::from_str(include_str!("../../../../hookd.example.toml")).unwrap();
    let from_file = Config::resolve(file, Layer::default()).unwrap();
    assert_eq!(format!("{from_file:?}"), format!("{:?}", defaults()));
}

#[test]
fn bad_values_are_refused_with_a_reason() {
    let bad = |flags: Layer| with_flags(flags).unwrap_err().to_string();
    assert!(bad(Layer {
        database_url: Some("mysql://x".into()),
        ..Default::default()
    })
    .contains("sqlite://"));
    assert!(bad(Layer {
        allowed_networks: Some("not-a-net".into()),
        ..Default::default()
    })
    .contains("not a CIDR"));
    assert!(bad(Layer {
        retry_schedule: Some("1,soon".into()),
        ..Default::default()
    })
    .contains("retry schedule"));
    assert!(toml::from_str::<Layer>("unknown_key = 1").is_err());
    for url in [
        "localhost:4318",
        "ftp://collector",
        "http://",
        "http://c:4318/?x=1",
    ] {
        let err = bad(Layer {
            otlp_endpoint: Some(url.into()),
            ..Default::default()
        });
        assert!(
            err.contains("otlp_endpoint must be an http"),
            "{url}: {err}"
        );
    }
    let traced = with_flags(Layer {
        otlp_endpoint: Some("https://otel.example:4318".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        traced.otlp_endpoint.as_deref(),
        Some("https://otel.example:4318")
    );
    for list in [
        "",
        "'self'; script-src *",
        "https://a.example,https://b",
        "'none' 'self'",
        "'unsafe-inline'",
        "javascript:alert(1)x",
    ] {
        let err = bad(Layer {
            portal_frame_ancestors: Some(list.into()),
            ..Default::default()
        });
        assert!(err.contains("portal_frame_ancestors"), "{list}: {err}");
    }
    let framed = with_flags(Layer {
        portal_frame_ancestors: Some(
            "'self'  https://app.example.com:8443 https://*.example.org https:".into(),
        ),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        framed.portal_frame_ancestors,
        "'self' https://app.example.com:8443 https://*.example.org https:"
    );
    assert_eq!(
        with_flags(Layer::default()).unwrap().portal_frame_ancestors,
        "*"
    );
    assert!(bad(Layer {
        ingest_dedup_window: Some(0.0),
        ..Default::default()
    })
    .contains("ingest_dedup_window"));
    assert!(bad(Layer {
        ingest_rejection_retention: Some(400.0),
        ..Default::default()
    })
    .contains("ingest_rejection_retention"));
    assert!(bad(Layer {
        proxy_url: Some("socks5://proxy:1080".into()),
        ..Default::default()
    })
    .contains("http://"));
    let err = bad(Layer {
        main_key: Some("c2hvcnQta2V5".into()),
        ..Default::default()
    });
    assert!(err.contains("main_key") && !err.contains("c2hvcnQta2V5"));
    let url_only = Layer {
        operational_webhook_url: Some("https://ops.example.com/hook".into()),
        ..Default::default()
    };
    assert!(bad(url_only.clone()).contains("operational_webhook_secret"));
    assert!(bad(Layer {
        operational_webhook_secret: Some("whsec_bad".into()),
        ..url_only.clone()
    })
    .contains("operational_webhook_secret"));
    assert!(bad(Layer {
        operational_webhook_url: Some("ftp://ops.example.com".into()),
        operational_webhook_secret: Some(EndpointSecret::generate().expose().to_owned()),
        ..Default::default()
    })
    .contains("http or https"));
    for no_target in ["http:///hook", "https://ops.example.com:0/hook"] {
        assert!(bad(Layer {
            operational_webhook_url: Some(no_target.into()),
            operational_webhook_secret: Some(EndpointSecret::generate().expose().to_owned()),
            ..Default::default()
        })
        .contains("operational_webhook_url"));
    }
    assert!(bad(Layer {
        operational_webhook_url: Some("http://ops.example.com/hook".into()),
        operational_webhook_secret: Some(EndpointSecret::generate().expose().to_owned()),
        https_only: Some(true),
        ..Default::default()
    })
    .contains("must use https when https_only is set"));
    assert!(bad(Layer {
        auto_disable_after: Some(0.0),
        ..Default::default()
    })
    .contains("auto_disable_after"));
}

/// The error each out-of-range value gets, word for word.
#[test]
fn range_errors_name_the_setting_and_its_bounds() {
    let cases: [(&str, &str); 12] = [
        ("lease = 0.5", "lease must be at least 1 second"),
        (
            "request_timeout = 0",
            "request_timeout must be a positive number of seconds",
        ),
        ("max_body_bytes = 0", "max_body_bytes must be positive"),
        (
            "max_body_bytes = 8388609",
            "max_body_bytes must be at most 8388608 (8 MiB)",
        ),
        (
            "database_pool_size = 0",
            "database_pool_size must be at least 1",
        ),
        ("retry_jitter = 1.5", "retry_jitter must be between 0 and 1"),
        (
            "secret_grace_period = -1",
            "secret_grace_period must be between 0 and 604800 seconds",
        ),
        (
            "attempt_retention = 40000",
            "attempt_retention must be between 0 and 36500 days",
        ),
        (
            "database_timeout = 0.05",
            "database_timeout must be between 0.1 and 600 seconds",
        ),
        (
            "head_timeout = 3601",
            "head_timeout must be at most 3600 seconds",
        ),
        (
            "body_min_rate = 1073741825",
            "body_min_rate must be at most 1073741824",
        ),
        (
            "max_connections = 1000001",
            "max_connections must be between 1 and 1000000",
        ),
    ];
    for (toml, expected) in cases {
        let err = Config::resolve(file(toml), Layer::default()).unwrap_err();
        assert_eq!(err.to_string(), expected, "{toml}");
    }
    let c = Config::resolve(file("attempt_retention = 0"), Layer::default()).unwrap();
    assert_eq!(c.attempt_retention, None);
    let c = Config::resolve(file("poll_interval_ms = 0"), Layer::default()).unwrap();
    assert_eq!(c.poll_interval_ms, Duration::from_millis(1));
}

#[test]
fn listener_settings_have_defaults_layers_and_bounds() {
    assert_eq!(
        defaults().listener(),
        ListenerSettings {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 4096,
            max_connections: None,
        }
    );
    let file = file("head_timeout = 2\nmax_connections = 50\nbody_min_rate = 0");
    let flags = Layer {
        head_timeout: Some(3.0),
        idle_timeout: Some(5.0),
        ..Default::default()
    };
    let c = Config::resolve(file, flags).unwrap().listener();
    assert_eq!(c.head_timeout, Duration::from_secs(3));
    assert_eq!(c.idle_timeout, Duration::from_secs(5));
    assert_eq!(c.body_min_rate, 0);
    assert_eq!(c.max_connections, Some(50));
    let bad = |flags: Layer| with_flags(flags).unwrap_err().to_string();
    assert!(bad(Layer {
        head_timeout: Some(0.0),
        ..Default::default()
    })
    .contains("head_timeout"));
    assert!(bad(Layer {
        idle_timeout: Some(100_000.0),
        ..Default::default()
    })
    .contains("idle_timeout"));
    assert!(bad(Layer {
        body_timeout: Some(f64::NAN),
        ..Default::default()
    })
    .contains("body_timeout"));
    assert!(bad(Layer {
        max_connections: Some(0),
        ..Default::default()
    })
    .contains("max_connections"));
}

#[test]
fn proxy_url_is_read_and_its_credentials_stay_out_of_debug() {
    let file = file("proxy_url = \"http://u:hunter2@egress:3128\"");
    let c = Config::resolve(file, Layer::default()).unwrap();
    assert_eq!(
        c.proxy_url,
        Some(ProxyConfig::parse("http://u:hunter2@egress:3128").unwrap())
    );
    assert!(!format!("{c:?}").contains("hunter2"));
    let blank = Config::resolve(self::file("proxy_url = \" \""), Layer::default()).unwrap();
    assert_eq!(blank.proxy_url, None);
}

#[test]
fn main_keys_come_from_flags_or_the_file_and_show_only_their_ids() {
    let (key, b64) = MainKey::generate();
    let (old, old_b64) = MainKey::generate();
    let file = file(&format!("previous_main_keys = [\"{old_b64}\"]"));
    let flags = Layer {
        main_key: Some(b64.clone()),
        ..Default::default()
    };
    let c = Config::resolve(file, flags).unwrap();
    assert_eq!(c.main_key.as_ref().map(MainKey::id), Some(key.id()));
    assert_eq!(c.previous_main_keys.len(), 1);
    assert_eq!(c.previous_main_keys[0].id(), old.id());
    let debug = format!("{c:?}");
    assert!(!debug.contains(&b64) && !debug.contains(&old_b64));
    // On the command line: comma-separated, blank pieces skipped.
    let c = with_flags(Layer {
        previous_main_keys: Some(format!("{b64},,{old_b64}").as_str().into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.previous_main_keys.len(), 2);
}

/// Each secret setting, with a value it accepts.
fn secret_values() -> Vec<(&'static str, String)> {
    vec![
        (
            "database_url",
            "postgres://hookd:pg-password-1@db:5432/hookd".into(),
        ),
        ("main_key", MainKey::generate().1),
        ("previous_main_keys", MainKey::generate().1),
        ("admin_token", "admin-token-0123456789".into()),
        ("proxy_url", "http://u:proxy-password-1@egress:3128".into()),
        (
            "operational_webhook_secret",
            EndpointSecret::generate().expose().to_owned(),
        ),
        ("metrics_token", "metrics-token-secret-42".into()),
    ]
}

#[test]
fn every_secret_stays_out_of_debug_and_out_of_help() {
    let secrets: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.name)
        .collect();
    let values = secret_values();
    assert_eq!(
        secrets,
        values.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "a secret setting needs a value here"
    );
    let mut toml = String::from("operational_webhook_url = \"https://ops.example.com/hook\"\n");
    for (name, value) in &values {
        let value = match *name {
            "previous_main_keys" => format!("[\"{value}\"]"),
            _ => format!("\"{value}\""),
        };
        toml.push_str(&format!("{name} = {value}\n"));
    }
    let c = Config::resolve(file(&toml), Layer::default()).unwrap();
    let debug = format!("{c:?}");
    for (name, value) in &values {
        assert!(!debug.contains(value.as_str()), "{name} in {debug}");
    }
    assert!(!debug.contains("password-1"), "{debug}");
    assert_eq!(
        c.admin_token.as_ref().map(Secret::expose),
        Some("admin-token-0123456789")
    );
    assert!(matches!(c.database(), Database::Postgres(url) if url.contains("pg-password-1")));

    let serve = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    for arg in serve.get_arguments() {
        let secret = secrets.contains(&arg.get_id().as_str());
        assert_eq!(arg.is_hide_env_values_set(), secret, "{}", arg.get_id());
    }
}

#[test]
fn operational_webhook_secret_is_redacted() {
    let secret = EndpointSecret::generate();
    let flags = Layer {
        operational_webhook_url: Some("https://ops.example.com/hook".into()),
        operational_webhook_secret: Some(secret.expose().to_owned()),
        auto_disable_after: Some(60.0),
        ..Default::default()
    };
    let c = with_flags(flags).unwrap();
    assert_eq!(c.auto_disable_after, Duration::from_secs(60));
    assert_eq!(c.operational_webhook().unwrap().secret, secret);
    assert!(!format!("{c:?}").contains(secret.expose()));
    assert_eq!(defaults().operational_webhook(), None);
}

// --- Operator logs ---
#[test]
fn the_admin_token_source_and_the_access_log_are_resolved() {
    let c = defaults();
    assert_eq!(c.admin_token_source, AdminTokenSource::Stored);
    assert!(!c.access_log);
    let file = file("admin_token = \"file-token-0123456789\"\naccess_log = true");
    let c = Config::resolve(file.clone(), Layer::default()).unwrap();
    assert_eq!(c.admin_token_source, AdminTokenSource::File);
    assert!(c.access_log);
    // A flag wins over the file, for the token and the access log alike.
    let flags = Layer {
        admin_token: Some("flag-token-0123456789-not-in-env".into()),
        access_log: Some(false),
        ..Default::default()
    };
    let c = Config::resolve(file, flags).unwrap();
    assert_eq!(c.admin_token_source, AdminTokenSource::Flag);
    assert!(!c.access_log);
    assert!(!format!("{c:?}").contains("flag-token"));
}
