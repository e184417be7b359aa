//! Python's operators on map values: the numeric tower (`bool` < `int` < `float`, and
//! `Decimal`, which mixes with `int` but not with `float`), sequences (`+`, `*`), dates and
//! durations, with simpleeval's safety limits (strings and lists of at most 100000 items,
//! powers of at most 4000000, shifts of at most 10000).

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};

use super::ast::{BinOp, UnaryOp};
use super::datetime::Delta;
use super::decimal::Decimal;
use super::value::{small_int, weight, Val, MAX_WEIGHT};

/// simpleeval's longest string or list an operator may build.
pub const MAX_LENGTH: usize = 100_000;
/// simpleeval's largest base or exponent of `**`.
const MAX_POWER: u32 = 4_000_000;
/// simpleeval's largest shift.
const MAX_SHIFT: u32 = 10_000;
/// The most bits an integer power may produce (Python has no bound; this keeps a bad
/// expression from taking minutes per record).
const MAX_POWER_BITS: u64 = 1_000_000;

type R = Result<Val, String>;

/// A number, with `bool` read as `int`.
enum Num<'a> {
    Int(std::borrow::Cow<'a, BigInt>),
    Float(f64),
    Dec(&'a Decimal),
}

fn num(value: &Val) -> Option<Num<'_>> {
    Some(match value {
        Val::Bool(b) => Num::Int(std::borrow::Cow::Owned(BigInt::from(u8::from(*b)))),
        Val::Int(n) => Num::Int(std::borrow::Cow::Borrowed(n)),
        Val::Float(f) => Num::Float(*f),
        Val::Dec(d) => Num::Dec(d),
        _ => return None,
    })
}

/// An int as a float, as Python converts it.
pub fn int_to_f64(n: &BigInt) -> Result<f64, String> {
    let f = n.to_f64().unwrap_or(f64::INFINITY);
    if f.is_infinite() {
        return Err("OverflowError: int too large to convert to float".into());
    }
    Ok(f)
}

fn unsupported(op: BinOp, a: &Val, b: &Val) -> String {
    format!(
        "TypeError: unsupported operand type(s) for {}: '{}' and '{}'",
        op.symbol(),
        a.type_name(),
        b.type_name()
    )
}

/// `a <op> b`.
pub fn binary(op: BinOp, a: &Val, b: &Val) -> R {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return numeric(op, x, y).unwrap_or_else(|| Err(unsupported(op, a, b)));
    }
    match (op, a, b) {
        (BinOp::Add, Val::Str(x), Val::Str(y)) => {
            check_length(x.chars().count() + y.chars().count())?;
            Ok(Val::Str(format!("{x}{y}")))
        }
        (BinOp::Add, Val::List(x), Val::List(y)) => {
            check_length(x.len() + y.len())?;
            Ok(Val::List(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Add, Val::Str(_), other) => Err(format!(
            "TypeError: can only concatenate str (not \"{}\") to str",
            other.type_name()
        )),
        (BinOp::Add, Val::List(_), other) => Err(format!(
            "TypeError: can only concatenate list (not \"{}\") to list",
            other.type_name()
        )),
        (BinOp::Add, Val::Tuple(x), Val::Tuple(y)) => {
            check_length(x.len() + y.len())?;
            Ok(Val::Tuple(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Mul, Val::Str(_) | Val::List(_) | Val::Tuple(_), _) if num(b).is_some() => {
            repeat(a, b, op)
        }
        (BinOp::Mul, _, Val::Str(_) | Val::List(_) | Val::Tuple(_)) if num(a).is_some() => {
            repeat(b, a, op)
        }
        (BinOp::Mod, Val::Str(_), _) => Err(
            "printf-style formatting (str % values) is not supported; use f-strings or +".into(),
        ),
        _ => temporal(op, a, b).unwrap_or_else(|| Err(unsupported(op, a, b))),
    }
}

fn check_length(length: usize) -> Result<(), String> {
    if length > MAX_LENGTH {
        return Err(format!(
            "IterableTooLong: result would be {length} long (at most {MAX_LENGTH})"
        ));
    }
    Ok(())
}

/// `sequence * count`.
fn repeat(sequence: &Val, count: &Val, op: BinOp) -> R {
    let Some(n) = small_int(count) else {
        return Err(unsupported(op, sequence, count));
    };
    let n = usize::try_from(n).unwrap_or(0);
    let empty = match sequence {
        Val::Str(s) => s.is_empty(),
        Val::List(items) | Val::Tuple(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        return Ok(sequence.clone());
    }
    match sequence {
        Val::Str(s) => {
            check_length(s.chars().count().saturating_mul(n))?;
            Ok(Val::Str(s.repeat(n)))
        }
        Val::List(items) | Val::Tuple(items) => {
            check_length(items.len().saturating_mul(n))?;
            if weight(sequence).saturating_mul(n) > MAX_WEIGHT {
                return Err(format!(
                    "IterableTooLong: the repeated list would hold more than {MAX_WEIGHT} values"
                ));
            }
            let repeated: Vec<Val> = (0..n).flat_map(|_| items.iter().cloned()).collect();
            Ok(if matches!(sequence, Val::List(_)) {
                Val::List(repeated)
            } else {
                Val::Tuple(repeated)
            })
        }
        _ => Err(unsupported(op, sequence, count)),
    }
}

/// Dates and durations: `datetime ± timedelta`, `datetime - datetime`, `date ± timedelta`,
/// `date - date`, `timedelta ± timedelta`, `timedelta * int`, `timedelta / timedelta`.
fn temporal(op: BinOp, a: &Val, b: &Val) -> Option<R> {
    let delta = |micros: i128| Delta::checked(micros).map(Val::Delta);
    Some(match (op, a, b) {
        (BinOp::Add, Val::DateTime(x), Val::Delta(d))
        | (BinOp::Add, Val::Delta(d), Val::DateTime(x)) => x.plus(d).map(Val::DateTime),
        (BinOp::Sub, Val::DateTime(x), Val::Delta(d)) => x
            .plus(&Delta::from_micros(-d.total_micros()))
            .map(Val::DateTime),
        (BinOp::Sub, Val::DateTime(x), Val::DateTime(y)) => x.minus(y).map(Val::Delta),
        (BinOp::Add, Val::Date(x), Val::Delta(d)) | (BinOp::Add, Val::Delta(d), Val::Date(x)) => {
            x.add_days(d.days).map(Val::Date)
        }
        (BinOp::Sub, Val::Date(x), Val::Delta(d)) => x.add_days(-d.days).map(Val::Date),
        (BinOp::Sub, Val::Date(x), Val::Date(y)) => {
            delta(i128::from(x.ordinal() - y.ordinal()) * 86_400_000_000)
        }
        (BinOp::Add, Val::Delta(x), Val::Delta(y)) => delta(x.total_micros() + y.total_micros()),
        (BinOp::Sub, Val::Delta(x), Val::Delta(y)) => delta(x.total_micros() - y.total_micros()),
        (BinOp::Mul, Val::Delta(x), n) | (BinOp::Mul, n, Val::Delta(x)) => {
            let n = small_int(n)?;
            match x.total_micros().checked_mul(i128::from(n)) {
                Some(micros) => delta(micros),
                None => Err("OverflowError: timedelta too large".into()),
            }
        }
        (BinOp::Div, Val::Delta(x), Val::Delta(y)) => {
            if y.is_zero() {
                Err("ZeroDivisionError: division by zero".into())
            } else {
                Ok(Val::Float(
                    x.total_micros() as f64 / y.total_micros() as f64,
                ))
            }
        }
        _ => return None,
    })
}

/// Arithmetic on two numbers; `None` when the types do not mix (float with Decimal) or the
/// operator does not apply.
fn numeric(op: BinOp, a: Num<'_>, b: Num<'_>) -> Option<R> {
    Some(match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_op(op, &x, &y),
        (Num::Float(x), Num::Float(y)) => float_op(op, x, y),
        (Num::Int(x), Num::Float(y)) => {
            if is_bitwise(op) {
                return None;
            }
            int_to_f64(&x).and_then(|x| float_op(op, x, y))
        }
        (Num::Float(x), Num::Int(y)) => {
            if is_bitwise(op) {
                return None;
            }
            int_to_f64(&y).and_then(|y| float_op(op, x, y))
        }
        (Num::Dec(x), Num::Dec(y)) => decimal_op(op, x, y)?,
        (Num::Dec(x), Num::Int(y)) => decimal_op(op, x, &Decimal::from_int(&y))?,
        (Num::Int(x), Num::Dec(y)) => decimal_op(op, &Decimal::from_int(&x), y)?,
        (Num::Float(_), Num::Dec(_)) | (Num::Dec(_), Num::Float(_)) => return None,
    })
}

fn is_bitwise(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::LShift | BinOp::RShift | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
    )
}

fn int_op(op: BinOp, x: &BigInt, y: &BigInt) -> R {
    let zero_division = || Err("ZeroDivisionError: integer division or modulo by zero".to_string());
    Ok(Val::Int(match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => {
            if y.is_zero() {
                return Err("ZeroDivisionError: division by zero".into());
            }
            return Ok(Val::Float(int_to_f64(x)? / int_to_f64(y)?));
        }
        BinOp::FloorDiv if y.is_zero() => return zero_division(),
        BinOp::FloorDiv => x.div_floor(y),
        BinOp::Mod if y.is_zero() => return zero_division(),
        BinOp::Mod => x.mod_floor(y),
        BinOp::Pow => {
            check_power(x.abs().to_f64(), y.abs().to_f64())?;
            if y.is_negative() {
                return float_op(op, int_to_f64(x)?, int_to_f64(y)?);
            }
            let exponent = y.to_u32().unwrap_or(u32::MAX);
            if x.bits().saturating_mul(u64::from(exponent)) > MAX_POWER_BITS {
                return Err("NumberTooHigh: the result would be too large".into());
            }
            x.pow(exponent)
        }
        BinOp::LShift | BinOp::RShift => {
            if y.is_negative() {
                return Err("ValueError: negative shift count".into());
            }
            let shift = y
                .to_u32()
                .filter(|s| *s <= MAX_SHIFT && x.bits() <= 1024)
                .ok_or("NumberTooHigh: shift too large")?;
            if op == BinOp::LShift {
                x << shift
            } else {
                x >> shift
            }
        }
        BinOp::BitAnd => x & y,
        BinOp::BitOr => x | y,
        BinOp::BitXor => x ^ y,
    }))
}

fn check_power(base: Option<f64>, exponent: Option<f64>) -> Result<(), String> {
    let limit = f64::from(MAX_POWER);
    if base.is_none_or(|b| b > limit) || exponent.is_none_or(|e| e > limit) {
        return Err(format!(
            "NumberTooHigh: bases and exponents of ** are limited to {MAX_POWER}"
        ));
    }
    Ok(())
}

/// CPython's float `//` and `%` (the remainder takes the divisor's sign).
fn float_div_mod(x: f64, y: f64) -> (f64, f64) {
    let mut modulo = x % y;
    let mut div = (x - modulo) / y;
    if modulo != 0.0 {
        if (y < 0.0) != (modulo < 0.0) {
            modulo += y;
            div -= 1.0;
        }
    } else {
        modulo = 0.0f64.copysign(y);
    }
    let floor = if div != 0.0 {
        let mut floor = div.floor();
        if div - floor > 0.5 {
            floor += 1.0;
        }
        floor
    } else {
        0.0f64.copysign(x / y)
    };
    (floor, modulo)
}

fn float_op(op: BinOp, x: f64, y: f64) -> R {
    let result = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y == 0.0 => return Err("ZeroDivisionError: float division by zero".into()),
        BinOp::Div => x / y,
        BinOp::FloorDiv if y == 0.0 => {
            return Err("ZeroDivisionError: float floor division by zero".into())
        }
        BinOp::FloorDiv => float_div_mod(x, y).0,
        BinOp::Mod if y == 0.0 => return Err("ZeroDivisionError: float modulo".into()),
        BinOp::Mod => float_div_mod(x, y).1,
        BinOp::Pow => {
            check_power(Some(x.abs()), Some(y.abs()))?;
            if x == 0.0 && y < 0.0 {
                return Err("ZeroDivisionError: 0.0 cannot be raised to a negative power".into());
            }
            if x < 0.0 && y.fract() != 0.0 {
                return Err(
                    "a negative number to a fractional power is complex: not supported".into(),
                );
            }
            let result = x.powf(y);
            if result.is_infinite() && x.is_finite() && y.is_finite() {
                return Err("OverflowError: (34, 'Numerical result out of range')".into());
            }
            result
        }
        _ => {
            return Err(format!(
                "TypeError: unsupported operand type(s) for {}: 'float' and 'float'",
                op.symbol()
            ))
        }
    };
    Ok(Val::Float(result))
}

fn decimal_op(op: BinOp, x: &Decimal, y: &Decimal) -> Option<R> {
    Some(match op {
        BinOp::Add => x.add(y).map(Val::Dec),
        BinOp::Sub => x.sub(y).map(Val::Dec),
        BinOp::Mul => x.mul(y).map(Val::Dec),
        BinOp::Div => x.div(y).map(Val::Dec),
        BinOp::FloorDiv => x.div_mod(y).map(|(q, _)| Val::Dec(q)),
        BinOp::Mod => x.div_mod(y).map(|(_, r)| Val::Dec(r)),
        BinOp::Pow => {
            if !y.is_integral() {
                return Some(Err(
                    "a Decimal to a non-integer power is not supported".into()
                ));
            }
            let exponent = y.trunc();
            if let Err(e) = check_power(Some(x.to_f64().abs()), exponent.abs().to_f64()) {
                return Some(Err(e));
            }
            x.pow_int(&exponent).map(Val::Dec)
        }
        _ => return None,
    })
}

/// `-x`, `+x`, `~x`, `not x`.
pub fn unary(op: UnaryOp, value: &Val) -> R {
    match (op, value) {
        (UnaryOp::Not, v) => Ok(Val::Bool(!v.truthy())),
        (UnaryOp::Neg, Val::Bool(b)) => Ok(Val::int(-i32::from(*b))),
        (UnaryOp::Neg, Val::Int(n)) => Ok(Val::Int(-n)),
        (UnaryOp::Neg, Val::Float(f)) => Ok(Val::Float(-f)),
        (UnaryOp::Neg, Val::Dec(d)) => d.negate().map(Val::Dec),
        (UnaryOp::Neg, Val::Delta(d)) => Delta::checked(-d.total_micros()).map(Val::Delta),
        (UnaryOp::Pos, Val::Bool(b)) => Ok(Val::int(i32::from(*b))),
        (UnaryOp::Pos, Val::Int(_) | Val::Float(_) | Val::Delta(_)) => Ok(value.clone()),
        (UnaryOp::Pos, Val::Dec(d)) => d.plus().map(Val::Dec),
        (UnaryOp::Invert, Val::Bool(b)) => Ok(Val::int(-1 - i32::from(*b))),
        (UnaryOp::Invert, Val::Int(n)) => Ok(Val::Int(-n - 1)),
        _ => {
            let symbol = match op {
                UnaryOp::Neg => "unary -",
                UnaryOp::Pos => "unary +",
                UnaryOp::Invert => "unary ~",
                UnaryOp::Not => "not",
            };
            Err(format!(
                "TypeError: bad operand type for {symbol}: '{}'",
                value.type_name()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::value::py_repr;

    fn i(n: i64) -> Val {
        Val::int(n)
    }

    fn d(text: &str) -> Val {
        Val::Dec(Decimal::parse(text).unwrap())
    }

    fn show(result: R) -> String {
        match result {
            Ok(v) => py_repr(&v),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn the_numeric_tower_is_pythons() {
        assert_eq!(show(binary(BinOp::Div, &i(7), &i(2))), "3.5");
        assert_eq!(show(binary(BinOp::FloorDiv, &i(-7), &i(2))), "-4");
        assert_eq!(show(binary(BinOp::Mod, &i(-7), &i(2))), "1");
        assert_eq!(show(binary(BinOp::Mod, &Val::Float(-7.0), &i(2))), "1.0");
        assert_eq!(
            show(binary(BinOp::FloorDiv, &Val::Float(7.5), &i(-2))),
            "-4.0"
        );
        assert_eq!(show(binary(BinOp::Pow, &i(2), &i(-1))), "0.5");
        assert_eq!(
            show(binary(BinOp::Pow, &i(2), &i(100))),
            "1267650600228229401496703205376"
        );
        assert_eq!(
            show(binary(BinOp::Add, &Val::Bool(true), &Val::Bool(true))),
            "2"
        );
        assert_eq!(show(binary(BinOp::Mul, &d("1.1"), &i(3))), "Decimal('3.3')");
        assert_eq!(
            show(binary(BinOp::Sub, &i(1), &d("0.10"))),
            "Decimal('0.90')"
        );
        assert_eq!(show(binary(BinOp::Mod, &d("-7"), &i(2))), "Decimal('-1')");
        assert_eq!(
            show(binary(BinOp::Add, &Val::Float(1.0), &d("1.5"))),
            "error: TypeError: unsupported operand type(s) for +: 'float' and 'decimal.Decimal'"
        );
        assert!(show(binary(BinOp::Div, &i(1), &i(0))).contains("ZeroDivisionError"));
        assert!(show(binary(BinOp::Pow, &i(10), &i(5_000_000))).contains("NumberTooHigh"));
        assert_eq!(show(binary(BinOp::BitAnd, &i(6), &i(3))), "2");
        assert_eq!(show(unary(UnaryOp::Invert, &i(5))), "-6");
    }

    #[test]
    fn sequences_have_simpleevals_limits() {
        let s = Val::Str("ab".into());
        assert_eq!(show(binary(BinOp::Mul, &s, &i(3))), "'ababab'");
        assert_eq!(
            show(binary(BinOp::Mul, &i(2), &Val::List(vec![i(1)]))),
            "[1, 1]"
        );
        assert!(show(binary(BinOp::Mul, &s, &i(60_000))).contains("IterableTooLong"));
        assert_eq!(
            show(binary(BinOp::Add, &s, &i(1))),
            "error: TypeError: can only concatenate str (not \"int\") to str"
        );
    }
}
