//! Recursive-descent parser from tokens to a [`Condition`].
//!
//! One grammar covers conditions and values, since `(` can open a grouped
//! condition, a grouped value or a set; each parse function returns a
//! [`Node`] and the operator that consumes it checks its kind. Levels, from
//! loosest to tightest:
//!
//! ```text
//! or      := and ( "||" and )*
//! and     := compare ( "&&" compare )*
//! compare := arith [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" | LIKE | CONTAINS ) arith ]
//! arith   := "|" over "^" over "&" over ("+" | "-") over ("*" | "/"), all left-associative
//! unary   := ( "!" | "-" | "~" ) unary | primary
//! primary := literal | field | "(" or ")" | "(" or ( "," or )+ ")"
//! field   := ( "meta" | "data" ) segment+ | word segment*
//! segment := "." ( word | integer ) | "[" ( string | integer ) "]"
//! ```

use super::ast::{ArithOp, CmpOp, Condition, Field, Literal, Num, Operand, Root, Segment};
use super::lexer::{tokenize, Token, TokenKind};
use super::{FilterError, MAX_NESTING};

/// Parses a whole expression into the condition it states.
pub(super) fn parse(source: &str) -> Result<Condition, FilterError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: source.len(),
    };
    let parsed = parser.parse_or()?;
    if *parser.kind() != TokenKind::Eof {
        return Err(parser.unexpected("`&&`, `||` or the end of the expression"));
    }
    match parsed.node {
        Node::Cond(condition) => Ok(condition),
        Node::Value(_) => Err(error(
            parser.start(),
            "expected a comparison (==, !=, <, <=, >, >=, LIKE, CONTAINS) after this value; \
             a filter must be a condition such as meta.region == 'eu'",
        )),
    }
}

fn error(position: usize, message: impl Into<String>) -> FilterError {
    FilterError {
        position,
        message: message.into(),
    }
}

/// A parsed piece: a condition or a value.
enum Node {
    Cond(Condition),
    Value(Operand),
}

struct Parsed {
    node: Node,
    /// Byte offset of its first token.
    start: usize,
    /// Height of its tree (a leaf is 1); bounded by [`MAX_NESTING`] so that
    /// evaluating and dropping it cannot recurse deeply.
    height: usize,
}

struct Parser<'s> {
    tokens: Vec<Token<'s>>,
    pos: usize,
    /// Open parentheses and unary operators around the current position.
    depth: usize,
    end: usize,
}

impl<'s> Parser<'s> {
    fn kind(&self) -> &TokenKind<'s> {
        self.tokens
            .get(self.pos)
            .map_or(&TokenKind::Eof, |t| &t.kind)
    }

    fn start(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.start)
    }

    /// Takes the current token and moves past it (never past the end).
    fn bump(&mut self) -> Token<'s> {
        match self.tokens.get_mut(self.pos) {
            Some(token) => {
                self.pos += 1;
                Token {
                    kind: std::mem::replace(&mut token.kind, TokenKind::Eof),
                    start: token.start,
                }
            }
            None => Token {
                kind: TokenKind::Eof,
                start: self.end,
            },
        }
    }

    fn eat(&mut self, kind: &TokenKind<'_>) -> bool {
        let found = self.kind() == kind;
        if found {
            self.bump();
        }
        found
    }

    fn unexpected(&self, expected: &str) -> FilterError {
        error(
            self.start(),
            format!("expected {expected}, found {}", self.kind().describe()),
        )
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(too_deep(at));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_or(&mut self) -> Result<Parsed, FilterError> {
        self.parse_logical(true)
    }

    /// `||` chains (`any`) or `&&` chains, flattened into one node.
    fn parse_logical(&mut self, any: bool) -> Result<Parsed, FilterError> {
        let (token, symbol) = if any {
            (TokenKind::OrOr, "||")
        } else {
            (TokenKind::AndAnd, "&&")
        };
        let operand = |parser: &mut Self| {
            if any {
                parser.parse_logical(false)
            } else {
                parser.parse_compare()
            }
        };
        let first = operand(self)?;
        if *self.kind() != token {
            return Ok(first);
        }
        let start = first.start;
        let mut height = first.height;
        let mut items = vec![condition(first, || format!("before `{symbol}`"))?];
        while *self.kind() == token {
            let at = self.bump().start;
            let next = operand(self)?;
            height = height.max(next.height);
            items.push(condition(next, || {
                format!("after `{symbol}` at byte {at}")
            })?);
        }
        let node = if any {
            Condition::Any(items)
        } else {
            Condition::All(items)
        };
        grown(Node::Cond(node), start, height, start)
    }

    fn compare_op(&self) -> Option<CmpOp> {
        Some(match self.kind() {
            TokenKind::EqEq => CmpOp::Eq,
            TokenKind::NotEq => CmpOp::Ne,
            TokenKind::Lt => CmpOp::Lt,
            TokenKind::Le => CmpOp::Le,
            TokenKind::Gt => CmpOp::Gt,
            TokenKind::Ge => CmpOp::Ge,
            TokenKind::Word(w) if w.eq_ignore_ascii_case("like") => CmpOp::Like,
            TokenKind::Word(w) if w.eq_ignore_ascii_case("contains") => CmpOp::Contains,
            _ => return None,
        })
    }

    fn parse_compare(&mut self) -> Result<Parsed, FilterError> {
        let lhs = self.parse_arith(0)?;
        let Some(op) = self.compare_op() else {
            return Ok(lhs);
        };
        let op_token = self.bump();
        let symbol = op_token.kind.describe();
        let rhs = self.parse_arith(0)?;
        if self.compare_op().is_some() {
            return Err(error(
                self.start(),
                "comparisons cannot be chained; join them with && or ||",
            ));
        }
        let start = lhs.start;
        let height = lhs.height.max(rhs.height);
        let lhs_value = match lhs.node {
            Node::Value(value) => value,
            Node::Cond(_) => {
                return Err(error(
                    lhs.start,
                    format!(
                        "the left side of {symbol} is a condition; only values can be compared"
                    ),
                ))
            }
        };
        if matches!(lhs_value, Operand::Set(_)) && !matches!(op, CmpOp::Like | CmpOp::Contains) {
            return Err(error(
                lhs.start,
                format!("a set (…, …) can only stand left of LIKE or CONTAINS, not {symbol}"),
            ));
        }
        let mut rhs_value = match rhs.node {
            Node::Value(Operand::Set(_)) => {
                return Err(error(
                    rhs.start,
                    format!(
                        "the right side of {symbol} must be a single value; \
                         put the set on the left: (…, …) CONTAINS value"
                    ),
                ))
            }
            Node::Value(value) => value,
            Node::Cond(_) => {
                return Err(error(
                    rhs.start,
                    format!(
                        "the right side of {symbol} is a condition; only values can be compared"
                    ),
                ))
            }
        };
        if let Operand::Field(field) = &mut rhs_value {
            field.word_fallback = field.bare_word().is_some();
        }
        grown(
            Node::Cond(Condition::Compare(op, lhs_value, rhs_value)),
            start,
            height,
            op_token.start,
        )
    }

    fn arith_op(&self, level: u8) -> Option<ArithOp> {
        Some(match (level, self.kind()) {
            (0, TokenKind::Pipe) => ArithOp::BitOr,
            (1, TokenKind::Caret) => ArithOp::BitXor,
            (2, TokenKind::Amp) => ArithOp::BitAnd,
            (3, TokenKind::Plus) => ArithOp::Add,
            (3, TokenKind::Minus) => ArithOp::Sub,
            (4, TokenKind::Star) => ArithOp::Mul,
            (4, TokenKind::Slash) => ArithOp::Div,
            _ => return None,
        })
    }

    /// Binary arithmetic, `level` 0 (`|`, loosest) to 4 (`*` `/`).
    fn parse_arith(&mut self, level: u8) -> Result<Parsed, FilterError> {
        if level > 4 {
            return self.parse_unary();
        }
        let mut lhs = self.parse_arith(level + 1)?;
        while let Some(op) = self.arith_op(level) {
            let op_token = self.bump();
            let symbol = op_token.kind.describe();
            let rhs = self.parse_arith(level + 1)?;
            let start = lhs.start;
            let height = lhs.height.max(rhs.height);
            let left = number_operand(lhs, &symbol)?;
            let right = number_operand(rhs, &symbol)?;
            lhs = grown(
                Node::Value(Operand::Arith(op, Box::new(left), Box::new(right))),
                start,
                height,
                op_token.start,
            )?;
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> Result<Parsed, FilterError> {
        let start = self.start();
        let negate_condition = match self.kind() {
            TokenKind::Bang => true,
            TokenKind::Minus | TokenKind::Tilde => false,
            _ => return self.parse_primary(),
        };
        let op_token = self.bump();
        self.enter(start)?;
        let operand = self.parse_unary()?;
        self.leave();
        let height = operand.height;
        if negate_condition {
            let Node::Cond(inner) = operand.node else {
                return Err(error(
                    start,
                    "`!` negates a condition in parentheses, e.g. !(meta.a == 1)",
                ));
            };
            return grown(
                Node::Cond(Condition::Not(Box::new(inner))),
                start,
                height,
                start,
            );
        }
        let symbol = op_token.kind.describe();
        let value = number_operand(operand, &symbol)?;
        let folded = match (&op_token.kind, &value) {
            (TokenKind::Minus, Operand::Literal(Literal::Num(n))) => n.negate(),
            (TokenKind::Tilde, Operand::Literal(Literal::Num(n))) => match n.as_integer() {
                Some(i) => Some(Num::Int(!i)),
                None => return Err(error(start, "`~` needs an integer")),
            },
            _ => None,
        };
        if let Some(number) = folded {
            return Ok(Parsed {
                node: Node::Value(Operand::Literal(Literal::Num(number))),
                start,
                height,
            });
        }
        let node = if op_token.kind == TokenKind::Minus {
            Operand::Neg(Box::new(value))
        } else {
            Operand::BitNot(Box::new(value))
        };
        grown(Node::Value(node), start, height, start)
    }

    fn parse_primary(&mut self) -> Result<Parsed, FilterError> {
        let start = self.start();
        let literal = |literal| {
            Ok(Parsed {
                node: Node::Value(Operand::Literal(literal)),
                start,
                height: 1,
            })
        };
        match self.kind() {
            TokenKind::LParen => self.parse_parenthesised(),
            TokenKind::Word(_) | TokenKind::Str(_) | TokenKind::Num { .. } => {
                match self.bump().kind {
                    TokenKind::Str(text) => literal(Literal::Str(text)),
                    TokenKind::Num { value, .. } => literal(Literal::Num(value)),
                    TokenKind::Word(word) if word.eq_ignore_ascii_case("true") => {
                        literal(Literal::Bool(true))
                    }
                    TokenKind::Word(word) if word.eq_ignore_ascii_case("false") => {
                        literal(Literal::Bool(false))
                    }
                    TokenKind::Word(word) => self.parse_field(word, start),
                    _ => Err(error(start, "expected a value")),
                }
            }
            _ => Err(self.unexpected("a value (field, string, number, true/false or `(`)")),
        }
    }

    /// `( condition )`, `( value )` or the set `( value, value, … )`.
    fn parse_parenthesised(&mut self) -> Result<Parsed, FilterError> {
        let open = self.bump().start;
        self.enter(open)?;
        if *self.kind() == TokenKind::RParen {
            return Err(error(
                self.start(),
                "empty parentheses; a set needs at least one value",
            ));
        }
        let first = self.parse_or()?;
        let parsed = if *self.kind() == TokenKind::Comma {
            let mut height = first.height;
            let mut items = vec![set_member(first)?];
            while self.eat(&TokenKind::Comma) {
                let next = self.parse_or()?;
                height = height.max(next.height);
                items.push(set_member(next)?);
            }
            grown(Node::Value(Operand::Set(items)), open, height, open)?
        } else {
            Parsed {
                start: open,
                ..first
            }
        };
        if !self.eat(&TokenKind::RParen) {
            return Err(self.unexpected(&format!("`)` to close the `(` at byte {open}")));
        }
        self.leave();
        Ok(parsed)
    }

    /// A field path after its first word (already consumed, at `start`).
    fn parse_field(&mut self, word: &str, start: usize) -> Result<Parsed, FilterError> {
        let (root, mut path) = match word {
            "meta" => (Root::Meta, Vec::new()),
            "data" => (Root::Data, Vec::new()),
            _ => (
                Root::Bare,
                vec![Segment {
                    key: word.to_owned(),
                    index: None,
                }],
            ),
        };
        loop {
            match self.kind() {
                TokenKind::Dot => {
                    self.bump();
                    let at = self.start();
                    let segment =
                        match self.bump().kind {
                            TokenKind::Word(key) => Segment {
                                key: key.to_owned(),
                                index: None,
                            },
                            TokenKind::Num {
                                value,
                                digits_only: true,
                            } => index_segment(value, at)?,
                            _ => return Err(error(
                                at,
                                "expected a field name after `.`; write odd names as [\"name\"]",
                            )),
                        };
                    path.push(segment);
                }
                TokenKind::LBracket => {
                    self.bump();
                    let at = self.start();
                    let segment = match self.bump().kind {
                        TokenKind::Str(key) => Segment {
                            index: digits_index(&key),
                            key,
                        },
                        TokenKind::Num {
                            value,
                            digits_only: true,
                        } => index_segment(value, at)?,
                        _ => {
                            return Err(error(
                                at,
                                "expected a quoted key or an array index inside [ ]",
                            ))
                        }
                    };
                    if !self.eat(&TokenKind::RBracket) {
                        return Err(self.unexpected("`]`"));
                    }
                    path.push(segment);
                }
                _ => break,
            }
        }
        if path.is_empty() {
            return Err(error(
                self.start(),
                format!("`{word}` must be followed by a field, e.g. {word}.region or {word}[\"odd key\"]"),
            ));
        }
        let publisher_fallback =
            root == Root::Bare && path.len() == 1 && (word == "uuid" || word == "publisher");
        Ok(Parsed {
            node: Node::Value(Operand::Field(Field {
                root,
                path,
                publisher_fallback,
                word_fallback: false,
            })),
            start,
            height: 1,
        })
    }
}

fn too_deep(at: usize) -> FilterError {
    error(
        at,
        format!("expression nests deeper than {MAX_NESTING} levels; simplify it"),
    )
}

/// A node one level above children of `height`, checked against the bound.
fn grown(node: Node, start: usize, height: usize, at: usize) -> Result<Parsed, FilterError> {
    let height = height + 1;
    if height > MAX_NESTING {
        return Err(too_deep(at));
    }
    Ok(Parsed {
        node,
        start,
        height,
    })
}

fn condition(parsed: Parsed, place: impl FnOnce() -> String) -> Result<Condition, FilterError> {
    match parsed.node {
        Node::Cond(condition) => Ok(condition),
        Node::Value(_) => Err(error(
            parsed.start,
            format!(
                "expected a condition {}, found a value; compare it, e.g. meta.a == 1",
                place()
            ),
        )),
    }
}

/// An operand of arithmetic: a single value that may be a number.
fn number_operand(parsed: Parsed, symbol: &str) -> Result<Operand, FilterError> {
    match parsed.node {
        Node::Value(Operand::Set(_)) => Err(error(
            parsed.start,
            format!("{symbol} cannot apply to a set"),
        )),
        Node::Value(Operand::Literal(Literal::Str(_) | Literal::Bool(_))) => Err(error(
            parsed.start,
            format!("{symbol} needs numbers; it does not apply to strings or booleans"),
        )),
        Node::Value(value) => Ok(value),
        Node::Cond(_) => Err(error(
            parsed.start,
            format!("{symbol} needs numbers, found a condition"),
        )),
    }
}

fn set_member(parsed: Parsed) -> Result<Operand, FilterError> {
    match parsed.node {
        Node::Value(Operand::Set(_)) => Err(error(parsed.start, "sets cannot be nested")),
        Node::Value(value) => Ok(value),
        Node::Cond(_) => Err(error(parsed.start, "a set holds values, not conditions")),
    }
}

fn index_segment(value: Num, at: usize) -> Result<Segment, FilterError> {
    let index = match value {
        Num::Int(i) => usize::try_from(i).ok(),
        Num::Float(_) => None,
    }
    .ok_or_else(|| error(at, "array index is too large"))?;
    Ok(Segment {
        key: index.to_string(),
        index: Some(index),
    })
}

/// `"12"` can index an array as well as name an object key.
fn digits_index(key: &str) -> Option<usize> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}
