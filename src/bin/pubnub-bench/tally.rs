//! Per-subscriber accounting: what arrived, once, in order, and how late.
//!
//! Every published payload carries its publisher's index and a sequence
//! number that counts that publisher's messages over all channels, so one
//! subscriber (which sees one channel) sees an increasing subsequence of
//! each publisher's numbers. A number seen twice is a duplicate; a number
//! below the highest seen from the same publisher arrived out of order.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The JSON a publisher sends: publisher, sequence, send time and padding.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payload<'a> {
    /// Publisher index.
    pub p: u32,
    /// Sequence number within the publisher (0-based).
    pub s: u64,
    /// Send time: microseconds since the run's clock started.
    pub t: u64,
    /// Padding up to `--size` bytes.
    #[serde(borrow)]
    pub x: &'a str,
}

/// Decimal digits of `n`.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl<'a> Payload<'a> {
    /// A payload whose JSON is `size` bytes long (or as short as it can be,
    /// when `size` is below the envelope's own length); `padding` must hold
    /// at least `size` ASCII bytes.
    pub fn padded(p: u32, s: u64, t: u64, size: usize, padding: &'a str) -> Self {
        // `{"p":` `,"s":` `,"t":` `,"x":""}` around the three numbers.
        let envelope = 23 + digits(p.into()) + digits(s) + digits(t);
        let pad = size.saturating_sub(envelope).min(padding.len());
        Self {
            p,
            s,
            t,
            x: &padding[..pad],
        }
    }
}

/// What [`Tally::record`] made of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First time seen, in order.
    InOrder,
    /// First time seen, but after a later number from the same publisher.
    OutOfOrder,
    /// Seen before.
    Duplicate,
}

#[derive(Debug, Default)]
struct PublisherStream {
    /// Bit `s` set = sequence `s` seen.
    seen: Vec<u64>,
    highest: Option<u64>,
}

impl PublisherStream {
    /// Marks `s` seen; `false` when it already was.
    fn mark(&mut self, s: u64) -> bool {
        let (word, bit) = ((s / 64) as usize, s % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & (1 << bit) == 0;
        self.seen[word] |= 1 << bit;
        fresh
    }
}

/// One subscriber's counts.
#[derive(Debug, Default)]
pub struct Tally {
    streams: HashMap<u32, PublisherStream>,
    /// Deliveries, duplicates included.
    pub delivered: u64,
    /// Distinct messages delivered.
    pub unique: u64,
    /// Deliveries of a message already delivered.
    pub duplicates: u64,
    /// First deliveries that came after a later message of the same publisher.
    pub out_of_order: u64,
    /// Deliveries whose payload was not a bench payload.
    pub malformed: u64,
    /// Payload bytes delivered (JSON text as received).
    pub bytes: u64,
}

impl Tally {
    /// Counts one delivery of publisher `p`'s message `s`.
    pub fn record(&mut self, p: u32, s: u64) -> Outcome {
        self.delivered += 1;
        let stream = self.streams.entry(p).or_default();
        if !stream.mark(s) {
            self.duplicates += 1;
            return Outcome::Duplicate;
        }
        self.unique += 1;
        match stream.highest {
            Some(highest) if s < highest => {
                self.out_of_order += 1;
                Outcome::OutOfOrder
            }
            _ => {
                stream.highest = Some(s);
                Outcome::InOrder
            }
        }
    }

    /// Messages this subscriber should have had but did not get.
    pub fn lost(&self, expected: u64) -> u64 {
        expected.saturating_sub(self.unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_deliveries_count_once_each() {
        let mut tally = Tally::default();
        for s in [0, 2, 4, 6] {
            assert_eq!(tally.record(0, s), Outcome::InOrder);
        }
        assert_eq!(tally.record(1, 1), Outcome::InOrder, "publishers are apart");
        assert_eq!((tally.delivered, tally.unique), (5, 5));
        assert_eq!((tally.duplicates, tally.out_of_order), (0, 0));
        assert_eq!(tally.lost(5), 0);
        assert_eq!(tally.lost(8), 3);
    }

    #[test]
    fn a_repeat_is_a_duplicate_and_not_unique() {
        let mut tally = Tally::default();
        tally.record(3, 10);
        assert_eq!(tally.record(3, 10), Outcome::Duplicate);
        assert_eq!(tally.record(3, 200), Outcome::InOrder);
        assert_eq!(tally.record(3, 200), Outcome::Duplicate);
        assert_eq!((tally.delivered, tally.unique, tally.duplicates), (4, 2, 2));
        assert_eq!(tally.lost(3), 1);
    }

    #[test]
    fn a_late_first_delivery_is_out_of_order_but_not_lost() {
        let mut tally = Tally::default();
        tally.record(0, 0);
        tally.record(0, 5);
        assert_eq!(tally.record(0, 3), Outcome::OutOfOrder);
        assert_eq!(
            tally.record(0, 6),
            Outcome::InOrder,
            "highest stays 5, then 6"
        );
        assert_eq!(tally.record(0, 3), Outcome::Duplicate);
        assert_eq!(
            (tally.unique, tally.out_of_order, tally.duplicates),
            (4, 1, 1)
        );
        assert_eq!(tally.lost(4), 0);
    }

    #[test]
    fn lost_never_goes_negative() {
        let mut tally = Tally::default();
        tally.record(0, 0);
        tally.record(0, 1);
        assert_eq!(tally.lost(1), 0);
    }

    #[test]
    fn padded_payloads_are_exactly_the_asked_size() {
        let padding = "x".repeat(4096);
        for (p, s, t, size) in [
            (0, 0, 0, 64),
            (12, 99_999, 1_234_567, 1000),
            (1, 7, 42, 4096),
        ] {
            let json = serde_json::to_string(&Payload::padded(p, s, t, size, &padding)).unwrap();
            assert_eq!(json.len(), size, "{json}");
            let back: Payload<'_> = serde_json::from_str(&json).unwrap();
            assert_eq!((back.p, back.s, back.t), (p, s, t));
        }
        let tiny = serde_json::to_string(&Payload::padded(1, 2, 3, 5, &padding)).unwrap();
        assert_eq!(
            tiny, r#"{"p":1,"s":2,"t":3,"x":""}"#,
            "no padding below the envelope"
        );
    }
}
