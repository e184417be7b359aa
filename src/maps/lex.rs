//! The tokenizer of map expressions: Python's expression tokens (names, numbers, strings
//! with every prefix and escape Python has, operators), with byte offsets for error
//! messages. Anything Python would tokenize but stream maps refuse (bytes, complex numbers,
//! `\N{...}` escapes) is refused here with the reason.

use num_bigint::BigInt;
use num_traits::Num;

/// One token and where it starts (a byte offset into the expression).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: Tok,
    /// Byte offset of its first character.
    pub at: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or a keyword.
    Name(String),
    /// An integer literal.
    Int(BigInt),
    /// A float literal.
    Float(f64),
    /// A string literal, escapes decoded.
    Str(String),
    /// An f-string literal: its text with escapes decoded, `{...}` parts still as written.
    FStr(String),
    /// An operator or delimiter.
    Op(&'static str),
    /// The end of the expression.
    End,
}

/// Operators and delimiters, longest first so that `**` wins over `*`.
const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", ":=", "->",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "+", "-", "*", "/", "%", "@", "&", "|",
    "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=", "!",
];

/// Splits `text` into tokens; errors name the offset and the reason.
pub fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        depth: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// Open brackets: newlines inside them are whitespace, as in Python.
    depth: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn push(&mut self, kind: Tok, at: usize) {
        self.tokens.push(Token { kind, at });
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek() {
            let at = self.pos;
            match c {
                ' ' | '\t' | '\x0c' | '\r' => self.pos += 1,
                '\n' if self.depth > 0 => self.pos += 1,
                '\n' => {
                    if self.rest().trim().is_empty() {
                        self.pos = self.text.len();
                    } else {
                        return Err(format!(
                            "at {at}: a line break outside brackets ends the expression; only one expression is allowed"
                        ));
                    }
                }
                '\\' if self.rest().starts_with("\\\n") => self.pos += 2,
                '#' => {
                    let end = self
                        .rest()
                        .find('\n')
                        .map_or(self.text.len(), |n| self.pos + n);
                    self.pos = end;
                }
                '0'..='9' => self.number()?,
                '.' if self.rest()[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                    self.number()?
                }
                '"' | '\'' => self.string("")?,
                c if c == '_' || c.is_alphabetic() => {
                    let len = self
                        .rest()
                        .find(|c: char| !(c == '_' || c.is_alphanumeric()))
                        .unwrap_or(self.rest().len());
                    let word = &self.rest()[..len];
                    let is_prefix = len <= 2
                        && word
                            .chars()
                            .all(|c| matches!(c.to_ascii_lowercase(), 'r' | 'b' | 'u' | 'f'));
                    if is_prefix && self.rest()[len..].starts_with(['"', '\'']) {
                        let prefix = word.to_ascii_lowercase();
                        self.pos += len;
                        self.string(&prefix)?;
                    } else {
                        let word = word.to_string();
                        self.pos += len;
                        self.push(Tok::Name(word), at);
                    }
                }
                _ => {
                    let Some(op) = OPS.iter().find(|op| self.rest().starts_with(**op)) else {
                        return Err(format!("at {at}: unexpected character {c:?}"));
                    };
                    match *op {
                        "(" | "[" | "{" => self.depth += 1,
                        ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
                        _ => {}
                    }
                    self.pos += op.len();
                    self.push(Tok::Op(op), at);
                }
            }
        }
        self.push(Tok::End, self.text.len());
        Ok(())
    }

    /// A number: decimal, hex, octal or binary integer, or a float; `_` between digits.
    fn number(&mut self) -> Result<(), String> {
        let at = self.pos;
        let rest = self.rest();
        let lower = rest.get(..2).map(str::to_ascii_lowercase);
        let radix = match lower.as_deref() {
            Some("0x") => 16,
            Some("0o") => 8,
            Some("0b") => 2,
            _ => 10,
        };
        if radix != 10 {
            let len = 2 + rest[2..]
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(rest.len() - 2);
            let digits = clean_digits(&rest[2..len], at)?;
            let value = BigInt::from_str_radix(&digits, radix)
                .map_err(|_| format!("at {at}: invalid number {:?}", &rest[..len]))?;
            self.pos += len;
            self.push(Tok::Int(value), at);
            return Ok(());
        }
        let bytes = rest.as_bytes();
        let mut end = 0;
        let digits = |end: &mut usize| {
            while *end < bytes.len() && (bytes[*end].is_ascii_digit() || bytes[*end] == b'_') {
                *end += 1;
            }
        };
        digits(&mut end);
        let mut is_float = false;
        if end < bytes.len() && bytes[end] == b'.' {
            is_float = true;
            end += 1;
            digits(&mut end);
        }
        if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut e = end + 1;
            if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
                e += 1;
            }
            if e < bytes.len() && bytes[e].is_ascii_digit() {
                is_float = true;
                end = e;
                digits(&mut end);
            }
        }
        if end < bytes.len() && (bytes[end] == b'j' || bytes[end] == b'J') {
            return Err(format!("at {at}: complex numbers are not supported"));
        }
        if end < bytes.len() && (bytes[end] == b'_' || bytes[end].is_ascii_alphabetic()) {
            return Err(format!("at {at}: invalid number {:?}", &rest[..=end]));
        }
        let literal = clean_digits(&rest[..end], at)?;
        self.pos += end;
        if is_float {
            let value: f64 = literal
                .parse()
                .map_err(|_| format!("at {at}: invalid number {literal:?}"))?;
            self.push(Tok::Float(value), at);
        } else {
            if literal.len() > 1 && literal.starts_with('0') && literal.bytes().any(|b| b != b'0') {
                return Err(format!(
                    "at {at}: leading zeros in decimal integer literals are not permitted ({literal})"
                ));
            }
            let value = literal
                .parse::<BigInt>()
                .map_err(|_| format!("at {at}: invalid number {literal:?}"))?;
            self.push(Tok::Int(value), at);
        }
        Ok(())
    }

    /// A string literal after its prefix (lower-cased): quotes, triple quotes, escapes.
    fn string(&mut self, prefix: &str) -> Result<(), String> {
        let at = self.pos;
        if prefix.contains('b') {
            return Err(format!("at {at}: bytes literals are not supported"));
        }
        let raw = prefix.contains('r');
        let rest = self.rest();
        let quote = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            &rest[..3]
        } else {
            &rest[..1]
        };
        let body_start = self.pos + quote.len();
        let mut i = body_start;
        let bytes = self.text.as_bytes();
        let end = loop {
            if i >= self.text.len() {
                return Err(format!("at {at}: unterminated string literal"));
            }
            // Bytes, not characters: a quote, a backslash and a line break are ASCII, and
            // never part of another character's UTF-8.
            if bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            if quote.len() == 1 && bytes[i] == b'\n' {
                return Err(format!("at {at}: unterminated string literal"));
            }
            if bytes[i..].starts_with(quote.as_bytes()) {
                break i;
            }
            i += 1;
        };
        let body = self.text.get(body_start..end).unwrap_or("");
        let value = if raw {
            body.to_string()
        } else {
            unescape(body).map_err(|e| format!("at {at}: {e}"))?
        };
        self.pos = end + quote.len();
        if prefix.contains('f') {
            // The `{...}` parts are parsed later; escapes in them do not occur in practice.
            self.push(Tok::FStr(value), at);
        } else {
            self.push(Tok::Str(value), at);
        }
        Ok(())
    }
}

/// Digits with `_` only between digits, which Python allows, and then removes.
fn clean_digits(text: &str, at: usize) -> Result<String, String> {
    if text.starts_with('_')
        || text.ends_with('_')
        || text.contains("__")
        || text.contains("_.")
        || text.contains("._")
    {
        return Err(format!("at {at}: invalid number {text:?}"));
    }
    Ok(text.replace('_', ""))
}

/// Decodes Python's escapes in a non-raw string literal.
fn unescape(body: &str) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value).ok_or("invalid octal escape")?);
            }
            'x' | 'u' | 'U' => {
                let len = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..len).filter_map(|_| chars.next()).collect();
                let value = (hex.len() == len)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("truncated \\{e} escape"))?;
                out.push(
                    char::from_u32(value).ok_or_else(|| format!("invalid \\{e} escape {hex}"))?,
                );
            }
            'N' => return Err("\\N{...} escapes are not supported".into()),
            other => {
                // Python keeps an unknown escape as written.
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn names_numbers_strings_and_operators() {
        assert_eq!(
            kinds("md5(x) ** 2 // 0x1F"),
            vec![
                Tok::Name("md5".into()),
                Tok::Op("("),
                Tok::Name("x".into()),
                Tok::Op(")"),
                Tok::Op("**"),
                Tok::Int(2.into()),
                Tok::Op("//"),
                Tok::Int(31.into()),
                Tok::End
            ]
        );
        assert_eq!(
            kinds("1_000 1.5e3 .5 'a\\n' r'a\\n' f'{x}'"),
            vec![
                Tok::Int(1000.into()),
                Tok::Float(1500.0),
                Tok::Float(0.5),
                Tok::Str("a\n".into()),
                Tok::Str("a\\n".into()),
                Tok::FStr("{x}".into()),
                Tok::End
            ]
        );
        assert_eq!(
            kinds("'''it's''' \"\\u00e9\\x41\""),
            vec![Tok::Str("it's".into()), Tok::Str("éA".into()), Tok::End]
        );
    }

    #[test]
    fn what_python_has_but_maps_refuse() {
        for (text, reason) in [
            ("b'x'", "bytes"),
            ("1j", "complex"),
            ("'\\N{DASH}'", "\\N"),
            ("'open", "unterminated"),
            ("007", "leading zeros"),
            ("a\nb", "one expression"),
        ] {
            let err = tokenize(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
        // A line break inside brackets is whitespace, as in Python.
        assert!(tokenize("f(a,\n b)").is_ok());
    }
}
