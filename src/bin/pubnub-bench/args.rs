//! Command line: parsing (clap) and the checks clap cannot make.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Fan-out benchmark for PubNub-compatible origins: publishers, subscribers,
/// latency percentiles, loss accounting.
#[derive(Debug, Parser)]
#[command(name = "pubnub-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish N messages from P publishers over C channels to S subscribers
    /// and report throughput, latency and loss.
    Pubsub(PubSub),
}

/// `pubsub` options. Subscriber `i` listens on channel `i % channels`;
/// publisher `p` sends its `k`-th message to channel `(p + k) % channels`.
#[derive(Debug, Clone, Args)]
pub struct PubSub {
    /// Publishing clients.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Subscriptions; each is its own client (own long-poll) unless --shared-client.
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// Channels; subscriber i listens on channel i % channels (so at least one subscriber per channel).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Messages published in total, spread over the publishers [default: 10000,
    /// or rate x duration when both are given].
    #[arg(long)]
    pub messages: Option<u64>,
    /// Payload size in bytes (JSON text; at least the ~30-byte envelope).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Total publish rate in messages per second, shared by the publishers (default: as fast as answers come).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Stop publishing after this many seconds, even if --messages is not reached.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Publish requests each publisher keeps in flight (above 1, publish order itself is not defined).
    #[arg(long, default_value_t = 1)]
    pub inflight: usize,
    /// Put every subscription on one client (fan-out inside its multiplexer).
    #[arg(long)]
    pub shared_client: bool,
    /// Subscribe with presence (heartbeats and join/leave events).
    #[arg(long)]
    pub presence: bool,
    /// Encrypt and decrypt payloads with this cipher key.
    #[arg(long)]
    pub cipher_key: Option<String>,
    /// Seconds to wait for missing deliveries after the last publish; what is still missing then is lost.
    #[arg(long, default_value_t = 10.0)]
    pub drain_timeout: f64,
    /// Seconds to wait for every subscriber to connect.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout: f64,
    /// Events each subscription queues before it drops the oldest (and reports the loss).
    #[arg(long, default_value_t = 1024)]
    pub queue_capacity: usize,
    /// Origin (`host[:port]`, `http://host:port` or `https://host`) [env: PUBNUB_ORIGIN]; without keys the embedded dev server is used.
    #[arg(long)]
    pub origin: Option<String>,
    /// Subscribe key [env: PUBNUB_SUBSCRIBE_KEY].
    #[arg(long)]
    pub subscribe_key: Option<String>,
    /// Publish key [env: PUBNUB_PUBLISH_KEY].
    #[arg(long)]
    pub publish_key: Option<String>,
    /// Embedded dev server only: messages per subscribe answer (PubNub's is 100; older ones are lost).
    #[arg(long, default_value_t = 100)]
    pub server_queue_size: usize,
    /// Print one JSON object.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print a CSV header and one row.
    #[arg(long)]
    pub csv: bool,
}

/// Where the run publishes and subscribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded dev server, started in-process.
    Embedded,
    /// Any PubNub-compatible origin.
    Origin {
        host: String,
        ssl: bool,
        subscribe_key: String,
        publish_key: String,
    },
}

/// A checked run description.
#[derive(Debug, Clone)]
pub struct Plan {
    pub options: PubSub,
    pub messages: u64,
    pub rate: Option<f64>,
    pub duration: Option<Duration>,
    pub drain_timeout: Duration,
    pub connect_timeout: Duration,
    pub target: Target,
}

/// Environment variables the target falls back to.
pub const ENV_ORIGIN: &str = "PUBNUB_ORIGIN";
pub const ENV_SUBSCRIBE_KEY: &str = "PUBNUB_SUBSCRIBE_KEY";
pub const ENV_PUBLISH_KEY: &str = "PUBNUB_PUBLISH_KEY";

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} {value}: give a positive number of seconds"))
}

impl PubSub {
    /// Checks the options; `env` looks up an environment variable.
    pub fn plan(self, env: impl Fn(&str) -> Option<String>) -> Result<Plan, String> {
        for (name, value) in [
            ("publishers", self.publishers),
            ("subscribers", self.subscribers),
            ("channels", self.channels),
            ("inflight", self.inflight),
            ("queue-capacity", self.queue_capacity),
            ("server-queue-size", self.server_queue_size),
        ] {
            if value == 0 {
                return Err(format!("--{name} 0: give at least 1"));
            }
        }
        if self.subscribers < self.channels {
            return Err(format!(
                "--subscribers {} < --channels {}: every channel needs a subscriber (subscriber i listens on channel i % channels)",
                self.subscribers, self.channels
            ));
        }
        if self.publishers > u32::MAX as usize {
            return Err("--publishers: at most 4294967295".into());
        }
        let rate = match self.rate {
            Some(rate) if !(rate.is_finite() && rate > 0.0) => {
                return Err(format!(
                    "--rate {rate}: give a positive number of messages per second"
                ))
            }
            other => other,
        };
        let duration = self.duration.map(|d| seconds("duration", d)).transpose()?;
        let messages = match (self.messages, rate, duration) {
            (Some(0), _, _) => return Err("--messages 0: give at least 1".into()),
            (Some(n), _, _) => n,
            (None, Some(rate), Some(duration)) => {
                ((rate * duration.as_secs_f64()).ceil() as u64).max(1)
            }
            (None, _, _) => 10_000,
        };
        let drain_timeout = seconds("drain-timeout", self.drain_timeout)?;
        let connect_timeout = seconds("connect-timeout", self.connect_timeout)?;
        let origin = self.origin.clone().or_else(|| env(ENV_ORIGIN));
        let subscribe_key = self
            .subscribe_key
            .clone()
            .or_else(|| env(ENV_SUBSCRIBE_KEY));
        let publish_key = self.publish_key.clone().or_else(|| env(ENV_PUBLISH_KEY));
        let target = match (subscribe_key, publish_key) {
            (None, None) if origin.is_none() => Target::Embedded,
            (Some(subscribe_key), Some(publish_key)) => {
                let origin = origin.unwrap_or_else(|| "ps.pndsn.com".into());
                let (host, ssl) = if let Some(host) = origin.strip_prefix("http://") {
                    (host, false)
                } else if let Some(host) = origin.strip_prefix("https://") {
                    (host, true)
                } else {
                    (origin.as_str(), true)
                };
                Target::Origin {
                    host: host.trim_end_matches('/').to_owned(),
                    ssl,
                    subscribe_key,
                    publish_key,
                }
            }
            _ => {
                return Err(format!(
                    "an origin needs both keys: give --subscribe-key and --publish-key (or {ENV_SUBSCRIBE_KEY} and {ENV_PUBLISH_KEY}), or neither key and no origin for the embedded dev server"
                ))
            }
        };
        Ok(Plan {
            options: self,
            messages,
            rate,
            duration,
            drain_timeout,
            connect_timeout,
            target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> PubSub {
        let cli = Cli::try_parse_from(["pubnub-bench", "pubsub"].iter().chain(args)).unwrap();
        let Command::Pubsub(options) = cli.command;
        options
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn no_keys_means_the_embedded_server_and_defaults() {
        let plan = parse(&[]).plan(no_env).unwrap();
        assert_eq!(plan.target, Target::Embedded);
        assert_eq!(plan.messages, 10_000);
    }

    #[test]
    fn rate_times_duration_sets_the_message_count() {
        let plan = parse(&["--rate", "100", "--duration", "2.5"])
            .plan(no_env)
            .unwrap();
        assert_eq!(plan.messages, 250);
    }

    #[test]
    fn keys_come_from_flags_or_the_environment() {
        let env = |name: &str| match name {
            ENV_SUBSCRIBE_KEY => Some("sub-c-env".to_owned()),
            ENV_PUBLISH_KEY => Some("pub-c-env".to_owned()),
            ENV_ORIGIN => Some("http://127.0.0.1:8090/".to_owned()),
            _ => None,
        };
        let plan = parse(&[]).plan(env).unwrap();
        assert_eq!(
            plan.target,
            Target::Origin {
                host: "127.0.0.1:8090".into(),
                ssl: false,
                subscribe_key: "sub-c-env".into(),
                publish_key: "pub-c-env".into(),
            }
        );
        let plan = parse(&["--subscribe-key", "s", "--publish-key", "p"])
            .plan(no_env)
            .unwrap();
        assert!(
            matches!(plan.target, Target::Origin { ssl: true, ref host, .. } if host == "ps.pndsn.com")
        );
    }

    #[test]
    fn semantic_errors_say_what_to_change() {
        let cases: &[(&[&str], &str)] = &[
            (&["--subscribers", "0"], "--subscribers 0"),
            (
                &["--subscribers", "2", "--channels", "3"],
                "every channel needs a subscriber",
            ),
            (&["--messages", "0"], "--messages 0"),
            (&["--rate=-1"], "--rate"),
            (&["--duration", "0"], "--duration"),
            (&["--subscribe-key", "s"], "needs both keys"),
            (&["--origin", "example.com"], "needs both keys"),
        ];
        for (args, needle) in cases {
            let error = parse(args).plan(no_env).unwrap_err();
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }
}
