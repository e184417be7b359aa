//! The displays of the expression grammar — strings (and f-strings), parenthesized
//! expressions and tuples, lists, dicts and comprehensions — as more methods of
//! [`Parser`].

use super::ast::{CompElement, CompFor, Comprehension, Const, DictItem, Expr, FPart, Item, Target};
use super::lex::Tok;
use super::parse::{parse, Parser, KEYWORDS};
use super::spec::{parse_spec, Spec};

impl Parser {
    /// Adjacent string literals, concatenated as Python does; f-strings parsed into parts.
    pub(super) fn strings(&mut self) -> Result<Expr, String> {
        let mut parts: Vec<FPart> = Vec::new();
        let mut is_fstring = false;
        loop {
            let at = self.at();
            match self.peek().clone() {
                Tok::Str(text) => parts.push(FPart::Text(text)),
                Tok::FStr(text) => {
                    is_fstring = true;
                    parts.extend(fstring_parts(&text).map_err(|e| format!("at {at}: {e}"))?);
                }
                _ => break,
            }
            self.pos += 1;
        }
        if !is_fstring {
            let text: String = parts
                .into_iter()
                .map(|part| match part {
                    FPart::Text(text) => text,
                    FPart::Value(..) => String::new(),
                })
                .collect();
            return Ok(Expr::Const(Const::Str(text)));
        }
        Ok(Expr::FString(parts))
    }

    /// After `(`: `()`, a parenthesized expression, a tuple or a generator.
    pub(super) fn parenthesized(&mut self) -> Result<Expr, String> {
        self.enter()?;
        if self.eat_op(")") {
            self.depth -= 1;
            return Ok(Expr::Tuple(Vec::new()));
        }
        let first = self.item()?;
        let expr = if self.is_word("for") {
            let Item::One(element) = first else {
                return Err(self.error("a starred expression cannot be a generator's element"));
            };
            let comp = self.comprehension(CompElement::List(element))?;
            self.expect_op(")")?;
            comp
        } else if self.eat_op(")") {
            match first {
                Item::One(expr) => expr,
                Item::Spread(_) => return Err(self.error("a starred expression needs a tuple")),
            }
        } else {
            let mut items = vec![first];
            while self.eat_op(",") {
                if self.is_op(")") {
                    break;
                }
                items.push(self.item()?);
            }
            self.expect_op(")")?;
            Expr::Tuple(items)
        };
        self.depth -= 1;
        Ok(expr)
    }

    /// After `[`: a list or a list comprehension.
    pub(super) fn list_display(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let mut items = Vec::new();
        while !self.eat_op("]") {
            let item = self.item()?;
            if items.is_empty() && self.is_word("for") {
                let Item::One(element) = item else {
                    return Err(
                        self.error("a starred expression cannot be a comprehension's element")
                    );
                };
                let comp = self.comprehension(CompElement::List(element))?;
                self.expect_op("]")?;
                self.depth -= 1;
                return Ok(comp);
            }
            items.push(item);
            if !self.eat_op(",") {
                self.expect_op("]")?;
                break;
            }
        }
        self.depth -= 1;
        Ok(Expr::List(items))
    }

    /// After `{`: a dict or a dict comprehension (sets are refused).
    pub(super) fn dict_display(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let mut items = Vec::new();
        while !self.eat_op("}") {
            if self.eat_op("**") {
                items.push(DictItem::Spread(self.bitwise_or()?));
            } else {
                let key = self.expression()?;
                if !self.eat_op(":") {
                    return Err(self.error("set displays and set comprehensions are not supported"));
                }
                let value = self.expression()?;
                if items.is_empty() && self.is_word("for") {
                    let comp = self.comprehension(CompElement::Dict(key, value))?;
                    self.expect_op("}")?;
                    self.depth -= 1;
                    return Ok(comp);
                }
                items.push(DictItem::Pair(key, value));
            }
            if !self.eat_op(",") {
                self.expect_op("}")?;
                break;
            }
        }
        self.depth -= 1;
        Ok(Expr::Dict(items))
    }

    /// The `for ... in ... if ...` clauses after a comprehension's element.
    pub(super) fn comprehension(&mut self, element: CompElement) -> Result<Expr, String> {
        let mut clauses = Vec::new();
        while self.eat_word("for") {
            let target = self.target_list()?;
            if !self.eat_word("in") {
                return Err(self.error("expected 'in' in a comprehension"));
            }
            let iter = self.disjunction()?;
            let mut conditions = Vec::new();
            while self.eat_word("if") {
                conditions.push(self.disjunction()?);
            }
            clauses.push(CompFor {
                target,
                iter,
                conditions,
            });
        }
        if self.is_word("async") {
            return Err(self.error("async comprehensions are not supported"));
        }
        Ok(Expr::Comp(Box::new(Comprehension { element, clauses })))
    }

    /// `a`, `a, b`, `(a, b)`, `[a, (b, c)]`.
    fn target_list(&mut self) -> Result<Target, String> {
        let first = self.target()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_word("in") {
                break;
            }
            items.push(self.target()?);
        }
        Ok(Target::Tuple(items))
    }

    fn target(&mut self) -> Result<Target, String> {
        let close = if self.eat_op("(") {
            ")"
        } else if self.eat_op("[") {
            "]"
        } else {
            match self.advance() {
                Tok::Name(name) if !KEYWORDS.contains(&name.as_str()) => {
                    return Ok(Target::Name(name))
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.error("a comprehension variable must be a name or names"));
                }
            }
        };
        self.enter()?;
        let mut items = Vec::new();
        while !self.eat_op(close) {
            items.push(self.target()?);
            if !self.eat_op(",") {
                self.expect_op(close)?;
                break;
            }
        }
        self.depth -= 1;
        Ok(Target::Tuple(items))
    }
}

/// Splits an f-string's text into literal text and `{expression}` parts.
fn fstring_parts(text: &str) -> Result<Vec<FPart>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err("f-string: single '}' is not allowed".into()),
            '{' => {
                let end = matching_brace(text, i)?;
                let inner = text.get(i + 1..end).unwrap_or("");
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
                if !literal.is_empty() {
                    parts.push(FPart::Text(std::mem::take(&mut literal)));
                }
                let (expr, spec) = fstring_value(inner)?;
                parts.push(FPart::Value(expr, spec));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(FPart::Text(literal));
    }
    Ok(parts)
}

/// The byte offset of the `}` closing the `{` at `open`, skipping nested brackets and
/// strings.
fn matching_brace(text: &str, open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices().skip_while(|(i, _)| *i < open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{' | '[' | '(') => depth += 1,
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err("f-string: expecting '}'".into())
}

/// The expression of one `{...}` part: `!s` is allowed, format specs are not.
fn fstring_value(inner: &str) -> Result<(Expr, Option<Spec>), String> {
    let mut body = inner;
    let mut spec = None;
    // A top-level '!' (not '!=') starts a conversion; a top-level ':' a format spec.
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let bytes = inner.as_bytes();
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{' | '[' | '(') => depth += 1,
            (None, '}' | ']' | ')') => depth = depth.saturating_sub(1),
            (None, '!') if depth == 0 && bytes.get(i + 1) != Some(&b'=') => {
                let rest = inner.get(i + 1..).unwrap_or("");
                let (conversion, after) = match rest.split_once(':') {
                    Some((conversion, after)) => (conversion, Some(after)),
                    None => (rest, None),
                };
                if conversion.trim() != "s" {
                    return Err(format!(
                        "f-string conversion !{} is not supported (only !s)",
                        conversion.trim()
                    ));
                }
                body = inner.get(..i).unwrap_or("");
                spec = after;
                break;
            }
            (None, ':') if depth == 0 => {
                body = inner.get(..i).unwrap_or("");
                spec = inner.get(i + 1..);
                break;
            }
            _ => {}
        }
    }
    if body.trim().is_empty() {
        return Err("f-string: empty expression not allowed".into());
    }
    if body.trim_end().ends_with('=') && !body.trim_end().ends_with("==") {
        return Err("f-string self-documenting expressions ({x=}) are not supported".into());
    }
    let spec = match spec {
        None => None,
        Some(text) if text.contains(['{', '}']) => {
            return Err("f-string: nested fields in format specs are not supported".into())
        }
        Some(text) => Some(parse_spec(text)?),
    };
    let expr = parse(body).map_err(|e| format!("f-string: {e}"))?;
    Ok((expr, spec))
}
