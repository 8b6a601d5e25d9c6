//! The end-of-run report: a human summary, one JSON object or CSV
//! (header + one row), all from the same fields.

use std::collections::BTreeMap;

use serde::Serialize;

/// Everything a run measured. Latencies are microseconds, publish to receive.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// `embedded` (in-process dev server) or the origin used.
    pub target: String,
    /// Publishing clients.
    pub publishers: usize,
    /// Subscriptions (each its own client unless `shared_client`).
    pub subscribers: usize,
    /// Channels the messages are spread over.
    pub channels: usize,
    /// Whether every subscription shares one client.
    pub shared_client: bool,
    /// Payload size in bytes.
    pub size: usize,
    /// Messages published successfully.
    pub published: u64,
    /// Publish requests that failed.
    pub publish_errors: u64,
    /// Deliveries owed: every published message once to every subscriber of its channel.
    pub expected: u64,
    /// Distinct messages delivered, summed over subscribers.
    pub delivered: u64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
    /// Deliveries of a message the subscriber already had.
    pub duplicates: u64,
    /// Deliveries after a later message of the same publisher.
    pub out_of_order: u64,
    /// Deliveries that were not bench payloads.
    pub malformed: u64,
    /// Seconds from the first publish to the last publish answer.
    pub publish_secs: f64,
    /// Publishes per second.
    pub publish_msgs_per_sec: f64,
    /// Seconds from the first publish to the last delivery.
    pub delivery_secs: f64,
    /// Deliveries per second (over all subscribers).
    pub msgs_per_sec: f64,
    /// Delivered payload megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Median latency (µs).
    pub p50: u64,
    /// 90th percentile latency (µs).
    pub p90: u64,
    /// 99th percentile latency (µs).
    pub p99: u64,
    /// 99.9th percentile latency (µs).
    pub p999: u64,
    /// Highest latency (µs).
    pub max: u64,
    /// CPU seconds of the client side (publishers, subscribers, the bench) while publishing and draining.
    pub client_cpu_secs: f64,
    /// CPU seconds of the embedded dev server's threads over the same span (0 against an origin).
    pub server_cpu_secs: f64,
    /// Peak resident memory of the process, MiB (server included when embedded).
    pub peak_rss_mib: f64,
    /// Events the clients reported lost on `MessagesLost` statuses.
    pub reported_lost: u64,
    /// Statuses other than connected/heartbeat-ok that the clients emitted, by category.
    pub statuses: BTreeMap<String, u64>,
    /// Stopped by Ctrl-C before the end.
    pub interrupted: bool,
}

impl Report {
    /// `(name, value)` pairs in report order; the names are the JSON keys.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let statuses = self
            .statuses
            .iter()
            .map(|(category, count)| format!("{category}={count}"))
            .collect::<Vec<_>>()
            .join(";");
        vec![
            ("target", self.target.clone()),
            ("publishers", self.publishers.to_string()),
            ("subscribers", self.subscribers.to_string()),
            ("channels", self.channels.to_string()),
            ("shared_client", self.shared_client.to_string()),
            ("size", self.size.to_string()),
            ("published", self.published.to_string()),
            ("publish_errors", self.publish_errors.to_string()),
            ("expected", self.expected.to_string()),
            ("delivered", self.delivered.to_string()),
            ("lost", self.lost.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("out_of_order", self.out_of_order.to_string()),
            ("malformed", self.malformed.to_string()),
            ("publish_secs", format!("{:.3}", self.publish_secs)),
            (
                "publish_msgs_per_sec",
                format!("{:.0}", self.publish_msgs_per_sec),
            ),
            ("delivery_secs", format!("{:.3}", self.delivery_secs)),
            ("msgs_per_sec", format!("{:.0}", self.msgs_per_sec)),
            ("mb_per_sec", format!("{:.2}", self.mb_per_sec)),
            ("p50", self.p50.to_string()),
            ("p90", self.p90.to_string()),
            ("p99", self.p99.to_string()),
            ("p999", self.p999.to_string()),
            ("max", self.max.to_string()),
            ("client_cpu_secs", format!("{:.2}", self.client_cpu_secs)),
            ("server_cpu_secs", format!("{:.2}", self.server_cpu_secs)),
            ("peak_rss_mib", format!("{:.1}", self.peak_rss_mib)),
            ("reported_lost", self.reported_lost.to_string()),
            ("statuses", statuses),
            ("interrupted", self.interrupted.to_string()),
        ]
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!(r#"{{"error":"{error}"}}"#))
    }

    /// A CSV header line and one row (RFC 4180 quoting where needed).
    pub fn to_csv(&self) -> String {
        let fields = self.fields();
        let header = fields.iter().map(|(name, _)| *name).collect::<Vec<_>>();
        let row = fields
            .iter()
            .map(|(_, value)| csv_cell(value))
            .collect::<Vec<_>>();
        format!("{}\n{}\n", header.join(","), row.join(","))
    }

    /// The summary for a person.
    pub fn to_text(&self) -> String {
        let clients = if self.shared_client {
            "one shared client"
        } else {
            "one client each"
        };
        let mut text = format!(
            "pubnub-bench pubsub against {}: {} publisher(s) -> {} subscriber(s) ({clients}) on {} channel(s), {} B payloads\n",
            self.target, self.publishers, self.subscribers, self.channels, self.size
        );
        text += &format!(
            "  publish   {} msgs in {:.2} s = {:.0} msgs/s ({} errors)\n",
            self.published, self.publish_secs, self.publish_msgs_per_sec, self.publish_errors
        );
        text += &format!(
            "  delivery  {} of {} in {:.2} s = {:.0} msgs/s, {:.2} MB/s\n",
            self.delivered, self.expected, self.delivery_secs, self.msgs_per_sec, self.mb_per_sec
        );
        text += &format!(
            "  latency   p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us\n",
            self.p50, self.p90, self.p99, self.p999, self.max
        );
        text += &format!(
            "  integrity lost {}, duplicates {}, out of order {}, malformed {}; clients reported {} lost\n",
            self.lost, self.duplicates, self.out_of_order, self.malformed, self.reported_lost
        );
        text += &format!(
            "  resources client CPU {:.2} s, server CPU {:.2} s, peak RSS {:.1} MiB\n",
            self.client_cpu_secs, self.server_cpu_secs, self.peak_rss_mib
        );
        if !self.statuses.is_empty() {
            let statuses = self
                .fields()
                .into_iter()
                .find(|(name, _)| *name == "statuses");
            text += &format!(
                "  statuses  {}\n",
                statuses.map(|(_, v)| v).unwrap_or_default()
            );
        }
        if self.interrupted {
            text += "  interrupted by Ctrl-C: figures cover the run so far\n";
        }
        text
    }
}

fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', ';']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            target: "embedded".into(),
            publishers: 2,
            subscribers: 50,
            channels: 1,
            size: 128,
            published: 2000,
            expected: 100_000,
            delivered: 99_990,
            lost: 10,
            duplicates: 1,
            p50: 800,
            p99: 5000,
            statuses: BTreeMap::from([("MessagesLost".into(), 2), ("Reconnected".into(), 1)]),
            ..Report::default()
        }
    }

    #[test]
    fn json_is_one_object_with_the_field_names_as_keys() {
        let report = sample();
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let object = value.as_object().unwrap();
        let names: Vec<_> = report.fields().into_iter().map(|(name, _)| name).collect();
        assert_eq!(object.len(), names.len());
        for name in names {
            assert!(object.contains_key(name), "{name} missing");
        }
        assert_eq!(object["delivered"], 99_990);
        assert_eq!(object["lost"], 10);
        assert_eq!(object["statuses"]["MessagesLost"], 2);
    }

    #[test]
    fn csv_is_a_header_and_one_row_of_the_same_width() {
        let csv = sample().to_csv();
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[0].starts_with("target,publishers,subscribers,channels,"));
        assert!(lines[0].contains(",delivered,lost,duplicates,"));
        assert!(
            lines[1].contains(r#","MessagesLost=2;Reconnected=1","#),
            "the status list is quoted: {}",
            lines[1]
        );
        let cells = |line: &str| line.split(',').count();
        assert_eq!(cells(lines[0]), cells(lines[1]));
    }

    #[test]
    fn csv_quotes_what_would_break_a_row() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn text_names_loss_and_statuses() {
        let text = sample().to_text();
        assert!(text.contains("lost 10, duplicates 1"), "{text}");
        assert!(text.contains("99990 of 100000"), "{text}");
        assert!(text.contains("MessagesLost=2;Reconnected=1"), "{text}");
        assert!(!text.contains("interrupted"));
    }
}
