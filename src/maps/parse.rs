//! The parser of map expressions: Python's expression grammar, precedence for precedence,
//! into [`Expr`]. Constructs Python has but singer-sdk's evaluator does not run (lambda,
//! `:=`, set displays, starred call arguments, f-string conversions but `!s`, ...) are refused
//! here, by name; which names and functions an expression may use is [`super::check`]'s.

use super::ast::{BinOp, CmpOp, CompElement, Const, Expr, Item, UnaryOp};
use super::lex::{tokenize, Tok, Token};

/// Python's keywords: never a name.
pub(super) const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Deepest nesting of brackets and operators accepted (a bracket counts twice);
/// a chain such as `a + b + c` or `x.y.z()` counts one level per link, so the syntax tree is
/// never deeper than this and evaluating it cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parses one expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.expression_list()?;
    match parser.peek() {
        Tok::End => Ok(expr),
        Tok::Op("=") | Tok::Op(":=") => Err(parser.error("assignments are not supported")),
        Tok::Op(";") => Err(parser.error("only one expression is allowed (found ';')")),
        Tok::Op(op)
            if op.ends_with('=') && op.len() > 1 && !matches!(*op, "==" | "<=" | ">=" | "!=") =>
        {
            Err(parser.error("assignments are not supported"))
        }
        _ => Err(parser.error("unexpected text after the expression")),
    }
}

/// A call's positional and keyword arguments.
type CallArguments = (Vec<Expr>, Vec<(String, Expr)>);

pub(super) struct Parser {
    tokens: Vec<Token>,
    /// The next token.
    pub(super) pos: usize,
    /// Nesting so far (see [`MAX_DEPTH`]).
    pub(super) depth: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> &Tok {
        self.tokens
            .get(self.pos)
            .map_or(&Tok::End, |token| &token.kind)
    }

    pub(super) fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .map_or(&Tok::End, |token| &token.kind)
    }

    pub(super) fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(0, |token| token.at)
    }

    pub(super) fn error(&self, message: &str) -> String {
        let found = match self.peek() {
            Tok::End => "the end".to_string(),
            Tok::Name(name) => format!("'{name}'"),
            Tok::Op(op) => format!("'{op}'"),
            Tok::Int(_) | Tok::Float(_) => "a number".to_string(),
            Tok::Str(_) | Tok::FStr(_) => "a string".to_string(),
        };
        format!("at {}: {message} (found {found})", self.at())
    }

    pub(super) fn advance(&mut self) -> Tok {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    pub(super) fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    pub(super) fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == word)
    }

    pub(super) fn eat_op(&mut self, op: &str) -> bool {
        let found = self.is_op(op);
        if found {
            self.pos += 1;
        }
        found
    }

    pub(super) fn eat_word(&mut self, word: &str) -> bool {
        let found = self.is_word(word);
        if found {
            self.pos += 1;
        }
        found
    }

    pub(super) fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{op}'")))
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("expression nested too deeply"));
        }
        Ok(())
    }

    /// `a, b, *c` at the top level: a tuple without parentheses.
    fn expression_list(&mut self) -> Result<Expr, String> {
        let first = self.item()?;
        if !self.is_op(",") {
            return match first {
                Item::One(expr) => Ok(expr),
                Item::Spread(_) => Err(self.error("a starred expression needs a list or tuple")),
            };
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.starts_expression() {
                items.push(self.item()?);
            } else {
                break;
            }
        }
        Ok(Expr::Tuple(items))
    }

    fn starts_expression(&self) -> bool {
        match self.peek() {
            Tok::End => false,
            Tok::Op(op) => matches!(*op, "(" | "[" | "{" | "-" | "+" | "~" | "*" | "..."),
            Tok::Name(name) => {
                !KEYWORDS.contains(&name.as_str())
                    || matches!(name.as_str(), "None" | "True" | "False" | "not" | "lambda")
            }
            _ => true,
        }
    }

    /// An element of a display: an expression or `*iterable`.
    pub(super) fn item(&mut self) -> Result<Item, String> {
        if self.eat_op("*") {
            return Ok(Item::Spread(self.bitwise_or()?));
        }
        Ok(Item::One(self.expression()?))
    }

    /// `x if c else y`, or a disjunction.
    pub(super) fn expression(&mut self) -> Result<Expr, String> {
        self.enter()?;
        if self.is_word("lambda") {
            return Err(self.error("lambda is not supported"));
        }
        if self.is_word("yield") || self.is_word("await") {
            return Err(self.error("yield and await are not supported"));
        }
        let body = self.disjunction()?;
        let expr = if self.eat_word("if") {
            let test = self.disjunction()?;
            if !self.eat_word("else") {
                return Err(self.error("expected 'else' in a conditional expression"));
            }
            let orelse = self.expression()?;
            Expr::IfElse {
                test: Box::new(test),
                body: Box::new(body),
                orelse: Box::new(orelse),
            }
        } else {
            body
        };
        if self.is_op(":=") {
            return Err(self.error("assignment expressions (:=) are not supported"));
        }
        self.depth -= 1;
        Ok(expr)
    }

    pub(super) fn disjunction(&mut self) -> Result<Expr, String> {
        let first = self.conjunction()?;
        if !self.is_word("or") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_word("or") {
            values.push(self.conjunction()?);
        }
        Ok(Expr::Or(values))
    }

    fn conjunction(&mut self) -> Result<Expr, String> {
        let first = self.inversion()?;
        if !self.is_word("and") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_word("and") {
            values.push(self.inversion()?);
        }
        Ok(Expr::And(values))
    }

    fn inversion(&mut self) -> Result<Expr, String> {
        if self.eat_word("not") {
            self.enter()?;
            let operand = self.inversion()?;
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.bitwise_or()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Name(n) if n == "in" => CmpOp::In,
                Tok::Name(n) if n == "is" => {
                    if matches!(self.peek_at(1), Tok::Name(n) if n == "not") {
                        self.pos += 1;
                        CmpOp::IsNot
                    } else {
                        CmpOp::Is
                    }
                }
                Tok::Name(n)
                    if n == "not" && matches!(self.peek_at(1), Tok::Name(n) if n == "in") =>
                {
                    self.pos += 1;
                    CmpOp::NotIn
                }
                _ => break,
            };
            self.pos += 1;
            rest.push((op, self.bitwise_or()?));
        }
        if rest.is_empty() {
            Ok(left)
        } else {
            Ok(Expr::Compare(Box::new(left), rest))
        }
    }

    /// The left-associative binary levels, from `|` down to `*`.
    fn binary_level(&mut self, level: usize) -> Result<Expr, String> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("|", BinOp::BitOr)],
            &[("^", BinOp::BitXor)],
            &[("&", BinOp::BitAnd)],
            &[("<<", BinOp::LShift), (">>", BinOp::RShift)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[
                ("*", BinOp::Mul),
                ("/", BinOp::Div),
                ("//", BinOp::FloorDiv),
                ("%", BinOp::Mod),
            ],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.factor();
        };
        let mut left = self.binary_level(level + 1)?;
        let mut links = 0;
        loop {
            if self.is_op("@") {
                return Err(self.error("the @ operator is not supported"));
            }
            let Some(op) = ops
                .iter()
                .find(|(symbol, _)| self.is_op(symbol))
                .map(|(_, op)| *op)
            else {
                self.depth -= links;
                return Ok(left);
            };
            self.enter()?;
            links += 1;
            self.pos += 1;
            let right = self.binary_level(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    pub(super) fn bitwise_or(&mut self) -> Result<Expr, String> {
        self.binary_level(0)
    }

    fn factor(&mut self) -> Result<Expr, String> {
        let op = match self.peek() {
            Tok::Op("-") => UnaryOp::Neg,
            Tok::Op("+") => UnaryOp::Pos,
            Tok::Op("~") => UnaryOp::Invert,
            _ => return self.power(),
        };
        self.pos += 1;
        self.enter()?;
        let operand = self.factor()?;
        self.depth -= 1;
        Ok(Expr::Unary(op, Box::new(operand)))
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.primary()?;
        if self.eat_op("**") {
            self.enter()?;
            let exponent = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Binary(BinOp::Pow, Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let mut expr = self.atom()?;
        let mut links = 0;
        loop {
            if self.is_op(".") || self.is_op("(") || self.is_op("[") {
                self.enter()?;
                links += 1;
            }
            if self.eat_op(".") {
                match self.advance() {
                    Tok::Name(name) if !KEYWORDS.contains(&name.as_str()) => {
                        expr = Expr::Attr(Box::new(expr), name);
                    }
                    _ => {
                        self.pos -= 1;
                        return Err(self.error("expected an attribute name after '.'"));
                    }
                }
            } else if self.is_op("(") {
                self.pos += 1;
                let (args, kwargs) = self.call_arguments()?;
                expr = Expr::Call(Box::new(expr), args, kwargs);
            } else if self.is_op("[") {
                self.pos += 1;
                expr = self.subscript(expr)?;
            } else {
                self.depth -= links;
                return Ok(expr);
            }
        }
    }

    fn call_arguments(&mut self) -> Result<CallArguments, String> {
        self.enter()?;
        let mut args = Vec::new();
        let mut kwargs: Vec<(String, Expr)> = Vec::new();
        while !self.eat_op(")") {
            if self.is_op("*") || self.is_op("**") {
                return Err(self.error("*args and **kwargs in calls are not supported"));
            }
            let keyword = match (self.peek(), self.peek_at(1)) {
                (Tok::Name(name), Tok::Op("=")) => Some(name.clone()),
                _ => None,
            };
            if let Some(name) = keyword {
                self.pos += 2;
                if kwargs.iter().any(|(n, _)| *n == name) {
                    return Err(self.error(&format!("keyword argument '{name}' repeated")));
                }
                kwargs.push((name, self.expression()?));
            } else {
                if !kwargs.is_empty() {
                    return Err(self.error("positional argument follows keyword argument"));
                }
                let arg = self.expression()?;
                if self.is_word("for") {
                    // f(x for x in y): a generator as the only argument.
                    let comp = self.comprehension(CompElement::List(arg))?;
                    args.push(comp);
                    self.expect_op(")")?;
                    break;
                }
                args.push(arg);
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        self.depth -= 1;
        Ok((args, kwargs))
    }

    /// After `[`: an index, a slice, or a tuple of indexes.
    fn subscript(&mut self, value: Expr) -> Result<Expr, String> {
        self.enter()?;
        let mut parts: [Option<Box<Expr>>; 3] = [None, None, None];
        let mut is_slice = false;
        let mut slot = 0;
        loop {
            if self.eat_op(":") {
                is_slice = true;
                slot += 1;
                if slot > 2 {
                    return Err(self.error("a slice has at most three parts"));
                }
                continue;
            }
            if self.is_op("]") {
                break;
            }
            if self.is_op(",") {
                if is_slice {
                    return Err(
                        self.error("extended slices (a slice in a tuple) are not supported")
                    );
                }
                break;
            }
            if parts[slot].is_some() {
                return Err(self.error("expected ':' or ']'"));
            }
            parts[slot] = Some(Box::new(self.expression()?));
        }
        let expr = if is_slice {
            self.expect_op("]")?;
            Expr::Slice(Box::new(value), parts)
        } else {
            let Some(first) = parts[0].take() else {
                return Err(self.error("expected an index"));
            };
            let index = if self.eat_op(",") {
                let mut items = vec![Item::One(*first)];
                while !self.is_op("]") {
                    items.push(Item::One(self.expression()?));
                    if !self.eat_op(",") {
                        break;
                    }
                }
                Expr::Tuple(items)
            } else {
                *first
            };
            self.expect_op("]")?;
            Expr::Index(Box::new(value), Box::new(index))
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.peek().clone() {
            Tok::Name(name) => {
                self.pos += 1;
                match name.as_str() {
                    "None" => Ok(Expr::Const(Const::None)),
                    "True" => Ok(Expr::Const(Const::Bool(true))),
                    "False" => Ok(Expr::Const(Const::Bool(false))),
                    _ if KEYWORDS.contains(&name.as_str()) => {
                        self.pos -= 1;
                        Err(self.error(&format!("'{name}' cannot start an expression")))
                    }
                    _ => Ok(Expr::Name(name)),
                }
            }
            Tok::Int(value) => {
                self.pos += 1;
                Ok(Expr::Const(Const::Int(value)))
            }
            Tok::Float(value) => {
                self.pos += 1;
                Ok(Expr::Const(Const::Float(value)))
            }
            Tok::Str(_) | Tok::FStr(_) => self.strings(),
            Tok::Op("(") => {
                self.pos += 1;
                self.parenthesized()
            }
            Tok::Op("[") => {
                self.pos += 1;
                self.list_display()
            }
            Tok::Op("{") => {
                self.pos += 1;
                self.dict_display()
            }
            Tok::Op("...") => Err(self.error("Ellipsis (...) is not supported")),
            _ => Err(self.error("expected an expression")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Expr {
        Expr::Name(n.into())
    }

    fn int(n: i64) -> Expr {
        Expr::Const(Const::Int(n.into()))
    }

    #[test]
    fn precedence_is_pythons() {
        // -2 ** 2 is -(2 ** 2); 2 ** -1 is allowed; * binds tighter than +.
        assert_eq!(
            parse("-2 ** 2").unwrap(),
            Expr::Unary(
                UnaryOp::Neg,
                Box::new(Expr::Binary(BinOp::Pow, Box::new(int(2)), Box::new(int(2))))
            )
        );
        assert_eq!(
            parse("1 + 2 * 3").unwrap(),
            Expr::Binary(
                BinOp::Add,
                Box::new(int(1)),
                Box::new(Expr::Binary(BinOp::Mul, Box::new(int(2)), Box::new(int(3))))
            )
        );
        assert!(matches!(
            parse("2 ** -1").unwrap(),
            Expr::Binary(BinOp::Pow, ..)
        ));
        // not binds looser than comparisons; and looser than not.
        assert_eq!(
            parse("not a == b and c").unwrap(),
            Expr::And(vec![
                Expr::Unary(
                    UnaryOp::Not,
                    Box::new(Expr::Compare(
                        Box::new(name("a")),
                        vec![(CmpOp::Eq, name("b"))]
                    ))
                ),
                name("c")
            ])
        );
        assert!(matches!(
            parse("a if b else c if d else e").unwrap(),
            Expr::IfElse { .. }
        ));
        assert_eq!(
            parse("a not in b is not c").unwrap(),
            Expr::Compare(
                Box::new(name("a")),
                vec![(CmpOp::NotIn, name("b")), (CmpOp::IsNot, name("c"))]
            )
        );
    }

    #[test]
    fn the_sdks_examples_parse() {
        for text in [
            "owner_email.split('@')[-1]",
            "md5(config['hash_seed'] + owner_email)",
            "int(datetime.date.fromisoformat(create_date).year)",
            "dict([(x[\"id\"], x[\"value\"]) for x in custom_fields]).get(2)",
            "[f for f in fields if f['key'] != 'age']",
            "json.dumps(user, default=str)",
            "'tap-' in name or 'target-' in name",
            "fake.seed_instance(email) or fake.email()",
            "\"client-123\"",
            "x[1:-1:2]",
            "{**a, 'b': 1}",
            "{k: v for k, v in record.items() if v is not None}",
            "f'{a}-{b!s}'",
            "(1,)",
            "1, 2",
            "sorted(x for x in y)",
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn python_that_the_evaluator_does_not_run_is_refused_by_name() {
        for (text, reason) in [
            ("lambda x: x", "lambda"),
            ("x := 1", ":="),
            ("x = 1", "assignment"),
            ("a; b", "one expression"),
            ("{1, 2}", "set"),
            ("f(*a)", "*args"),
            ("f'{x:n}'", "type 'n' is not supported"),
            ("f'{x:{w}}'", "nested fields"),
            ("f'{x!r}'", "!r"),
            ("a @ b", "@"),
            ("x[1:2, 3]", "extended slices"),
            ("...", "Ellipsis"),
            ("import os", "cannot start"),
            ("a b", "unexpected text"),
            ("(", "expected an expression"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
        let deep = "(".repeat(500) + &")".repeat(500);
        assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
    }
}
