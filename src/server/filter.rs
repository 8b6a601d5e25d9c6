//! PubNub subscribe filter expressions (`filter-expr`).
//!
//! (stub: being written on the `filter` branch; until then every message matches)

use serde_json::Value;

/// What a filter expression can see of one message.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext<'a> {
    /// The publisher's `meta` object (envelope `u`), if any.
    pub meta: Option<&'a Value>,
    /// The message payload (envelope `d`).
    pub data: Option<&'a Value>,
    /// The publisher's uuid (envelope `i`), if any.
    pub publisher: Option<&'a str>,
    /// The channel the message was published on.
    pub channel: &'a str,
}

/// A parse error with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Byte offset into the expression.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid filter expression at byte {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for FilterError {}

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct FilterExpr {
    _source: String,
}

impl FilterExpr {
    /// Parses an expression.
    pub fn parse(source: &str) -> Result<Self, FilterError> {
        Ok(Self {
            _source: source.to_owned(),
        })
    }

    /// Whether a message passes the filter.
    pub fn matches(&self, _ctx: &FilterContext<'_>) -> bool {
        true
    }
}
