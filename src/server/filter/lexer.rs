//! Splits a filter expression into tokens, each with its byte span.

use super::ast::Num;
use super::FilterError;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind<'s> {
    /// A word: field name, keyword (`LIKE`, `CONTAINS`, `true`, `false`) or
    /// root (`meta`, `data`). Keywords are recognised by the parser, by
    /// position, so `meta.like` is still a field.
    Word(&'s str),
    /// A quoted string with its escapes decoded (see [`lex_string`]).
    Str(String),
    /// An unsigned number literal; `digits_only` tells the parser whether it
    /// may also serve as an array index or key after a `.`.
    Num {
        value: Num,
        digits_only: bool,
    },
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Pipe,
    Caret,
    Tilde,
    /// End of input (always the last token).
    Eof,
}

impl TokenKind<'_> {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        let symbol = match self {
            TokenKind::Word(word) => return format!("`{word}`"),
            TokenKind::Str(_) => return "a string".to_owned(),
            TokenKind::Num { .. } => return "a number".to_owned(),
            TokenKind::Eof => return "the end of the expression".to_owned(),
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::Dot => ".",
            TokenKind::Comma => ",",
            TokenKind::EqEq => "==",
            TokenKind::NotEq => "!=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::AndAnd => "&&",
            TokenKind::OrOr => "||",
            TokenKind::Bang => "!",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Star => "*",
            TokenKind::Slash => "/",
            TokenKind::Amp => "&",
            TokenKind::Pipe => "|",
            TokenKind::Caret => "^",
            TokenKind::Tilde => "~",
        };
        format!("`{symbol}`")
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'s> {
    pub(super) kind: TokenKind<'s>,
    pub(super) start: usize,
}

/// Tokenises the whole expression, ending with [`TokenKind::Eof`].
pub(super) fn tokenize(source: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut lexer = Lexer { source, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

struct Lexer<'s> {
    source: &'s str,
    pos: usize,
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        self.source.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position,
            message: message.into(),
        }
    }

    fn next_token(&mut self) -> Result<Token<'s>, FilterError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                start,
            });
        };
        let next = self.peek();
        let two = |kind: TokenKind<'s>, lexer: &mut Self| {
            lexer.bump();
            kind
        };
        let kind = match (c, next) {
            ('(', _) => TokenKind::LParen,
            (')', _) => TokenKind::RParen,
            ('[', _) => TokenKind::LBracket,
            (']', _) => TokenKind::RBracket,
            ('.', _) => TokenKind::Dot,
            (',', _) => TokenKind::Comma,
            ('=', Some('=')) => two(TokenKind::EqEq, self),
            ('=', _) => {
                return Err(Self::error(
                    start,
                    "single `=` is not an operator; compare with `==`",
                ))
            }
            ('!', Some('=')) => two(TokenKind::NotEq, self),
            ('!', _) => TokenKind::Bang,
            ('<', Some('=')) => two(TokenKind::Le, self),
            ('<', _) => TokenKind::Lt,
            ('>', Some('=')) => two(TokenKind::Ge, self),
            ('>', _) => TokenKind::Gt,
            ('&', Some('&')) => two(TokenKind::AndAnd, self),
            ('&', _) => TokenKind::Amp,
            ('|', Some('|')) => two(TokenKind::OrOr, self),
            ('|', _) => TokenKind::Pipe,
            ('^', _) => TokenKind::Caret,
            ('~', _) => TokenKind::Tilde,
            ('+', _) => TokenKind::Plus,
            ('-', _) => TokenKind::Minus,
            ('*', _) => TokenKind::Star,
            ('/', _) => TokenKind::Slash,
            ('\'' | '"', _) => TokenKind::Str(self.lex_string(start, c)?),
            (c, _) if c.is_ascii_digit() => self.lex_number(start)?,
            (c, _) if is_word_start(c) => {
                while self.peek().is_some_and(is_word_char) {
                    self.bump();
                }
                TokenKind::Word(self.source.get(start..self.pos).unwrap_or(""))
            }
            (c, _) => {
                return Err(Self::error(
                    start,
                    format!("unexpected character {c:?}; quote text values, e.g. 'text'"),
                ))
            }
        };
        Ok(Token { kind, start })
    }

    /// Reads a quoted string whose opening `quote` was at `start`.
    ///
    /// Escapes: `\\`, `\'`, `\"`, `\/`, `\n`, `\r`, `\t`, `\b`, `\f` and
    /// `\uXXXX` (UTF-16, surrogate pairs joined) are decoded; any other
    /// backslash pair is kept as written, so `'50\*'` stays `50\*` and a
    /// `LIKE` pattern still sees the escaped asterisk.
    fn lex_string(&mut self, start: usize, quote: char) -> Result<String, FilterError> {
        let mut text = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => {
                    return Err(Self::error(
                        start,
                        format!("unterminated string: no closing {quote}"),
                    ))
                }
                Some(c) if c == quote => return Ok(text),
                Some('\\') => match self.bump() {
                    None => {
                        return Err(Self::error(
                            start,
                            format!("unterminated string: no closing {quote}"),
                        ))
                    }
                    Some('n') => text.push('\n'),
                    Some('r') => text.push('\r'),
                    Some('t') => text.push('\t'),
                    Some('b') => text.push('\u{8}'),
                    Some('f') => text.push('\u{c}'),
                    Some('u') => text.push(self.lex_unicode_escape(at)?),
                    Some(c @ ('\\' | '\'' | '"' | '/')) => text.push(c),
                    Some(other) => {
                        text.push('\\');
                        text.push(other);
                    }
                },
                Some(c) => text.push(c),
            }
        }
    }

    /// Reads the `XXXX` of a `\uXXXX` escape starting at `at` (plus a second
    /// `\uXXXX` for a surrogate pair).
    fn lex_unicode_escape(&mut self, at: usize) -> Result<char, FilterError> {
        let first = self.hex4(at)?;
        let code = match first {
            0xD800..=0xDBFF => {
                let low_at = self.pos;
                if self.bump() != Some('\\') || self.bump() != Some('u') {
                    return Err(Self::error(
                        at,
                        "\\u escape is a lone high surrogate; follow it with a \\uDC00-\\uDFFF escape",
                    ));
                }
                let second = self.hex4(low_at)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(Self::error(
                        low_at,
                        "expected a low surrogate \\uDC00-\\uDFFF after a high surrogate",
                    ));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(Self::error(at, "\\u escape is a lone low surrogate"));
            }
            code => code,
        };
        char::from_u32(code).ok_or_else(|| Self::error(at, "\\u escape is not a valid character"))
    }

    fn hex4(&mut self, at: usize) -> Result<u32, FilterError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16)).ok_or_else(|| {
                Self::error(at, "\\u must be followed by exactly four hex digits")
            })?;
            self.bump();
            code = code * 16 + digit;
        }
        Ok(code)
    }

    /// Reads `digits [. digits] [e [+-] digits]` whose first digit was at
    /// `start`. The sign is not part of the literal: `-` is a unary operator.
    fn lex_number(&mut self, start: usize) -> Result<TokenKind<'s>, FilterError> {
        let eat_digits = |lexer: &mut Self| {
            let mut any = false;
            while lexer.peek().is_some_and(|c| c.is_ascii_digit()) {
                lexer.bump();
                any = true;
            }
            any
        };
        eat_digits(self);
        let mut digits_only = true;
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            eat_digits(self);
            digits_only = false;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            digits_only = false;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !eat_digits(self) {
                return Err(Self::error(
                    start,
                    "malformed number: the exponent needs digits, e.g. 1e6",
                ));
            }
        }
        if self.peek().is_some_and(is_word_char) {
            return Err(Self::error(
                start,
                "malformed number: digits run into letters; quote text values",
            ));
        }
        let text = self.source.get(start..self.pos).unwrap_or("");
        let value = if digits_only {
            text.parse::<i64>().ok().map(Num::Int)
        } else {
            None
        };
        let value = match value {
            Some(value) => value,
            None => match text.parse::<f64>() {
                Ok(float) if float.is_finite() => Num::Float(float),
                _ => return Err(Self::error(start, "number is out of range")),
            },
        };
        Ok(TokenKind::Num { value, digits_only })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind<'_>> {
        tokenize(source)
            .map(|tokens| tokens.into_iter().map(|t| t.kind).collect())
            .unwrap_or_else(|e| panic!("{source:?} failed: {e}"))
    }

    #[test]
    fn operators_take_the_longest_match() {
        use TokenKind::*;
        assert_eq!(
            kinds("== != < <= > >= && & || | ! ~ ^ + - * /"),
            vec![
                EqEq, NotEq, Lt, Le, Gt, Ge, AndAnd, Amp, OrOr, Pipe, Bang, Tilde, Caret, Plus,
                Minus, Star, Slash, Eof
            ]
        );
        assert_eq!(kinds("a!=b"), vec![Word("a"), NotEq, Word("b"), Eof]);
    }

    #[test]
    fn strings_decode_escapes_but_keep_unknown_ones() {
        assert_eq!(
            kinds(r#"'it\'s' "say \"hi\"" 'a\*b' '\u00e9\ud83d\ude00' 'x\\y'"#),
            vec![
                TokenKind::Str("it's".into()),
                TokenKind::Str("say \"hi\"".into()),
                TokenKind::Str("a\\*b".into()),
                TokenKind::Str("é😀".into()),
                TokenKind::Str("x\\y".into()),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn numbers_are_ints_when_they_fit() {
        assert_eq!(
            kinds("42 1.5 2e3 99999999999999999999 meta.a.0"),
            vec![
                TokenKind::Num {
                    value: Num::Int(42),
                    digits_only: true
                },
                TokenKind::Num {
                    value: Num::Float(1.5),
                    digits_only: false
                },
                TokenKind::Num {
                    value: Num::Float(2000.0),
                    digits_only: false
                },
                TokenKind::Num {
                    value: Num::Float(1e20),
                    digits_only: true
                },
                TokenKind::Word("meta"),
                TokenKind::Dot,
                TokenKind::Word("a"),
                TokenKind::Dot,
                TokenKind::Num {
                    value: Num::Int(0),
                    digits_only: true
                },
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn errors_point_at_the_offending_byte() {
        let at = |s: &str| tokenize(s).map(|_| ()).unwrap_err().position;
        assert_eq!(at("a = 1"), 2);
        assert_eq!(at("a == 'abc"), 5);
        assert_eq!(at("a == 1e"), 5);
        assert_eq!(at("a == 12ab"), 5);
        assert_eq!(at("a == 1e999"), 5);
        assert_eq!(at("a == @"), 5);
        assert_eq!(at(r"'\u12'"), 1);
        assert_eq!(at(r"'\ud800'"), 1);
        assert_eq!(at(r"'\udc00'"), 1);
        assert_eq!(at("'abc\\"), 0);
    }
}
