//! The evaluator of map expressions, node for node as singer-sdk's (simpleeval's
//! `EvalWithCompoundTypes`): names resolve to comprehension variables, then `_`, `record`,
//! `config`, `__stream_name__`, `__original_stream_name__` and `self`, then the record's
//! properties, then the built-in functions and modules; a call by bare name only ever calls
//! a built-in; `a.b` on a dict falls back to the key `b`; comprehensions build at most
//! 10000 items per evaluation.
//!
//! Nothing here can reach outside the values it is given: there is no way to name a file,
//! a process, the environment or Rust code, so an expression that passed
//! [`super::check`] can only compute.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::value::RawValue;

use super::args::{iterate, Args};
use super::ast::{CmpOp, CompElement, Comprehension, Const, DictItem, Expr, FPart, Item, Target};
use super::builtins::{call_function, call_method, index_of, no_attribute, slice_positions};
use super::format::format_value;
use super::json::{from_json_text, Floats};
use super::names;
use super::ops::{binary, unary, MAX_LENGTH};
use super::temporal;
use super::value::{
    check_hashable, dict_get, dict_set, py_cmp, py_eq, py_repr, py_str, weight, Val, MAX_WEIGHT,
};

type R = Result<Val, String>;

/// simpleeval's bound on the items comprehensions produce in one evaluation.
const MAX_COMPREHENSION: usize = 10_000;

/// A record's top-level properties as raw JSON, in order.
pub type Properties<'a> = [(Cow<'a, str>, &'a RawValue)];

/// What names mean while one expression is evaluated.
pub struct Env<'a> {
    /// The record's properties; `None` when evaluating a stream's `__alias__`.
    pub record: Option<&'a Properties<'a>>,
    /// `config`: `stream_map_config`.
    pub config: &'a Val,
    /// `__stream_name__`: the stream's name after aliasing.
    pub stream_name: &'a str,
    /// `__original_stream_name__`: the stream's name as the tap sent it.
    pub original_stream_name: &'a str,
    /// The property whose value `self` is (the one being computed), if the record has it.
    pub self_property: Option<&'a str>,
    /// `record` / `_`, built on first use.
    pub whole_record: OnceCell<Val>,
}

impl<'a> Env<'a> {
    /// The names of an `__alias__` expression: only `__stream_name__`.
    pub fn for_alias(stream_name: &'a str, config: &'a Val) -> Env<'a> {
        Env {
            record: None,
            config,
            stream_name,
            original_stream_name: stream_name,
            self_property: None,
            whole_record: OnceCell::new(),
        }
    }

    fn property(&self, name: &str) -> Option<&'a RawValue> {
        self.record?
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, raw)| *raw)
    }

    fn whole(&self) -> R {
        if let Some(value) = self.whole_record.get() {
            return Ok(value.clone());
        }
        let mut entries = Vec::new();
        for (key, raw) in self.record.unwrap_or(&[]) {
            entries.push((
                Val::Str(key.to_string()),
                from_json_text(raw.get(), Floats::Decimal)?,
            ));
        }
        let value = Val::Dict(entries);
        Ok(self.whole_record.get_or_init(|| value).clone())
    }
}

/// Evaluates `expr` with the names of `env`.
pub fn evaluate(expr: &Expr, env: &Env<'_>) -> R {
    Evaluator {
        env,
        locals: Vec::new(),
        produced: 0,
        built: 0,
    }
    .eval(expr)
}

/// Whether an evaluation failed because a name was not defined (an `__alias__` that is not
/// an expression is taken literally then, as singer-sdk does).
pub fn is_undefined_name(error: &str) -> bool {
    error.starts_with("NameError")
}

struct Evaluator<'e, 'a> {
    env: &'e Env<'a>,
    /// Comprehension variables, innermost last.
    locals: Vec<(String, Val)>,
    /// Items produced by comprehensions so far.
    produced: usize,
    /// Values comprehensions built so far (see [`weight`]).
    built: usize,
}

impl Evaluator<'_, '_> {
    // long function: one arm per kind of node, read as a table.
    fn eval(&mut self, expr: &Expr) -> R {
        match expr {
            Expr::Const(c) => Ok(match c {
                Const::None => Val::None,
                Const::Bool(b) => Val::Bool(*b),
                Const::Int(n) => Val::Int(n.clone()),
                Const::Float(f) => Val::Float(*f),
                Const::Str(s) => Val::Str(s.clone()),
            }),
            Expr::Name(name) => self.name(name),
            Expr::FString(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        FPart::Text(text) => out.push_str(text),
                        FPart::Value(expr, None) => out.push_str(&py_str(&self.eval(expr)?)),
                        FPart::Value(expr, Some(spec)) => {
                            out.push_str(&format_value(&self.eval(expr)?, spec)?)
                        }
                    }
                    if out.len() > MAX_LENGTH * 4 || out.chars().count() > MAX_LENGTH {
                        return Err("IterableTooLong: f-string too long".into());
                    }
                }
                Ok(Val::Str(out))
            }
            Expr::Attr(base, name) => {
                let value = self.eval(base)?;
                attribute(value, name)
            }
            Expr::Index(base, index) => {
                let container = self.eval(base)?;
                let index = self.eval(index)?;
                subscript(&container, &index)
            }
            Expr::Slice(base, parts) => {
                let container = self.eval(base)?;
                let mut bounds = [None, None, None];
                for (slot, part) in bounds.iter_mut().zip(parts) {
                    if let Some(part) = part {
                        *slot = Some(self.eval(part)?);
                    }
                }
                slice(&container, &bounds)
            }
            Expr::Call(func, args, keywords) => self.call(func, args, keywords),
            Expr::Unary(op, operand) => {
                let value = self.eval(operand)?;
                unary(*op, &value)
            }
            Expr::Binary(op, left, right) => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                binary(*op, &a, &b)
            }
            Expr::And(values) | Expr::Or(values) => {
                let want = matches!(expr, Expr::Or(_));
                let mut last = Val::Bool(false);
                for value in values {
                    last = self.eval(value)?;
                    if last.truthy() == want {
                        break;
                    }
                }
                Ok(last)
            }
            Expr::Compare(left, rest) => {
                let mut a = self.eval(left)?;
                for (op, right) in rest {
                    let b = self.eval(right)?;
                    if !compare(*op, &a, &b)? {
                        return Ok(Val::Bool(false));
                    }
                    a = b;
                }
                Ok(Val::Bool(true))
            }
            Expr::IfElse { test, body, orelse } => {
                if self.eval(test)?.truthy() {
                    self.eval(body)
                } else {
                    self.eval(orelse)
                }
            }
            Expr::List(items) => Ok(Val::List(self.items(items)?)),
            Expr::Tuple(items) => Ok(Val::Tuple(self.items(items)?)),
            Expr::Dict(items) => {
                let mut entries = Vec::new();
                for item in items {
                    match item {
                        DictItem::Pair(k, v) => {
                            let key = self.eval(k)?;
                            let value = self.eval(v)?;
                            dict_set(&mut entries, key, value)?;
                        }
                        DictItem::Spread(mapping) => match self.eval(mapping)? {
                            Val::Dict(source) => {
                                for (key, value) in source {
                                    dict_set(&mut entries, key, value)?;
                                }
                            }
                            other => {
                                return Err(format!(
                                    "TypeError: '{}' object is not a mapping",
                                    other.type_name()
                                ))
                            }
                        },
                    }
                }
                Ok(Val::Dict(entries))
            }
            Expr::Comp(comp) => self.comprehension(comp),
        }
    }

    fn items(&mut self, items: &[Item]) -> Result<Vec<Val>, String> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::One(expr) => out.push(self.eval(expr)?),
                Item::Spread(expr) => out.extend(iterate(&self.eval(expr)?)?),
            }
        }
        Ok(out)
    }

    fn name(&self, name: &str) -> R {
        if let Some((_, value)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(value.clone());
        }
        let env = self.env;
        if env.record.is_some() {
            match name {
                "_" | "record" => return env.whole(),
                "config" => return Ok(env.config.clone()),
                "__original_stream_name__" => {
                    return Ok(Val::Str(env.original_stream_name.to_string()))
                }
                "self" => {
                    if let Some(raw) = env.self_property.and_then(|p| env.property(p)) {
                        return from_json_text(raw.get(), Floats::Decimal);
                    }
                }
                _ => {}
            }
        }
        if name == "__stream_name__" {
            return Ok(Val::Str(env.stream_name.to_string()));
        }
        if let Some(raw) = env.property(name) {
            return from_json_text(raw.get(), Floats::Decimal);
        }
        if let Some(function) = names::function(name) {
            return Ok(Val::Func(function));
        }
        if let Some(module) = names::module(name) {
            return Ok(Val::Module(module));
        }
        Err(if env.record.is_some() {
            format!("NameError: name '{name}' is not defined (the record has no property '{name}')")
        } else {
            format!("NameError: name '{name}' is not defined")
        })
    }

    fn call(&mut self, func: &Expr, args: &[Expr], keywords: &[(String, Expr)]) -> R {
        let mut call_args = Args {
            positional: Vec::with_capacity(args.len()),
            keywords: Vec::with_capacity(keywords.len()),
        };
        // The callee first, then the arguments, as Python evaluates them.
        let callee = match func {
            Expr::Name(name) => match names::function(name) {
                Some(function) => Val::Func(function),
                None => return Err(format!("NameError: function '{name}' is not defined")),
            },
            Expr::Attr(base, method) => {
                let receiver = self.eval(base)?;
                match receiver {
                    Val::Module(_) | Val::Func(_) => attribute(receiver, method)?,
                    Val::Dict(ref entries) if !is_dict_method(method) => {
                        // simpleeval: `d.key(...)` calls the value under "key".
                        dict_get(entries, &Val::Str(method.clone()))
                            .cloned()
                            .ok_or_else(|| no_attribute(&receiver, method))?
                    }
                    other => Val::Method(Box::new(other), method.clone()),
                }
            }
            other => self.eval(other)?,
        };
        for arg in args {
            call_args.positional.push(self.eval(arg)?);
        }
        for (name, value) in keywords {
            call_args.keywords.push((name.clone(), self.eval(value)?));
        }
        call_value(callee, call_args)
    }

    fn comprehension(&mut self, comp: &Comprehension) -> R {
        let depth = self.locals.len();
        let mut list = Vec::new();
        let mut dict = Vec::new();
        let result = self.clause(comp, 0, &mut list, &mut dict);
        self.locals.truncate(depth);
        result?;
        Ok(match comp.element {
            CompElement::List(_) => Val::List(list),
            CompElement::Dict(..) => Val::Dict(dict),
        })
    }

    fn clause(
        &mut self,
        comp: &Comprehension,
        level: usize,
        list: &mut Vec<Val>,
        dict: &mut Vec<(Val, Val)>,
    ) -> Result<(), String> {
        let Some(clause) = comp.clauses.get(level) else {
            let built = match &comp.element {
                CompElement::List(element) => {
                    let value = self.eval(element)?;
                    let built = weight(&value);
                    list.push(value);
                    built
                }
                CompElement::Dict(k, v) => {
                    let key = self.eval(k)?;
                    let value = self.eval(v)?;
                    let built = weight(&key) + weight(&value);
                    dict_set(dict, key, value)?;
                    built
                }
            };
            self.built += built;
            if self.built > MAX_WEIGHT {
                return Err(format!(
                    "IterableTooLong: comprehensions may build at most {MAX_WEIGHT} values"
                ));
            }
            return Ok(());
        };
        let items = iterate(&self.eval(&clause.iter)?)?;
        let depth = self.locals.len();
        for item in items {
            self.produced += 1;
            if self.produced > MAX_COMPREHENSION {
                return Err(format!(
                    "IterableTooLong: comprehensions may produce at most {MAX_COMPREHENSION} items"
                ));
            }
            self.locals.truncate(depth);
            bind(&clause.target, item, &mut self.locals)?;
            let mut keep = true;
            for condition in &clause.conditions {
                if !self.eval(condition)?.truthy() {
                    keep = false;
                    break;
                }
            }
            if keep {
                self.clause(comp, level + 1, list, dict)?;
            }
        }
        Ok(())
    }
}

/// Binds a comprehension target, unpacking as Python does.
fn bind(target: &Target, value: Val, locals: &mut Vec<(String, Val)>) -> Result<(), String> {
    match target {
        Target::Name(name) => locals.push((name.clone(), value)),
        Target::Tuple(targets) => {
            let items = iterate(&value)?;
            if items.len() != targets.len() {
                return Err(if items.len() < targets.len() {
                    format!(
                        "ValueError: not enough values to unpack (expected {}, got {})",
                        targets.len(),
                        items.len()
                    )
                } else {
                    format!(
                        "ValueError: too many values to unpack (expected {})",
                        targets.len()
                    )
                });
            }
            for (t, v) in targets.iter().zip(items) {
                bind(t, v, locals)?;
            }
        }
    }
    Ok(())
}

fn is_dict_method(name: &str) -> bool {
    matches!(name, "get" | "keys" | "values" | "items" | "copy")
}

/// Calls a callable value.
fn call_value(callee: Val, args: Args) -> R {
    match callee {
        Val::Func(path) => call_path(path, args),
        Val::Method(receiver, name) => match *receiver {
            Val::Date(_) | Val::DateTime(_) | Val::Delta(_) => {
                temporal::call_method(&receiver, &name, args)
            }
            ref other => call_method(other, &name, args),
        },
        other => Err(format!(
            "TypeError: '{}' object is not callable",
            other.type_name()
        )),
    }
}

/// Calls a built-in by its dotted name.
fn call_path(path: &str, args: Args) -> R {
    match path {
        "json.dumps" => super::json::dumps(args),
        "json.loads" => super::json::loads(args),
        p if p.starts_with("datetime.") => temporal::call_member(p, args),
        p => call_function(p, args),
    }
}

/// `value.name`, not called.
fn attribute(value: Val, name: &str) -> R {
    if name.starts_with('_') {
        return Err(format!("access to the attribute '{name}' is not allowed"));
    }
    match &value {
        Val::Module(base) | Val::Func(base) => {
            let path = format!("{base}.{name}");
            if let Some(constant) = temporal::constant(&path) {
                return Ok(constant);
            }
            names::member(&path)
                .map(Val::Func)
                .ok_or_else(|| format!("AttributeError: '{path}' is not supported"))
        }
        Val::Date(_) | Val::DateTime(_) | Val::Delta(_) | Val::Zone(_) => {
            match temporal::attribute(&value, name) {
                Some(attr) => Ok(attr),
                None if names::is_method(name) => Ok(Val::Method(Box::new(value), name.into())),
                None => Err(no_attribute(&value, name)),
            }
        }
        Val::Dict(entries) => {
            if is_dict_method(name) {
                return Ok(Val::Method(Box::new(value), name.into()));
            }
            dict_get(entries, &Val::Str(name.into()))
                .cloned()
                .ok_or_else(|| format!("AttributeError: attribute '{name}' does not exist (the dict has no such key)"))
        }
        _ if names::is_method(name) => Ok(Val::Method(Box::new(value), name.into())),
        _ => Err(no_attribute(&value, name)),
    }
}

/// `container[index]`.
fn subscript(container: &Val, index: &Val) -> R {
    match container {
        Val::Str(s) => {
            let count = s.chars().count();
            let i = index_of(count, index, "string")?;
            Ok(Val::Str(
                s.chars().nth(i).map(String::from).unwrap_or_default(),
            ))
        }
        Val::List(items) => Ok(items[index_of(items.len(), index, "list")?].clone()),
        Val::Tuple(items) => Ok(items[index_of(items.len(), index, "tuple")?].clone()),
        Val::Dict(entries) => {
            check_hashable(index)?;
            dict_get(entries, index)
                .cloned()
                .ok_or_else(|| format!("KeyError: {}", py_repr(index)))
        }
        other => Err(format!(
            "TypeError: '{}' object is not subscriptable",
            other.type_name()
        )),
    }
}

/// `container[lower:upper:step]`.
fn slice(container: &Val, bounds: &[Option<Val>; 3]) -> R {
    let [lower, upper, step] = bounds;
    match container {
        Val::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let positions =
                slice_positions(chars.len(), lower.as_ref(), upper.as_ref(), step.as_ref())?;
            Ok(Val::Str(positions.into_iter().map(|i| chars[i]).collect()))
        }
        Val::List(items) | Val::Tuple(items) => {
            let positions =
                slice_positions(items.len(), lower.as_ref(), upper.as_ref(), step.as_ref())?;
            let picked: Vec<Val> = positions.into_iter().map(|i| items[i].clone()).collect();
            Ok(if matches!(container, Val::List(_)) {
                Val::List(picked)
            } else {
                Val::Tuple(picked)
            })
        }
        other => Err(format!(
            "TypeError: '{}' object is not subscriptable",
            other.type_name()
        )),
    }
}

/// One comparison of a chain.
fn compare(op: CmpOp, a: &Val, b: &Val) -> Result<bool, String> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let symbol = match op {
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        _ => "",
    };
    Ok(match op {
        CmpOp::Eq => py_eq(a, b),
        CmpOp::Ne => !py_eq(a, b),
        CmpOp::Lt => py_cmp(a, b, symbol)? == Some(Less),
        CmpOp::Le => matches!(py_cmp(a, b, symbol)?, Some(Less | Equal)),
        CmpOp::Gt => py_cmp(a, b, symbol)? == Some(Greater),
        CmpOp::Ge => matches!(py_cmp(a, b, symbol)?, Some(Greater | Equal)),
        CmpOp::In => contains(b, a)?,
        CmpOp::NotIn => !contains(b, a)?,
        CmpOp::Is => same(a, b),
        CmpOp::IsNot => !same(a, b),
    })
}

/// `is` between values where one side is `None`, `True` or `False` (the start-up check
/// refuses other uses of `is`).
fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::None, Val::None) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        _ => false,
    }
}

/// `item in container`.
fn contains(container: &Val, item: &Val) -> Result<bool, String> {
    match container {
        Val::Str(s) => match item {
            Val::Str(sub) => Ok(s.contains(sub.as_str())),
            other => Err(format!(
                "TypeError: 'in <string>' requires string as left operand, not {}",
                other.type_name()
            )),
        },
        Val::List(items) | Val::Tuple(items) | Val::View(_, items) => {
            Ok(items.iter().any(|v| py_eq(v, item)))
        }
        Val::Dict(entries) => {
            check_hashable(item)?;
            Ok(dict_get(entries, item).is_some())
        }
        other => Err(format!(
            "TypeError: argument of type '{}' is not iterable",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::parse::parse;

    fn run(text: &str) -> Result<String, String> {
        let config = Val::Dict(Vec::new());
        let env = Env::for_alias("s", &config);
        evaluate(&parse(text).unwrap(), &env).map(|v| py_repr(&v))
    }

    #[test]
    fn what_python_would_share_is_bounded_here() {
        assert!(run("[[0] * 100000] * 100000")
            .unwrap_err()
            .contains("IterableTooLong"));
        assert!(run("[[0] * 1000 for x in 'a' * 5000]")
            .unwrap_err()
            .contains("IterableTooLong"));
        assert!(run("('a' * 100000).replace('a', 'bb')")
            .unwrap_err()
            .contains("IterableTooLong"));
        assert!(run("[x for x in 'a' * 20000]")
            .unwrap_err()
            .contains("at most 10000 items"));
        assert_eq!(
            run("len([1])").unwrap_err(),
            "NameError: function 'len' is not defined"
        );
        assert_eq!(run("[x * 2 for x in (1, 2) if x > 1]").unwrap(), "[4]");
        assert_eq!(run("{k: v for k, v in [('a', 1)]}").unwrap(), "{'a': 1}");
        assert_eq!(
            run("[y for x in [[1, 2], [3]] for y in x]").unwrap(),
            "[1, 2, 3]"
        );
        assert_eq!(
            run("1 < 2 < 3 and 'b' in 'abc' and None is None").unwrap(),
            "True"
        );
        assert_eq!(run("0 or '' or [] or 'last'").unwrap(), "'last'");
        assert_eq!(run("'abcdef'[::-2]").unwrap(), "'fdb'");
        assert_eq!(run("{'a': {'b': 1}}.a.b").unwrap(), "1");
        assert_eq!(
            run("undefined").unwrap_err(),
            "NameError: name 'undefined' is not defined"
        );
    }
}
