//! The syntax tree of a map expression: the part of Python's expression grammar that
//! singer-sdk's evaluator (simpleeval with compound types) runs.

use num_bigint::BigInt;

use super::spec::Spec;

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `None`, `True`, `False`, a number or a string.
    Const(Const),
    /// A name: a property of the record, `record`, `_`, `config`, `self`, a function...
    Name(String),
    /// An f-string: literal text and `{expression}` parts.
    FString(Vec<FPart>),
    /// `value.attr`
    Attr(Box<Expr>, String),
    /// `value[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `value[lower:upper:step]`
    Slice(Box<Expr>, [Option<Box<Expr>>; 3]),
    /// `func(args, name=value)`
    Call(Box<Expr>, Vec<Expr>, Vec<(String, Expr)>),
    /// `-x`, `+x`, `~x`, `not x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b` and the other binary operators.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a and b and ...`
    And(Vec<Expr>),
    /// `a or b or ...`
    Or(Vec<Expr>),
    /// `a < b <= c ...`
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `body if test else orelse`
    IfElse {
        /// Evaluated first.
        test: Box<Expr>,
        /// When `test` is true.
        body: Box<Expr>,
        /// When it is not.
        orelse: Box<Expr>,
    },
    /// `[a, *b]`
    List(Vec<Item>),
    /// `(a, b)` or `a, b`
    Tuple(Vec<Item>),
    /// `{k: v, **d}`
    Dict(Vec<DictItem>),
    /// `[elt for ...]`, `(elt for ...)` (a list, as simpleeval makes it) or `{k: v for ...}`.
    Comp(Box<Comprehension>),
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An integer.
    Int(BigInt),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

/// A part of an f-string.
#[derive(Debug, Clone, PartialEq)]
pub enum FPart {
    /// Text as written (with `{{`/`}}` undoubled).
    Text(String),
    /// `{expression}`, `{expression!s}` or `{expression:spec}`.
    Value(Expr, Option<Spec>),
}

/// An element of a list or tuple display.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// One value.
    One(Expr),
    /// `*iterable`
    Spread(Expr),
}

/// An entry of a dict display.
#[derive(Debug, Clone, PartialEq)]
pub enum DictItem {
    /// `key: value`
    Pair(Expr, Expr),
    /// `**mapping`
    Spread(Expr),
}

/// The unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
    /// `~`
    Invert,
    /// `not`
    Not,
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
    /// `**`
    Pow,
    /// `<<`
    LShift,
    /// `>>`
    RShift,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
}

impl BinOp {
    /// How Python writes it, for error messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "** or pow()",
            BinOp::LShift => "<<",
            BinOp::RShift => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
        }
    }
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `is`
    Is,
    /// `is not`
    IsNot,
}

/// A comprehension: what it builds and its `for ... in ... if ...` clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Comprehension {
    /// What each round adds.
    pub element: CompElement,
    /// The clauses, outermost first.
    pub clauses: Vec<CompFor>,
}

/// What a comprehension adds per round.
#[derive(Debug, Clone, PartialEq)]
pub enum CompElement {
    /// A list element.
    List(Expr),
    /// A dict entry.
    Dict(Expr, Expr),
}

/// One `for target in iter if cond...` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct CompFor {
    /// What each item is bound to.
    pub target: Target,
    /// What is iterated.
    pub iter: Expr,
    /// Conditions an item must meet.
    pub conditions: Vec<Expr>,
}

/// A comprehension's loop variable(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One name.
    Name(String),
    /// Names unpacked from each item, possibly nested.
    Tuple(Vec<Target>),
}

impl Target {
    /// Every name the target binds.
    pub fn names(&self, out: &mut Vec<String>) {
        match self {
            Target::Name(name) => out.push(name.clone()),
            Target::Tuple(items) => items.iter().for_each(|t| t.names(out)),
        }
    }
}
