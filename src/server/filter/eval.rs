//! Evaluates a parsed [`Condition`] against one message, without allocating.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::Value;

use super::ast::{ArithOp, CmpOp, Condition, Field, Literal, Num, Operand, Root, Segment};
use super::FilterContext;

/// A value during evaluation, borrowed from the expression or the message.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    /// Absent field, JSON `null`, or a failed arithmetic result.
    Missing,
    Bool(bool),
    Num(Num),
    Str(&'a str),
    /// A JSON array field: acts as a set for `LIKE` and `CONTAINS`.
    Array(&'a [Value]),
    /// A set literal; members are evaluated on demand.
    Set(&'a [Operand]),
    /// A JSON object field: compares with nothing.
    Object,
}

impl<'a> Val<'a> {
    fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Val::Missing,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Num::from_json(n).map_or(Val::Missing, Val::Num),
            Value::String(s) => Val::Str(s),
            Value::Array(items) => Val::Array(items),
            Value::Object(_) => Val::Object,
        }
    }
}

/// Whether `condition` holds for the message in `ctx`.
pub(super) fn condition(condition: &Condition, ctx: &FilterContext<'_>) -> bool {
    match condition {
        Condition::All(items) => items.iter().all(|item| self::condition(item, ctx)),
        Condition::Any(items) => items.iter().any(|item| self::condition(item, ctx)),
        Condition::Not(inner) => !self::condition(inner, ctx),
        Condition::Compare(op, lhs, rhs) => compare(*op, value(lhs, ctx), value(rhs, ctx), ctx),
    }
}

fn compare(op: CmpOp, lhs: Val<'_>, rhs: Val<'_>, ctx: &FilterContext<'_>) -> bool {
    match op {
        CmpOp::Eq => equal(lhs, rhs) == Some(true),
        CmpOp::Ne => equal(lhs, rhs) == Some(false),
        CmpOp::Lt => order(lhs, rhs) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(lhs, rhs), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(lhs, rhs) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(lhs, rhs), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Like => like(lhs, rhs, ctx),
        CmpOp::Contains => contains(lhs, rhs, ctx),
    }
}

/// `Some(equal?)` for two numbers, two strings or two booleans; `None`
/// (neither `==` nor `!=` holds) for anything else.
fn equal(lhs: Val<'_>, rhs: Val<'_>) -> Option<bool> {
    match (lhs, rhs) {
        (Val::Num(a), Val::Num(b)) => Some(a.compare(b) == Some(Ordering::Equal)),
        (Val::Str(a), Val::Str(b)) => Some(a == b),
        (Val::Bool(a), Val::Bool(b)) => Some(a == b),
        _ => None,
    }
}

/// Numbers in numeric order, strings in code-point order, nothing else.
fn order(lhs: Val<'_>, rhs: Val<'_>) -> Option<Ordering> {
    match (lhs, rhs) {
        (Val::Num(a), Val::Num(b)) => a.compare(b),
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn like(lhs: Val<'_>, pattern: Val<'_>, ctx: &FilterContext<'_>) -> bool {
    let Val::Str(pattern) = pattern else {
        return false;
    };
    match lhs {
        Val::Str(text) => like_match(text, pattern),
        Val::Array(items) => items
            .iter()
            .any(|item| matches!(item, Value::String(text) if like_match(text, pattern))),
        Val::Set(members) => members.iter().any(
            |member| matches!(value(member, ctx), Val::Str(text) if like_match(text, pattern)),
        ),
        _ => false,
    }
}

fn contains(lhs: Val<'_>, needle: Val<'_>, ctx: &FilterContext<'_>) -> bool {
    match (lhs, needle) {
        (Val::Str(text), Val::Str(needle)) => text.contains(needle),
        (Val::Str(text), Val::Num(number)) => {
            let mut decimal = StackText::new();
            write!(decimal, "{number}").is_ok() && text.contains(decimal.as_str())
        }
        (Val::Array(items), needle) => items
            .iter()
            .any(|item| equal(Val::from_json(item), needle) == Some(true)),
        (Val::Set(members), needle) => members
            .iter()
            .any(|member| equal(value(member, ctx), needle) == Some(true)),
        _ => false,
    }
}

fn value<'a>(operand: &'a Operand, ctx: &FilterContext<'a>) -> Val<'a> {
    match operand {
        Operand::Literal(Literal::Str(text)) => Val::Str(text),
        Operand::Literal(Literal::Num(number)) => Val::Num(*number),
        Operand::Literal(Literal::Bool(b)) => Val::Bool(*b),
        Operand::Field(field) => resolve(field, ctx),
        Operand::Neg(inner) => match value(inner, ctx) {
            Val::Num(n) => n.negate().map_or(Val::Missing, Val::Num),
            _ => Val::Missing,
        },
        Operand::BitNot(inner) => match value(inner, ctx) {
            Val::Num(n) => n
                .as_integer()
                .map_or(Val::Missing, |i| Val::Num(Num::Int(!i))),
            _ => Val::Missing,
        },
        Operand::Arith(op, lhs, rhs) => match (value(lhs, ctx), value(rhs, ctx)) {
            (Val::Num(a), Val::Num(b)) => arith(*op, a, b).map_or(Val::Missing, Val::Num),
            _ => Val::Missing,
        },
        Operand::Set(members) => Val::Set(members),
    }
}

/// Integer arithmetic while it stays exact, `f64` otherwise; `None` for
/// division by zero, non-finite results and bitwise operators on
/// non-integers.
fn arith(op: ArithOp, a: Num, b: Num) -> Option<Num> {
    let ints = match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some((x, y)),
        _ => None,
    };
    let (x, y) = (a.as_f64(), b.as_f64());
    match op {
        ArithOp::Add => ints
            .and_then(|(i, j)| i.checked_add(j))
            .map(Num::Int)
            .or_else(|| Num::float(x + y)),
        ArithOp::Sub => ints
            .and_then(|(i, j)| i.checked_sub(j))
            .map(Num::Int)
            .or_else(|| Num::float(x - y)),
        ArithOp::Mul => ints
            .and_then(|(i, j)| i.checked_mul(j))
            .map(Num::Int)
            .or_else(|| Num::float(x * y)),
        ArithOp::Div if y == 0.0 => None,
        ArithOp::Div => ints
            .filter(|&(i, j)| i.checked_rem(j) == Some(0))
            .and_then(|(i, j)| i.checked_div(j))
            .map(Num::Int)
            .or_else(|| Num::float(x / y)),
        ArithOp::BitAnd => Some(Num::Int(a.as_integer()? & b.as_integer()?)),
        ArithOp::BitOr => Some(Num::Int(a.as_integer()? | b.as_integer()?)),
        ArithOp::BitXor => Some(Num::Int(a.as_integer()? ^ b.as_integer()?)),
    }
}

fn resolve<'a>(field: &'a Field, ctx: &FilterContext<'a>) -> Val<'a> {
    let base = match field.root {
        Root::Data => ctx.data,
        Root::Meta | Root::Bare => ctx.meta,
    };
    if let Some(found) = base.and_then(|base| walk(base, &field.path)) {
        return Val::from_json(found);
    }
    // Only single bare words carry fallbacks, and for those "not found"
    // means meta has no such key.
    if field.publisher_fallback {
        if let Some(publisher) = ctx.publisher {
            return Val::Str(publisher);
        }
    }
    match field.bare_word() {
        Some(word) if field.word_fallback => Val::Str(word),
        _ => Val::Missing,
    }
}

fn walk<'a>(mut current: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    for segment in path {
        current = match current {
            Value::Object(map) => map.get(&segment.key)?,
            Value::Array(items) => items.get(segment.index?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// One step of a `LIKE` pattern.
enum PatternStep {
    /// `*`: any run of characters, possibly empty.
    Any,
    /// One character, compared case-insensitively.
    Char(char),
}

/// The pattern step at byte `at` and the byte after it.
fn pattern_step(pattern: &str, at: usize) -> Option<(PatternStep, usize)> {
    let mut chars = pattern.get(at..)?.chars();
    let step = match chars.next()? {
        '*' => (PatternStep::Any, at + 1),
        '\\' => match chars.next() {
            Some(escaped @ ('*' | '\\')) => (PatternStep::Char(escaped), at + 2),
            _ => (PatternStep::Char('\\'), at + 1),
        },
        c => (PatternStep::Char(c), at + c.len_utf8()),
    };
    Some(step)
}

fn same_letter(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Whether all of `text` matches `pattern`, ignoring case: `*` matches any
/// run of characters (anywhere in the pattern), `\*` a literal asterisk and
/// `\\` a literal backslash; every other character matches itself.
///
/// Greedy matching that backs up to the last `*` on a mismatch: no
/// allocation, at worst O(text × pattern) steps.
pub(super) fn like_match(text: &str, pattern: &str) -> bool {
    let (mut p, mut t) = (0, 0);
    // Pattern position after the last `*`, and where in the text that `*`'s
    // current match ends.
    let mut resume: Option<(usize, usize)> = None;
    while let Some(c) = text.get(t..).and_then(|rest| rest.chars().next()) {
        match pattern_step(pattern, p) {
            Some((PatternStep::Any, next)) => {
                resume = Some((next, t));
                p = next;
                continue;
            }
            Some((PatternStep::Char(expected), next)) if same_letter(expected, c) => {
                p = next;
                t += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((after_star, star_end)) = resume else {
            return false;
        };
        // Let the `*` swallow one more character and retry from there.
        let Some(swallowed) = text.get(star_end..).and_then(|rest| rest.chars().next()) else {
            return false;
        };
        let star_end = star_end + swallowed.len_utf8();
        resume = Some((after_star, star_end));
        p = after_star;
        t = star_end;
    }
    while let Some((PatternStep::Any, next)) = pattern_step(pattern, p) {
        p = next;
    }
    p >= pattern.len()
}

/// A fixed stack buffer for a number's decimal text (no heap allocation).
/// 340 bytes hold any `f64` as `Display` writes it (at most ~330).
struct StackText {
    bytes: [u8; 340],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        Self {
            bytes: [0; 340],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_wildcards_anywhere_ignoring_case() {
        let cases = [
            ("Anne", "ann*", true),
            ("ann", "ann*", true),
            ("an", "ann*", false),
            ("Joanne", "*ann*", true),
            ("Joanne", "*ANNE", true),
            ("Joanne", "j*e", true),
            ("Joanne", "j*x", false),
            ("abcabc", "*b*c", true),
            ("abcabd", "*b*c", false),
            ("", "*", true),
            ("", "", true),
            ("x", "", false),
            ("", "a", false),
            ("match*", "match\\*", true),
            ("matchbox", "match\\*", false),
            ("a\\b", "a\\\\b", true),
            ("a\\b", "a\\b", true),
            ("ÉCOLE", "éc*", true),
            ("straße", "STRASSE", false),
            ("aaaaaaaaab", "*a*a*a*b", true),
            ("aaaaaaaaaa", "*a*a*a*b", false),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(
                like_match(text, pattern),
                expected,
                "{text:?} LIKE {pattern:?}"
            );
        }
    }

    #[test]
    fn contains_uses_the_numbers_decimal_text() {
        let ctx = FilterContext {
            meta: None,
            data: None,
            publisher: None,
            channel: "c",
        };
        let hit = |text, number| contains(Val::Str(text), Val::Num(number), &ctx);
        assert!(hit("room-42", Num::Int(42)));
        assert!(hit("t=-3", Num::Int(-3)));
        assert!(hit("pi 3.5", Num::Float(3.5)));
        assert!(!hit("room-42", Num::Int(43)));
        assert!(hit(&format!("1{}", "0".repeat(300)), Num::Float(1e300)));
    }

    #[test]
    fn arithmetic_stays_exact_on_integers() {
        assert_eq!(
            arith(ArithOp::Div, Num::Int(7), Num::Int(2)),
            Some(Num::Float(3.5))
        );
        assert_eq!(
            arith(ArithOp::Div, Num::Int(8), Num::Int(2)),
            Some(Num::Int(4))
        );
        assert_eq!(arith(ArithOp::Div, Num::Int(1), Num::Int(0)), None);
        assert_eq!(
            arith(ArithOp::Div, Num::Int(i64::MIN), Num::Int(-1)),
            Some(Num::Float(9_223_372_036_854_775_808.0))
        );
        assert_eq!(
            arith(ArithOp::Add, Num::Int(i64::MAX), Num::Int(1)),
            Some(Num::Float(9_223_372_036_854_775_808.0))
        );
        assert_eq!(
            arith(ArithOp::BitXor, Num::Int(6), Num::Float(3.0)),
            Some(Num::Int(5))
        );
        assert_eq!(arith(ArithOp::BitAnd, Num::Float(1.5), Num::Int(1)), None);
        assert_eq!(
            arith(ArithOp::Mul, Num::Float(1e300), Num::Float(1e300)),
            None
        );
    }
}
