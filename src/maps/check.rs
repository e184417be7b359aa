//! The start-up check of a parsed map expression: everything it calls must be a function,
//! module member or method that stream maps support here, with keyword arguments that
//! callable takes; `fake` (Faker) is refused by name; attributes starting with `_` are
//! refused, as simpleeval refuses them; `is` is allowed only against `None`, `True` or
//! `False`. What passes can still fail on a record's values (a missing property, a type
//! error), as it would in Python; it can never do anything but compute.

use super::ast::{CmpOp, CompElement, Const, DictItem, Expr, FPart, Item};
use super::datetime::DateTime;
use super::names::{
    is_method, keywords_of, member, FUNCTIONS, METHODS, MODULES, REFUSED_FUNCTIONS,
};
use super::strptime;
use super::temporal::constant;

/// Attribute names simpleeval never allows.
const DISALLOWED_ATTRIBUTES: &[&str] = &[
    "format",
    "format_map",
    "mro",
    "tb_frame",
    "gi_frame",
    "ag_frame",
    "cr_frame",
    "exec",
];

/// Checks a whole expression.
pub fn check(expr: &Expr) -> Result<(), String> {
    walk(expr, &mut Vec::new())
}

/// Checks an `__alias__` expression: there `fake` is only a name that is not defined (so
/// the alias is taken literally, as singer-sdk takes it).
pub fn check_alias(expr: &Expr) -> Result<(), String> {
    walk(expr, &mut vec!["fake".to_string()])
}

/// The dotted path of `datetime.x.y` / `json.x`, when `expr` is one (and no comprehension
/// variable hides the module's name).
fn module_path(expr: &Expr, locals: &[String]) -> Option<String> {
    match expr {
        Expr::Name(name) if MODULES.contains(&name.as_str()) && !locals.contains(name) => {
            Some(name.clone())
        }
        Expr::Attr(base, attr) => module_path(base, locals).map(|p| format!("{p}.{attr}")),
        _ => None,
    }
}

fn check_keywords(callable: &str, keywords: &[(String, Expr)]) -> Result<(), String> {
    if callable == "dict" {
        return Ok(());
    }
    let allowed = keywords_of(callable).unwrap_or(&[]);
    for (name, _) in keywords {
        if !allowed.contains(&name.as_str()) {
            return Err(if allowed.is_empty() {
                format!("{callable}() takes no keyword arguments here (got {name}=)")
            } else {
                format!(
                    "{callable}() keyword argument {name}= is not supported (supported: {})",
                    allowed.join(", ")
                )
            });
        }
    }
    Ok(())
}

fn check_attribute(name: &str) -> Result<(), String> {
    if name.starts_with('_') || name.starts_with("func_") || DISALLOWED_ATTRIBUTES.contains(&name) {
        return Err(format!("access to the attribute .{name} is not allowed"));
    }
    Ok(())
}

fn check_member(path: &str, called: bool) -> Result<(), String> {
    let known = member(path).is_some() || constant(path).is_some() || MODULES.contains(&path);
    if !known {
        let mut supported: Vec<&str> = super::names::MEMBERS.to_vec();
        supported.retain(|m| m.starts_with(path.split('.').next().unwrap_or("")));
        return Err(format!(
            "{path} is not supported (supported: {})",
            supported.join(", ")
        ));
    }
    if called && (member(path).is_none() || constant(path).is_some()) {
        return Err(format!("{path} is not callable"));
    }
    Ok(())
}

// long function: one arm per kind of node, read as a table.
fn walk(expr: &Expr, locals: &mut Vec<String>) -> Result<(), String> {
    match expr {
        Expr::Const(_) => Ok(()),
        Expr::Name(name) => {
            if name == "fake" && !locals.contains(name) {
                return Err(
                    "`fake` (Faker) is not supported: target-postgres has no Faker; mask with md5() or sha256() instead"
                        .into(),
                );
            }
            Ok(())
        }
        Expr::FString(parts) => parts.iter().try_for_each(|part| match part {
            FPart::Text(_) => Ok(()),
            FPart::Value(expr, _) => walk(expr, locals),
        }),
        Expr::Attr(base, name) => {
            check_attribute(name)?;
            if let Some(path) = module_path(expr, locals) {
                return check_member(&path, false);
            }
            walk(base, locals)
        }
        Expr::Index(base, index) => {
            walk(base, locals)?;
            walk(index, locals)
        }
        Expr::Slice(base, parts) => {
            walk(base, locals)?;
            parts.iter().flatten().try_for_each(|p| walk(p, locals))
        }
        Expr::Call(func, args, keywords) => {
            check_callee(func, args, keywords, locals)?;
            args.iter().try_for_each(|a| walk(a, locals))?;
            keywords.iter().try_for_each(|(_, v)| walk(v, locals))
        }
        Expr::Unary(_, operand) => walk(operand, locals),
        Expr::Binary(_, left, right) => {
            walk(left, locals)?;
            walk(right, locals)
        }
        Expr::And(values) | Expr::Or(values) => values.iter().try_for_each(|v| walk(v, locals)),
        Expr::Compare(left, rest) => {
            let mut previous: &Expr = left;
            for (op, right) in rest {
                if matches!(op, CmpOp::Is | CmpOp::IsNot)
                    && !is_singleton(previous)
                    && !is_singleton(right)
                {
                    return Err(
                        "`is` / `is not` compare identity, which is only defined here against None, True or False; use == or !="
                            .into(),
                    );
                }
                previous = right;
            }
            walk(left, locals)?;
            rest.iter().try_for_each(|(_, r)| walk(r, locals))
        }
        Expr::IfElse { test, body, orelse } => {
            walk(test, locals)?;
            walk(body, locals)?;
            walk(orelse, locals)
        }
        Expr::List(items) | Expr::Tuple(items) => items.iter().try_for_each(|item| match item {
            Item::One(e) | Item::Spread(e) => walk(e, locals),
        }),
        Expr::Dict(items) => items.iter().try_for_each(|item| match item {
            DictItem::Pair(k, v) => {
                walk(k, locals)?;
                walk(v, locals)
            }
            DictItem::Spread(e) => walk(e, locals),
        }),
        Expr::Comp(comp) => {
            let depth = locals.len();
            for clause in &comp.clauses {
                walk(&clause.iter, locals)?;
                clause.target.names(locals);
                clause.conditions.iter().try_for_each(|c| walk(c, locals))?;
            }
            let outcome = match &comp.element {
                CompElement::List(e) => walk(e, locals),
                CompElement::Dict(k, v) => walk(k, locals).and_then(|()| walk(v, locals)),
            };
            locals.truncate(depth);
            outcome
        }
    }
}

/// A literal format's directives must be ones `function` supports.
fn check_format(format: Option<&Expr>, function: &str, supported: &str) -> Result<(), String> {
    if let Some(Expr::Const(Const::Str(format))) = format {
        if let Some(directive) = strptime::unsupported_directive(format, supported) {
            return Err(format!(
                "{function} directive %{directive} is not supported (supported: {})",
                supported
                    .chars()
                    .map(|d| format!("%{d}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    Ok(())
}

fn is_singleton(expr: &Expr) -> bool {
    matches!(expr, Expr::Const(Const::None | Const::Bool(_)))
}

/// What a call calls must be a supported function, member or method.
fn check_callee(
    func: &Expr,
    args: &[Expr],
    keywords: &[(String, Expr)],
    locals: &mut Vec<String>,
) -> Result<(), String> {
    match func {
        Expr::Name(name) => {
            if let Some((_, reason)) = REFUSED_FUNCTIONS.iter().find(|(n, _)| n == name) {
                return Err(format!("{name}() is not supported: {reason}"));
            }
            if !FUNCTIONS.contains(&name.as_str()) {
                return Err(format!(
                    "{name}() is not a function stream maps have (singer-sdk's are: {}, and the datetime and json modules)",
                    FUNCTIONS.join(", ")
                ));
            }
            check_keywords(name, keywords)
        }
        Expr::Attr(base, method) => {
            check_attribute(method)?;
            if let Some(path) = module_path(func, locals) {
                check_member(&path, true)?;
                if path == "datetime.datetime.strptime" {
                    check_format(args.get(1), "strptime", strptime::DIRECTIVES)?;
                }
                return check_keywords(&path, keywords);
            }
            walk(base, locals)?;
            if !is_method(method) {
                return Err(format!(
                    ".{method}() is not a method stream maps support here (supported: {})",
                    METHODS.join(", ")
                ));
            }
            if method == "strftime" {
                check_format(args.first(), "strftime", DateTime::STRFTIME_DIRECTIVES)?;
            }
            check_keywords(method, keywords)
        }
        other => walk(other, locals),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::parse::parse;

    fn outcome(text: &str) -> Result<(), String> {
        check(&parse(text).unwrap())
    }

    #[test]
    fn the_sdks_documented_expressions_pass() {
        for text in [
            "md5(config['hash_seed'] + owner_email)",
            "owner_email.split('@')[-1]",
            "int(datetime.date.fromisoformat(create_date).year)",
            "float(datetime.datetime.fromisoformat(joined_at).timestamp())",
            "datetime.datetime.fromisoformat(joined_at).date()",
            "json.dumps(user, default=str)",
            "dict([(x['id'], x['value']) for x in custom_fields]).get(2)",
            "[f for f in fields if f['key'] != 'age']",
            "bool(status_value) if status_value else None",
            "self.upper()",
            "_['email'].upper()",
            "__stream_name__ + '_v2'",
            "x is None or x is not True",
            "user.sub.num",
            "datetime.timezone.utc",
        ] {
            outcome(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn what_is_refused_is_named() {
        for (text, named) in [
            ("fake.phone_number()", "`fake` (Faker)"),
            (
                "fake.seed_instance(email) or fake.email()",
                "`fake` (Faker)",
            ),
            ("len(name)", "len() is not a function"),
            ("rand()", "rand() is not supported"),
            ("set([1])", "set() is not supported"),
            ("name.append(1)", ".append() is not a method"),
            ("name.__class__", "attribute .__class__"),
            ("name.format(1)", "attribute .format"),
            (
                "datetime.datetime.strptime(x, '%Y %c')",
                "strptime directive %c is not supported",
            ),
            (
                "d.strftime('%Y %s')",
                "strftime directive %s is not supported",
            ),
            ("json.load(x)", "json.load is not supported"),
            ("datetime.timezone.utc()", "not callable"),
            ("json.dumps(x, cls=y)", "keyword argument cls="),
            (
                "md5(x, usedforsecurity=False)",
                "md5() takes no keyword arguments",
            ),
            ("a is b", "`is`"),
        ] {
            let err = outcome(text).expect_err(text);
            assert!(err.contains(named), "{text}: {err}");
        }
        // A comprehension variable named like a module is a variable.
        outcome("[json.upper() for json in names]").unwrap();
    }
}
