//! The `hookd` binary: parses the command line and calls into `hookd-server`.
//!
//! - this file: the subcommands (`serve`, `prune`, `keygen`, `migrate`, `status`,
//!   `config check`) and `--version`.
//! - `status`: what `hookd status` prints, as text or JSON.
//! - `logging`: the process's log (`HOOKD_LOG`) under a cap that keeps other crates'
//!   debug output, which carries statement parameters, out of it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hookd_server::config::{Config, ServeArgs, StoreArgs};
use tokio_util::sync::CancellationToken;

mod logging;
mod status;

/// mimalloc instead of the system allocator: the request path allocates many small,
/// short-lived buffers, and glibc malloc cost about a tenth of the worker threads' time
/// under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `hookd --version` prints after the name: the version and the git commit built.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HOOKD_GIT_COMMIT"),
    ")"
);

/// hookd: a self-hosted webhooks service.
#[derive(Parser)]
#[command(version = VERSION, about)]
struct Cli {
    /// How log lines are written to stderr: `text` (for people) or `json` (one object per
    /// line, for log shippers).
    #[arg(
        long,
        global = true,
        env = "HOOKD_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: logging::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the delivery workers.
    Serve(Box<ServeArgs>),
    /// Print a new random key: an endpoint secret, an ed25519 key pair or a main key.
    Keygen(KeygenArgs),
    /// Delete old data once: expired payloads, attempts older than `--older-than`, expired
    /// idempotency keys. Reads the same configuration file as `serve`.
    Prune(Box<PruneArgs>),
    /// Apply the database migrations this build carries (as `serve` does at start; on
    /// PostgreSQL under a lock, so nodes may start meanwhile) and print the schema version.
    Migrate(Box<StoreArgs>),
    /// Show the queue: pending deliveries by state, the oldest due and undelivered, the
    /// endpoints furthest behind, and the nodes holding leases. Reads only; works beside a
    /// running `hookd serve`.
    Status(Box<StatusArgs>),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the API's OpenAPI 3.1 document (what `GET /api/v1/openapi.json` serves).
    Openapi,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Resolve the configuration `serve` would use (file, `HOOKD_*` variables, flags) and
    /// print it with secrets redacted; exit 1 if it is invalid.
    Check(Box<ServeArgs>),
}

#[derive(clap::Args)]
struct StatusArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// How many of the endpoints furthest behind to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Only the database settings.
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args)]
struct PruneArgs {
    /// Delete attempts older than this age, e.g. `30d`, `12h`, `90m`, `45s`.
    #[arg(long)]
    older_than: String,
    /// Only the database settings: the rest of `serve`'s would change nothing here.
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args)]
#[group(multiple = false)]
struct KeygenArgs {
    /// An HMAC endpoint secret, `whsec_…` (the default).
    #[arg(long)]
    hmac: bool,
    /// An ed25519 endpoint key pair: the `whsk_…` secret key (give it to hookd as the
    /// endpoint's `secret` or rotation `key`), then the `whpk_…` public key (give it to
    /// the receiver), one per line.
    #[arg(long)]
    ed25519: bool,
    /// A main key for `HOOKD_MAIN_KEY` / `main_key` (base64 of 32 bytes).
    #[arg(long)]
    main_key: bool,
}

/// Prints the requested key to stdout (never to the log).
fn keygen(args: &KeygenArgs) {
    use hookd_core::signing::EndpointSecret;
    if args.ed25519 {
        let key = EndpointSecret::generate_ed25519();
        println!("{}", key.expose());
        println!("{}", key.verification_key());
    } else if args.main_key {
        println!("{}", hookd_store::secrets::MainKey::generate().1);
    } else {
        println!("{}", EndpointSecret::generate().expose());
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Prune(args) => prune(*args),
        Command::Migrate(args) => migrate(*args),
        Command::Status(args) => status(*args),
        Command::Config(ConfigCommand::Check(args)) => {
            let config = Config::load(args.config.as_deref(), args.flags)?;
            println!("{config:#?}");
            println!("configuration is valid");
            Ok(())
        }
        Command::Keygen(args) => {
            keygen(&args);
            Ok(())
        }
        Command::Openapi => {
            print!("{}", hookd_server::api::openapi::document());
            Ok(())
        }
    }
}

fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let older_than = hookd_server::cleaner::parse_age(&args.older_than)?;
    let config = Config::load(args.store.config.as_deref(), args.store.flags)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let removed = runtime.block_on(hookd_server::prune(&config, older_than))?;
    println!(
        "pruned {} expired payloads, {} attempts older than {}, {} expired idempotency keys",
        removed.payloads, removed.attempts, args.older_than, removed.idempotency_keys
    );
    Ok(())
}

/// A runtime for the one-shot commands.
fn one_shot() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), args.flags)?;
    let version = one_shot()?.block_on(hookd_server::migrate(&config))?;
    println!(
        "schema version {} of {}: {}",
        version.current,
        version.known,
        if version.is_current() {
            "up to date"
        } else {
            "newer than this build"
        }
    );
    Ok(())
}

fn status(args: StatusArgs) -> anyhow::Result<()> {
    let config = Config::load(args.store.config.as_deref(), args.store.flags)?;
    let seen = one_shot()?.block_on(hookd_server::status(&config, args.top))?;
    let database = format!("{:?}", config.database());
    let report = status::Report::new(&database, &seen);
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), args.flags)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        hookd_server::run(config, listener, shutdown).await
    })
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn serve(args: &[&str]) -> ServeArgs {
        let argv = ["hookd", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv)
            .expect("the command line parses")
            .command
        {
            Command::Serve(args) => *args,
            _ => unreachable!("a serve command line"),
        }
    }

    #[test]
    fn boolean_flags_are_switches_that_also_take_a_value() {
        let none = serve(&[]).flags;
        assert_eq!((none.https_only, none.svix_headers), (None, None));
        let on = serve(&["--https-only", "--svix-headers", "--listen", "127.0.0.1:1"]).flags;
        assert_eq!((on.https_only, on.svix_headers), (Some(true), Some(true)));
        assert_eq!(on.listen, Some("127.0.0.1:1".parse().unwrap()));
        let off = serve(&["--https-only=false", "--svix-headers=false"]).flags;
        assert_eq!(
            (off.https_only, off.svix_headers),
            (Some(false), Some(false))
        );
        let explicit = serve(&["--https-only=true", "--svix-headers", "true"]).flags;
        assert_eq!(
            (explicit.https_only, explicit.svix_headers),
            (Some(true), Some(true))
        );
        assert!(Cli::try_parse_from(["hookd", "serve", "--https-only=maybe"]).is_err());
    }

    #[test]
    fn flags_reach_the_config_with_their_types() {
        let args = serve(&[
            "--config",
            "elsewhere.toml",
            "--allowed-networks",
            "loopback,10.0.0.0/8",
            "--retry-schedule",
            "1,2",
            "--lease",
            "30",
            "--max-connections",
            "7",
        ]);
        assert_eq!(args.config, Some("elsewhere.toml".into()));
        let config = Config::resolve(Default::default(), args.flags).unwrap();
        assert_eq!(config.allowed_networks.len(), 3);
        assert_eq!(config.retry().max_attempts(), 3);
        assert_eq!(config.lease, std::time::Duration::from_secs(30));
        assert_eq!(config.max_connections, Some(7));
        assert!(Cli::try_parse_from(["hookd", "serve", "--lease", "soon"]).is_err());
    }

    fn help(command: &str) -> String {
        Cli::command()
            .find_subcommand_mut(command)
            .expect("a known command")
            .render_long_help()
            .to_string()
    }

    /// Whether `help` offers `flag` (`--lease <LEASE>`, `--https-only [<BOOL>]`), and not
    /// just a longer flag that starts with it.
    fn offers(help: &str, flag: &str) -> bool {
        help.lines()
            .any(|l| l.split_whitespace().next() == Some(flag))
    }

    #[test]
    fn serve_offers_every_declared_flag_and_prune_only_the_database_ones() {
        use hookd_server::config::{Scope, SETTINGS};
        let serve_help = help("serve");
        let prune_help = help("prune");
        for help in [&serve_help, &prune_help] {
            assert!(offers(help, "--config"), "--config missing:\n{help}");
            assert!(help.contains("[env: HOOKD_CONFIG"), "{help}");
        }
        assert!(offers(&prune_help, "--older-than"), "{prune_help}");
        for setting in SETTINGS {
            let (Some(flag), Some(env)) = (setting.flag(), setting.env()) else {
                let flag = format!("--{}", setting.name.replace('_', "-"));
                assert!(!offers(&serve_help, &flag), "file-only {flag} offered");
                continue;
            };
            assert!(offers(&serve_help, &flag), "{flag} missing:\n{serve_help}");
            assert!(
                serve_help.contains(&format!("[env: {env}")),
                "{env} missing"
            );
            let in_prune = offers(&prune_help, &flag);
            assert_eq!(in_prune, setting.scope == Scope::Store, "{flag} in prune");
        }
        assert!(
            Cli::try_parse_from(["hookd", "prune", "--older-than", "1d", "--listen", "x"]).is_err()
        );
        let prune =
            Cli::try_parse_from(["hookd", "prune", "--older-than", "1d", "--data-dir", "d"]);
        match prune.expect("prune takes the database settings").command {
            Command::Prune(args) => assert_eq!(args.store.flags.data_dir, Some("d".into())),
            _ => unreachable!("a prune command line"),
        }
    }
}
