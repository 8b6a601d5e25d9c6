//! PubNub subscribe filter expressions (`filter-expr`).
//!
//! A subscriber sends one expression with each subscribe; the server keeps a
//! message for that subscriber only when the expression is true for it.
//! Parse once with [`FilterExpr::parse`], then call [`FilterExpr::matches`]
//! per message: evaluation does not allocate.
//!
//! ```
//! use pubnub_rx::server::filter::{FilterContext, FilterExpr};
//! use serde_json::json;
//!
//! let filter = FilterExpr::parse(r#"meta.priority == "high" && data.score > 80"#)?;
//! let meta = json!({"priority": "high"});
//! let data = json!({"score": 93});
//! let ctx = FilterContext { meta: Some(&meta), data: Some(&data), publisher: None, channel: "scores" };
//! assert!(filter.matches(&ctx));
//! # Ok::<(), pubnub_rx::server::filter::FilterError>(())
//! ```
//!
//! # Language
//!
//! **Operands**
//! - `meta.a.b`, `meta["odd key"]`, `meta.user["role"]`, `meta.tags[0]`: a
//!   field of the publisher's `meta` object. `[…]` takes a quoted key or an
//!   integer; an integer (also `.0`, or a digits-only quoted key) indexes an
//!   array and names a key of an object.
//! - `data.…`: the same for the message payload.
//! - A bare identifier `x` (or path `x.y`) means `meta.x` (`meta.x.y`). A
//!   single bare word has two fallbacks when `meta` has no such key:
//!   - `uuid` and `publisher` resolve to the publisher's id
//!     ([`FilterContext::publisher`]). The classic "skip my own messages"
//!     filter `uuid != 'me'` thus works without the publisher copying its
//!     uuid into `meta` (which the old docs required). The current PubNub
//!     reference exposes no publisher id to filters; this is a dev-server
//!     convenience that only applies when `meta.uuid` is absent.
//!   - A word on the *right* of a comparison stands for itself as a string,
//!     so `language != spanish` (as in the Go SDK's own test) compares with
//!     `'spanish'`.
//!
//!   `meta` and `data` are root names only when followed by `.` or `[`;
//!   alone they are an error. Field names are case-sensitive.
//! - Strings in `'single'` or `"double"` quotes. Escapes `\\ \' \" \/ \n \r
//!   \t \b \f \uXXXX` are decoded; any other backslash pair is kept as
//!   written (so a `LIKE` pattern still sees `\*`).
//! - Numbers: `42`, `-7`, `2.5`, `1e6`. Integers that fit `i64` stay exact.
//! - `true`, `false` (any case).
//! - Sets `('a', 'b', 3)`, only on the left of `LIKE` or `CONTAINS`.
//!
//! **Operators**, tightest first (parenthesise when in doubt):
//!
//! | Level | Operators |
//! | --- | --- |
//! | unary | `!` (on a condition: write `!(…)`), `-`, `~` |
//! | arithmetic | `* /`, then `+ -`, then `&`, then `^`, then `\|` (older spec) |
//! | comparison | `== != < <= > >= LIKE CONTAINS` (keywords in any case; not chainable) |
//! | and | `&&` (left-associative) |
//! | or | `\|\|` (left-associative) |
//!
//! # Semantics
//!
//! PubNub documents none of these edge cases; this is what the dev server
//! does.
//! - **Missing fields.** A comparison that reads a missing field (absent key,
//!   `meta`/payload absent or not an object, JSON `null`) is false, `!=`
//!   included. `!` is plain negation, so `!(meta.x == 1)` is true when `x`
//!   is missing while `meta.x != 1` is false.
//! - **`==` / `!=`** hold only between two numbers (compared numerically:
//!   `1 == 1.0`), two strings (exact, case-sensitive) or two booleans. Any
//!   other pair (`'1' == 1`, objects, arrays) makes both false.
//! - **`< <= > >=`** compare two numbers, or two strings by Unicode code
//!   point; any other pair is false.
//! - **`LIKE`** needs a string pattern on the right. It matches the *whole*
//!   left string ignoring case; `*` matches any run of characters anywhere
//!   in the pattern, `\*` a literal asterisk, `\\` a literal backslash. A set
//!   or JSON array on the left matches when any string member matches.
//! - **`CONTAINS`** with a string on the left is a case-sensitive substring
//!   test; a number on the right is searched as its shortest decimal text
//!   (`42`, `-3`, `0.5`; `1.0` is `1`). With a set or JSON array on the left
//!   it is a membership test using `==`.
//! - **Arithmetic** works on numbers only (no string concatenation); integer
//!   results stay exact, `/` yields a fraction when it does not divide, and
//!   division by zero, overflow to infinity, or `& | ^ ~` on a non-integer
//!   give no value (so the comparison is false).
//! - The publisher's channel ([`FilterContext::channel`]) is not readable,
//!   as in the current PubNub reference.
//!
//! # Errors and limits
//!
//! [`FilterExpr::parse`] never panics. It rejects, with the byte offset of the
//! problem: bad syntax, an empty expression, expressions longer than
//! [`MAX_EXPRESSION_LEN`] bytes, and nesting (parentheses, unary operators or
//! expression tree height) deeper than [`MAX_NESTING`]. What a server does
//! with a rejected filter is its choice (PubNub reportedly delivers nothing).

mod ast;
mod eval;
mod lexer;
mod parser;

use std::fmt;

use serde_json::Value;

/// The longest expression [`FilterExpr::parse`] accepts, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// The deepest nesting [`FilterExpr::parse`] accepts: open parentheses plus
/// unary operators around any point, and the height of the parsed tree.
pub const MAX_NESTING: usize = 64;

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

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    source: String,
    condition: ast::Condition,
}

impl FilterExpr {
    /// Parses an expression (already percent-decoded).
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming the byte offset and the problem when the
    /// expression is empty, longer than [`MAX_EXPRESSION_LEN`], nested deeper
    /// than [`MAX_NESTING`], or not a valid condition.
    pub fn parse(source: &str) -> Result<Self, FilterError> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(FilterError {
                position: MAX_EXPRESSION_LEN,
                message: format!(
                    "expression is {} bytes long; the limit is {MAX_EXPRESSION_LEN}",
                    source.len()
                ),
            });
        }
        if source.trim().is_empty() {
            return Err(FilterError {
                position: 0,
                message: "empty filter expression; omit filter-expr to receive every message"
                    .to_owned(),
            });
        }
        let condition = parser::parse(source)?;
        Ok(Self {
            source: source.to_owned(),
            condition,
        })
    }

    /// The expression as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether a message passes the filter.
    pub fn matches(&self, ctx: &FilterContext<'_>) -> bool {
        eval::condition(&self.condition, ctx)
    }
}

impl fmt::Display for FilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
