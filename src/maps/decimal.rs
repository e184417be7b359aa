//! Python's `decimal.Decimal`, as far as map expressions meet it: singer-sdk reads a
//! record's non-integer numbers as `Decimal`, so `price * 2` is decimal arithmetic in the
//! default context (28 significant digits, round half even), and `str(price)` keeps the
//! digits as sent. Only finite values occur (JSON has no NaN or Infinity).
//!
//! A value is `(-1)^neg × coef × 10^exp`, exactly as Python keeps it: `1.10` and `1.1` are
//! equal but print differently.

use std::cmp::Ordering;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The default context's precision.
const PREC: usize = 28;
/// The default context's largest adjusted exponent.
const EMAX: i64 = 999_999;
/// The smallest exponent of a rounded result (Python's Etiny).
const ETINY: i64 = -999_999 - (PREC as i64) + 1;
/// Results with more digits than this are refused rather than computed.
const MAX_DIGITS: u64 = 100_000;

/// A finite decimal number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    /// The sign (a zero may be negative, as in Python).
    pub neg: bool,
    /// The coefficient.
    pub coef: BigUint,
    /// The exponent.
    pub exp: i64,
}

fn pow10(n: u64) -> BigUint {
    BigUint::from(10u32).pow(u32::try_from(n).unwrap_or(u32::MAX))
}

fn digit_count(n: &BigUint) -> u64 {
    if n.is_zero() {
        return 1;
    }
    n.to_string().len() as u64
}

impl Decimal {
    /// A JSON number literal, exactly (`3.140` keeps its trailing zero).
    pub fn parse(text: &str) -> Option<Decimal> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], body[at + 1..].parse::<i64>().ok()?),
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let digits = format!("{int}{frac}");
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let coef = digits.parse::<BigUint>().ok()?;
        let exp = exponent.checked_sub(i64::try_from(frac.len()).ok()?)?;
        Some(Decimal { neg, coef, exp })
    }

    /// An integer as a decimal (exponent 0).
    pub fn from_int(value: &BigInt) -> Decimal {
        Decimal {
            neg: value.sign() == Sign::Minus,
            coef: value.magnitude().clone(),
            exp: 0,
        }
    }

    /// Whether it is zero (of either sign).
    pub fn is_zero(&self) -> bool {
        self.coef.is_zero()
    }

    /// Python's `str()`: scientific notation only for large exponents or tiny values.
    pub fn to_sci_string(&self) -> String {
        let digits = self.coef.to_string();
        let len = digits.len() as i64;
        let left = self.exp + len;
        let dot = if self.exp <= 0 && left > -6 { left } else { 1 };
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        if dot <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-dot) as usize));
            out.push_str(&digits);
        } else if dot >= len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (dot - len) as usize));
        } else {
            out.push_str(&digits[..dot as usize]);
            out.push('.');
            out.push_str(&digits[dot as usize..]);
        }
        if left != dot {
            let e = left - dot;
            out.push_str(&format!("E{}{e}", if e >= 0 { "+" } else { "" }));
        }
        out
    }

    /// Rounded half to even to `places` digits after the point, as `format(d, '.Nf')` rounds.
    pub fn quantize(&self, places: usize) -> Result<Decimal, String> {
        let target = -i64::try_from(places).map_err(|_| "precision too large")?;
        if self.exp >= target {
            let shift = (self.exp - target).unsigned_abs();
            if shift > MAX_DIGITS {
                return Err("decimal too large to format".into());
            }
            return Ok(Decimal {
                neg: self.neg,
                coef: &self.coef * pow10(shift),
                exp: target,
            });
        }
        let drop = (target - self.exp).unsigned_abs();
        if drop > digit_count(&self.coef) {
            // Less than half a unit of the last place: zero.
            return Ok(Decimal {
                neg: self.neg,
                coef: BigUint::zero(),
                exp: target,
            });
        }
        let divisor = pow10(drop);
        let (mut q, r) = self.coef.div_rem(&divisor);
        let twice = &r * 2u32;
        if twice > divisor || (twice == divisor && q.is_odd()) {
            q += 1u32;
        }
        Ok(Decimal {
            neg: self.neg,
            coef: q,
            exp: target,
        })
    }

    /// The magnitude in plain notation, without an exponent (`1.5E+3` → `1500`).
    pub fn to_plain_string(&self) -> String {
        let digits = self.coef.to_string();
        if self.exp >= 0 {
            return format!("{digits}{}", "0".repeat(self.exp as usize));
        }
        let point = digits.len() as i64 + self.exp;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        }
    }

    /// The value truncated toward zero.
    pub fn trunc(&self) -> BigInt {
        let magnitude = if self.exp >= 0 {
            &self.coef * pow10(self.exp as u64)
        } else {
            &self.coef / pow10(self.exp.unsigned_abs())
        };
        BigInt::from_biguint(if self.neg { Sign::Minus } else { Sign::Plus }, magnitude)
    }

    /// Whether it has no fractional part.
    pub fn is_integral(&self) -> bool {
        self.exp >= 0 || (&self.coef % pow10(self.exp.unsigned_abs())).is_zero()
    }

    /// The nearest float (Python's `float(d)`).
    pub fn to_f64(&self) -> f64 {
        self.to_sci_string().parse().unwrap_or(f64::NAN)
    }

    /// The value as a fraction `(numerator, denominator)`, for exact comparisons.
    pub fn to_fraction(&self) -> (BigInt, BigInt) {
        let sign = if self.neg { Sign::Minus } else { Sign::Plus };
        if self.exp >= 0 {
            let num = &self.coef * pow10(self.exp as u64);
            (BigInt::from_biguint(sign, num), BigInt::one())
        } else {
            (
                BigInt::from_biguint(sign, self.coef.clone()),
                BigInt::from(pow10(self.exp.unsigned_abs())),
            )
        }
    }

    /// Rounds to the context (28 digits, half even), as Python does after every operation.
    fn fixed(mut self) -> Result<Decimal, String> {
        let digits = digit_count(&self.coef);
        if digits > PREC as u64 {
            let drop = digits - PREC as u64;
            let divisor = pow10(drop);
            let (mut q, r) = self.coef.div_rem(&divisor);
            let twice = &r * 2u32;
            if twice > divisor || (twice == divisor && q.is_odd()) {
                q += 1u32;
            }
            self.exp += drop as i64;
            if digit_count(&q) > PREC as u64 {
                q /= 10u32;
                self.exp += 1;
            }
            self.coef = q;
        }
        let adjusted = self.exp + digit_count(&self.coef) as i64 - 1;
        if !self.coef.is_zero() && adjusted > EMAX {
            return Err("decimal.Overflow: result too large".into());
        }
        if !self.coef.is_zero() && self.exp < ETINY {
            return Err("decimal result too small (below 1E-1000026) is not supported".into());
        }
        Ok(self)
    }

    /// `-d` (rounded to the context, as Python's unary minus is).
    pub fn negate(&self) -> Result<Decimal, String> {
        let mut out = self.clone();
        out.neg = !self.neg && !self.coef.is_zero();
        out.fixed()
    }

    /// `+d`.
    pub fn plus(&self) -> Result<Decimal, String> {
        let mut out = self.clone();
        if out.coef.is_zero() {
            out.neg = false;
        }
        out.fixed()
    }

    /// Both coefficients scaled to the smaller exponent, signed.
    fn aligned(&self, other: &Decimal) -> Result<(BigInt, BigInt, i64), String> {
        let exp = self.exp.min(other.exp);
        let scale = |d: &Decimal| -> Result<BigInt, String> {
            let shift = (d.exp - exp).unsigned_abs();
            if shift > MAX_DIGITS {
                return Err("decimal operands too far apart in magnitude".into());
            }
            let magnitude = &d.coef * pow10(shift);
            Ok(BigInt::from_biguint(
                if d.neg { Sign::Minus } else { Sign::Plus },
                magnitude,
            ))
        };
        Ok((scale(self)?, scale(other)?, exp))
    }

    /// `a + b`.
    pub fn add(&self, other: &Decimal) -> Result<Decimal, String> {
        let (a, b, exp) = self.aligned(other)?;
        let sum = a + b;
        let neg = if sum.is_zero() {
            self.neg && other.neg
        } else {
            sum.is_negative()
        };
        Decimal {
            neg,
            coef: sum.magnitude().clone(),
            exp,
        }
        .fixed()
    }

    /// `a - b`.
    pub fn sub(&self, other: &Decimal) -> Result<Decimal, String> {
        let mut negated = other.clone();
        negated.neg = !other.neg;
        self.add(&negated)
    }

    /// `a * b`.
    pub fn mul(&self, other: &Decimal) -> Result<Decimal, String> {
        Decimal {
            neg: self.neg != other.neg,
            coef: &self.coef * &other.coef,
            exp: self.exp + other.exp,
        }
        .fixed()
    }

    /// `a / b`, correctly rounded; exact quotients come as close to the ideal exponent as
    /// their digits allow (`Decimal('1.00') / 4` is `0.25`).
    pub fn div(&self, other: &Decimal) -> Result<Decimal, String> {
        if other.coef.is_zero() {
            return Err(if self.coef.is_zero() {
                "decimal.InvalidOperation: 0 / 0".into()
            } else {
                "decimal.DivisionByZero: division by zero".into()
            });
        }
        let neg = self.neg != other.neg;
        let ideal = self.exp - other.exp;
        if self.coef.is_zero() {
            return Decimal {
                neg,
                coef: BigUint::zero(),
                exp: ideal,
            }
            .fixed();
        }
        let shift =
            digit_count(&other.coef) as i64 - digit_count(&self.coef) as i64 + PREC as i64 + 1;
        let mut exp = ideal - shift;
        let (mut coef, remainder) = if shift >= 0 {
            (&self.coef * pow10(shift as u64)).div_rem(&other.coef)
        } else {
            self.coef
                .div_rem(&(&other.coef * pow10(shift.unsigned_abs())))
        };
        if !remainder.is_zero() {
            // Inexact: make the last digit non-zero so that rounding sees the remainder.
            if (&coef % 5u32).is_zero() {
                coef += 1u32;
            }
        } else {
            while exp < ideal && (&coef % 10u32).is_zero() {
                coef /= 10u32;
                exp += 1;
            }
        }
        Decimal { neg, coef, exp }.fixed()
    }

    /// Python's divide-integer and remainder (`//` and `%` on decimals): the quotient
    /// truncated toward zero, and a remainder with the dividend's sign.
    pub fn div_mod(&self, other: &Decimal) -> Result<(Decimal, Decimal), String> {
        if other.coef.is_zero() {
            return Err("decimal.DivisionByZero: integer division or modulo by zero".into());
        }
        let (a, b, exp) = self.aligned(other)?;
        let (q, r) = (a.magnitude().clone()).div_rem(b.magnitude());
        if digit_count(&q) > PREC as u64 {
            return Err("decimal.InvalidOperation: quotient too large (DivisionImpossible)".into());
        }
        let quotient = Decimal {
            neg: self.neg != other.neg,
            coef: q,
            exp: 0,
        };
        let remainder = Decimal {
            neg: self.neg,
            coef: r,
            exp,
        };
        Ok((quotient, remainder.fixed()?))
    }

    /// `d ** n` for an integer `n`, correctly rounded.
    pub fn pow_int(&self, n: &BigInt) -> Result<Decimal, String> {
        if n.is_zero() {
            if self.coef.is_zero() {
                return Err("decimal.InvalidOperation: 0 ** 0".into());
            }
            return Ok(Decimal {
                neg: false,
                coef: BigUint::one(),
                exp: 0,
            });
        }
        let k = n
            .magnitude()
            .to_u64()
            .filter(|k| digit_count(&self.coef).saturating_mul(*k) <= MAX_DIGITS)
            .ok_or("decimal power too large")?;
        let exact = Decimal {
            neg: self.neg && k % 2 == 1,
            coef: self
                .coef
                .pow(u32::try_from(k).map_err(|_| "decimal power too large")?),
            exp: self
                .exp
                .checked_mul(k as i64)
                .ok_or("decimal power too large")?,
        };
        if n.is_negative() {
            let one = Decimal {
                neg: false,
                coef: BigUint::one(),
                exp: 0,
            };
            one.div(&exact)
        } else {
            exact.fixed()
        }
    }

    /// Exact comparison of values (`1.10 == 1.1`).
    pub fn cmp_value(&self, other: &Decimal) -> Ordering {
        match self.aligned(other) {
            Ok((a, b, _)) => a.cmp(&b),
            Err(_) => {
                // Far apart: the one with the larger adjusted exponent is larger in magnitude.
                let (an, ad) = self.to_fraction();
                let (bn, bd) = other.to_fraction();
                (an * bd).cmp(&(bn * ad))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn s(result: Result<Decimal, String>) -> String {
        result.unwrap().to_sci_string()
    }

    #[test]
    fn str_is_pythons() {
        for (text, shown) in [
            ("3.14", "3.14"),
            ("3.140", "3.140"),
            ("-0.0", "-0.0"),
            ("1e2", "1E+2"),
            ("1.5E-7", "1.5E-7"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("123", "123"),
            ("12.5e1", "125"),
        ] {
            assert_eq!(d(text).to_sci_string(), shown, "{text}");
        }
    }

    #[test]
    fn arithmetic_is_the_default_contexts() {
        assert_eq!(s(d("1.1").mul(&d("3"))), "3.3");
        assert_eq!(s(d("1.10").add(&d("2.205"))), "3.305");
        assert_eq!(s(d("1").div(&d("3"))), "0.3333333333333333333333333333");
        assert_eq!(s(d("2").div(&d("3"))), "0.6666666666666666666666666667");
        assert_eq!(s(d("1.00").div(&d("4"))), "0.25");
        assert_eq!(s(d("10").div(&d("4"))), "2.5");
        assert_eq!(s(d("100").div(&d("10"))), "10");
        assert_eq!(s(d("1").sub(&d("1"))), "0");
        assert_eq!(s(d("-0").add(&d("-0"))), "-0");
        assert_eq!(s(d("1.10").pow_int(&2.into())), "1.2100");
        assert_eq!(s(d("2").pow_int(&(-1).into())), "0.5");
        let (q, r) = d("-7").div_mod(&d("2")).unwrap();
        assert_eq!(
            (q.to_sci_string(), r.to_sci_string()),
            ("-3".into(), "-1".into())
        );
        assert_eq!(
            s(d("1234567890123456789012345678.9").plus()),
            "1234567890123456789012345679"
        );
        assert!(d("1").div(&d("0")).unwrap_err().contains("DivisionByZero"));
    }

    #[test]
    fn comparisons_and_conversions_are_exact() {
        assert_eq!(d("1.10").cmp_value(&d("1.1")), Ordering::Equal);
        assert_eq!(d("-2").cmp_value(&d("1e-9")), Ordering::Less);
        assert_eq!(d("-3.99").trunc(), BigInt::from(-3));
        assert_eq!(d("2.5").to_f64(), 2.5);
        assert!(d("2.000").is_integral() && !d("2.5").is_integral());
    }
}
