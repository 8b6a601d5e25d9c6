//! `pubnub-bench`: fan-out benchmark against the embedded dev server or any
//! PubNub-compatible origin (feature `bench-cli`).
//!
//! ```text
//! pubnub-bench pubsub --publishers 2 --subscribers 50 --messages 2000 --json
//! pubnub-bench pubsub --subscribers 1000 --channels 10 --shared-client --rate 500 --duration 10
//! PUBNUB_SUBSCRIBE_KEY=sub-c-... PUBNUB_PUBLISH_KEY=pub-c-... pubnub-bench pubsub --subscribers 10
//! ```
//!
//! Without keys it starts the embedded dev server in-process (on its own
//! runtime threads, so its CPU time is reported apart from the client's).
//! Subscriber `i` listens on channel `i % channels`; every subscriber must
//! get every message of its channel once. Exit codes: 0 after a run (look
//! at `lost`/`duplicates` in the report), 1 when the run could not happen
//! (e.g. subscribers never connected), 2 for bad arguments.

mod args;
mod report;
mod run;
mod tally;
mod usage;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use pubnub_rx::server::{DevServer, DevServerConfig};

use args::{Cli, Command, Plan, Target};

/// Sockets per subscriber client and publisher (long-poll, publish/leave),
/// plus room for the server's side of every connection and the runtime.
fn wanted_open_files(plan: &Plan) -> u64 {
    let clients = if plan.options.shared_client {
        1
    } else {
        plan.options.subscribers
    };
    let clients = (clients + plan.options.publishers * plan.options.inflight) as u64;
    clients * 4 + 256
}

fn raise_open_files(wanted: u64) {
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit >= wanted => {}
        Ok(limit) => eprintln!(
            "pubnub-bench: warning: only {limit} open files allowed, the run wants about {wanted}; raise the hard limit (`ulimit -Hn`) if connections fail"
        ),
        Err(error) => eprintln!("pubnub-bench: warning: cannot raise the open-files limit ({error})"),
    }
}

fn runtime(name: &'static str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
}

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    let Command::Pubsub(options) = command;
    let plan = match options.plan(|name| std::env::var(name).ok()) {
        Ok(plan) => plan,
        Err(message) => Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, message)
            .exit(),
    };
    raise_open_files(wanted_open_files(&plan));
    let client_runtime = match runtime("pn-bench-client") {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pubnub-bench: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let quiet = plan.options.json || plan.options.csv;
    let result = match &plan.target {
        Target::Embedded => run_embedded(&plan, &client_runtime, quiet),
        Target::Origin { host, .. } => {
            client_runtime.block_on(run::run(&plan, host, |_| async {}, quiet))
        }
    };
    match result {
        Ok(report) => {
            if plan.options.json {
                println!("{}", report.to_json());
            } else if plan.options.csv {
                print!("{}", report.to_csv());
            } else {
                print!("{}", report.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pubnub-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the dev server on its own runtime, runs the benchmark on the
/// client runtime, then stops the server.
fn run_embedded(
    plan: &Plan,
    client_runtime: &tokio::runtime::Runtime,
    quiet: bool,
) -> Result<report::Report, String> {
    let server_runtime = runtime(usage::SERVER_THREAD)
        .map_err(|error| format!("cannot start the server runtime: {error}"))?;
    let config = DevServerConfig::default()
        .with_queue_size(plan.options.server_queue_size)
        .with_hold(Duration::from_secs(60));
    let server = server_runtime
        .block_on(DevServer::start(config))
        .map_err(|error| format!("cannot start the embedded dev server: {error}"))?;
    let origin = server.origin();
    let result = client_runtime.block_on(run::run(
        plan,
        &origin,
        |polls| server.wait_for_parked(polls),
        quiet,
    ));
    server_runtime.block_on(server.shutdown());
    result
}
