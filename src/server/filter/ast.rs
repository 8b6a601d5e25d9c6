//! The parsed form of a filter expression.

use std::cmp::Ordering;
use std::fmt;

/// 2^63: the first `f64` above `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// A number: integers stay exact, everything else is a finite `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    /// A JSON number; `u64` values above `i64::MAX` become floats.
    pub(super) fn from_json(number: &serde_json::Number) -> Option<Self> {
        number
            .as_i64()
            .map(Num::Int)
            .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(Num::Float))
    }

    /// A float result; `None` (no value) for NaN and infinities.
    pub(super) fn float(value: f64) -> Option<Self> {
        value.is_finite().then_some(Num::Float(value))
    }

    pub(super) fn as_f64(self) -> f64 {
        match self {
            // Exact up to 2^53, which is all a dev server's filters need.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The value as an `i64` when it is integral and in range (bitwise
    /// operators work on these only).
    pub(super) fn as_integer(self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(i),
            // In range and integral, so the cast is exact.
            Num::Float(f) if f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) => {
                Some(f as i64)
            }
            Num::Float(_) => None,
        }
    }

    /// Numeric order; ints compare exactly, mixed pairs as `f64`.
    pub(super) fn compare(self, other: Self) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    pub(super) fn negate(self) -> Option<Self> {
        match self {
            Num::Int(i) => Some(i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int)),
            Num::Float(f) => Num::float(-f),
        }
    }
}

/// Shortest decimal text: `3`, `-2`, `0.5`, `1e21` is written out in full.
impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A literal written in the expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Num(Num),
    Bool(bool),
}

/// Where a field path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    /// `meta.…`: the publisher's meta object.
    Meta,
    /// `data.…`: the message payload.
    Data,
    /// A bare identifier: looked up in meta, with fallbacks.
    Bare,
}

/// One step of a field path: an object key, which may also index an array
/// when it is a plain non-negative integer (`tags[0]`, `tags.0`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Segment {
    pub(super) key: String,
    pub(super) index: Option<usize>,
}

/// A field reference such as `meta.user["role"]` or bare `region`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Field {
    pub(super) root: Root,
    /// Never empty.
    pub(super) path: Vec<Segment>,
    /// Bare `uuid` / `publisher`: falls back to the publisher id.
    pub(super) publisher_fallback: bool,
    /// A bare single word on the right of a comparison: falls back to its
    /// own name as a string (`language != spanish`).
    pub(super) word_fallback: bool,
}

impl Field {
    /// The single bare word, if this field is one (`region`, not `a.b`).
    pub(super) fn bare_word(&self) -> Option<&str> {
        match (self.root, self.path.as_slice()) {
            (Root::Bare, [only]) => Some(&only.key),
            _ => None,
        }
    }
}

/// Arithmetic and bitwise operators (older spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    BitAnd,
    BitOr,
    BitXor,
}

/// Something that evaluates to a value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Literal(Literal),
    Field(Field),
    Neg(Box<Operand>),
    BitNot(Box<Operand>),
    Arith(ArithOp, Box<Operand>, Box<Operand>),
    /// `(a, b, c)`; the parser allows it only left of `LIKE` / `CONTAINS`.
    Set(Vec<Operand>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Contains,
}

/// Something that evaluates to true or false.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Condition {
    /// `a && b && …` (flattened).
    All(Vec<Condition>),
    /// `a || b || …` (flattened).
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare(CmpOp, Operand, Operand),
}
