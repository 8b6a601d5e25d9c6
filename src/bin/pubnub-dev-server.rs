//! `pubnub-dev-server`: runs the embedded PubNub-compatible server in the
//! foreground until Ctrl-C.
//!
//! ```text
//! pubnub-dev-server --host 127.0.0.1 --port 8090 --hold 280 --presence-timeout 300 --queue-size 100 --log info
//! pubnub-dev-server --subscribe-key sub-c-dev --publish-key pub-c-dev --secret-key sec-c-dev
//! pubnub-dev-server --data-dir ./pubnub-data          # keep state across restarts
//! pubnub-dev-server --data-dir ./pubnub-data --export dump.json   # write it out and exit
//! pubnub-dev-server --data-dir ./fresh --import dump.json          # start from an export
//! ```
//!
//! It prints the origin to give the SDKs, the web console's URL
//! (`http://HOST:PORT/console`) and where its data lives (the data dir, or
//! in memory), one per line; logs have no colour codes unless stdout is a
//! terminal. Ctrl-C (or SIGTERM) commits what is queued and stops.
//!
//! Without keys any subscribe and publish key is accepted. With
//! `--subscribe-key` and `--publish-key` only that keyset is; adding
//! `--secret-key` turns Access Manager on for it (signed administration,
//! v2 grants, v3 tokens, enforcement on every data route).
//!
//! Without `--secret-key`, a keyset's first signed administration request
//! (grant, audit, grant_token, revoke_token) turns Access Manager on for it
//! by trust on first use (logged at WARN): grants and tokens are enforced
//! from then on, but signed requests are accepted without verification —
//! the server has no secret to check them with. `--secret-key` pins the
//! secret so that a wrong signature is refused.

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pubnub_rx::server::{CommitMode, DevServer, DevServerConfig, Keyset};
use tracing_subscriber::EnvFilter;

/// An offline PubNub-compatible server for development and tests.
#[derive(Debug, Parser)]
#[command(
    name = "pubnub-dev-server",
    version,
    after_help = "Point any PubNub SDK at origin HOST:PORT with TLS off. Beside the PubNub API the \
server answers its own routes: the web console at http://HOST:PORT/console (keysets, channels, \
live messages, publish, presence, history, groups, App Context, Access Manager, the request log, \
queue losses), /metrics (Prometheus), /healthz and the /dev/... JSON the console reads. Data is \
kept in memory unless --data-dir is given; with it every acknowledged change is on disk first."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// Seconds an idle subscribe long-poll is held before an empty answer.
    #[arg(long, default_value_t = 280.0)]
    hold: f64,
    /// Default presence timeout in seconds (when a client sends no `heartbeat`).
    #[arg(long, default_value_t = 300)]
    presence_timeout: u64,
    /// Messages per subscribe answer; older ones beyond it are lost for that subscriber.
    #[arg(long, default_value_t = 100)]
    queue_size: usize,
    /// Log filter: a level (`info`, `debug`, …) or a tracing filter directive.
    #[arg(long, default_value = "info")]
    log: String,
    /// Accept only this subscribe key (needs --publish-key).
    #[arg(long, requires = "publish_key")]
    subscribe_key: Option<String>,
    /// The publish key of --subscribe-key.
    #[arg(long, requires = "subscribe_key")]
    publish_key: Option<String>,
    /// Turns Access Manager on for the keyset and pins its secret: every
    /// signature is verified (needs --subscribe-key and --publish-key:
    /// signatures cover the publish key). Without it, a keyset's first signed
    /// grant / audit / grant_token / revoke_token turns Access Manager on by
    /// trust on first use, accepting signed requests unverified.
    #[arg(long, requires_all = ["subscribe_key", "publish_key"])]
    secret_key: Option<String>,
    /// Seconds a signed request's timestamp may be off the server clock.
    #[arg(long, default_value_t = 60)]
    signature_window: u64,
    /// Memory all held messages may take together, over every channel and
    /// keyset (bytes, or with a KiB / MiB / GiB suffix); past it the oldest
    /// messages are evicted first.
    #[arg(long, default_value = "256MiB", value_parser = parse_bytes)]
    max_store_bytes: usize,
    /// Memory all uploaded files may take together, over every keyset
    /// (bytes, or with a KiB / MiB / GiB suffix; at least 5 MiB); past it the
    /// oldest files are evicted first.
    #[arg(long, default_value = "128MiB", value_parser = parse_bytes)]
    max_file_bytes: usize,
    /// Seconds a request head may take to arrive once it has started; a
    /// connection with a half-sent head is closed after it. Idle keep-alive
    /// connections are kept 300 s regardless.
    #[arg(long, default_value_t = 30.0)]
    header_read_timeout: f64,
    /// Keep state in this directory (an embedded database, created when
    /// missing) across restarts: history with its message actions, App
    /// Context, channel groups, files, push registrations, Access Manager
    /// grants, tokens and revocations, keysets. A change is acknowledged
    /// only once committed. Without it everything is in memory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// How --data-dir commits: `group` (changes that arrive during a commit
    /// share the next one) or `each` (one commit and fsync per change).
    #[arg(long, value_enum, default_value_t = Commit::Group, requires = "data_dir")]
    commit: Commit,
    /// Start from an --export file: loaded into an empty --data-dir, or
    /// into memory without one.
    #[arg(long, value_name = "FILE")]
    import: Option<std::path::PathBuf>,
    /// Write --data-dir to one JSON file and exit (the server must not be
    /// running on that dir).
    #[arg(
        long,
        value_name = "FILE",
        requires = "data_dir",
        conflicts_with = "import"
    )]
    export: Option<std::path::PathBuf>,
}

/// `--commit`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Commit {
    /// Group the changes that queue during a commit into the next one.
    Group,
    /// One commit per change.
    Each,
}

/// The web console's URL; a server bound to every interface is reached
/// through loopback.
fn console_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/console", SocketAddr::new(ip, addr.port()))
}

/// `1024`, `64KiB`, `256MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`
/// as the same binary multiples).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown unit `{unit}`: use bytes, KiB, MiB or GiB")),
    };
    number
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1usize << shift))
        .ok_or_else(|| format!("`{text}` is not a size: try 268435456 or 256MiB"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match EnvFilter::try_new(&args.log) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!(
                "invalid --log filter `{}`: {error}; try `info` or `debug`",
                args.log
            );
            return ExitCode::from(2);
        }
    };
    // Colour codes only on a terminal: piped into a file or a CI log they
    // would be noise.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    if let (Some(dir), Some(out)) = (&args.data_dir, &args.export) {
        let (dir, target) = (dir.clone(), out.clone());
        let exported =
            tokio::task::spawn_blocking(move || pubnub_rx::server::export_data_dir(&dir, &target))
                .await;
        return match exported {
            Ok(Ok(records)) => {
                let plural = if records == 1 { "" } else { "s" };
                println!("exported {records} record{plural} to {}", out.display());
                ExitCode::SUCCESS
            }
            Ok(Err(error)) => {
                eprintln!("pubnub-dev-server: {error}");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("pubnub-dev-server: the export stopped: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let hold = match Duration::try_from_secs_f64(args.hold) {
        Ok(hold) if hold <= Duration::from_secs(300) => hold,
        _ => {
            eprintln!(
                "invalid --hold {}: give seconds between 0 and 300 (clients give up after 310)",
                args.hold
            );
            return ExitCode::from(2);
        }
    };
    let header_read_timeout = match Duration::try_from_secs_f64(args.header_read_timeout) {
        Ok(timeout) if !timeout.is_zero() => timeout,
        _ => {
            eprintln!(
                "invalid --header-read-timeout {}: give a positive number of seconds, such as 30",
                args.header_read_timeout
            );
            return ExitCode::from(2);
        }
    };
    let config = DevServerConfig::default()
        .with_host(args.host)
        .with_port(args.port)
        .with_hold(hold)
        .with_presence_timeout(Duration::from_secs(args.presence_timeout.max(1)))
        .with_queue_size(args.queue_size)
        .with_signature_window(Duration::from_secs(args.signature_window))
        .with_max_store_bytes(args.max_store_bytes)
        .with_max_file_bytes(args.max_file_bytes)
        .with_header_read_timeout(header_read_timeout)
        .with_commit_mode(match args.commit {
            Commit::Group => CommitMode::Group,
            Commit::Each => CommitMode::EachChange,
        });
    let config = match args.data_dir {
        Some(dir) => config.with_data_dir(dir),
        None => config,
    };
    let config = match args.import {
        Some(file) => config.with_import(file),
        None => config,
    };
    let config = match (args.subscribe_key, args.publish_key) {
        (Some(subscribe_key), Some(publish_key)) => {
            let mut keyset = Keyset::new(subscribe_key, publish_key);
            if let Some(secret) = args.secret_key {
                keyset = keyset.with_secret_key(secret);
            }
            config.with_keyset(keyset)
        }
        _ => config,
    };
    let server = match DevServer::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("pubnub-dev-server: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The first line is read by scripts (tests/interop/run.sh, the binary's
    // tests): keep its format. One write, so that a reader who stops after
    // the first line cannot make a later line fail; a closed stdout is not
    // a reason to stop serving.
    let data_dir = server.data_dir().map_or_else(
        || "none (in memory)".to_owned(),
        |dir| dir.display().to_string(),
    );
    let banner = format!(
        "pubnub-dev-server listening; use origin {} with ssl=false\nconsole: {}\ndata dir: {data_dir}\n",
        server.origin(),
        console_url(server.addr()),
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    stop_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM (what `docker stop` and service managers send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(error) => eprintln!("pubnub-dev-server: cannot wait for SIGTERM ({error})"),
        }
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("pubnub-dev-server: cannot wait for Ctrl-C ({error}); stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::{console_url, parse_bytes};

    #[test]
    fn the_console_url_names_a_reachable_host() {
        assert_eq!(
            console_url("127.0.0.1:8090".parse().unwrap()),
            "http://127.0.0.1:8090/console"
        );
        assert_eq!(
            console_url("0.0.0.0:8090".parse().unwrap()),
            "http://127.0.0.1:8090/console"
        );
        assert_eq!(
            console_url("[::]:8090".parse().unwrap()),
            "http://[::1]:8090/console"
        );
    }

    #[test]
    fn sizes_take_binary_suffixes_and_refuse_the_rest() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("64 kb"), Ok(64 << 10));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        for bad in ["", "MiB", "12 parsecs", "-1", "99999999999999999999"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
