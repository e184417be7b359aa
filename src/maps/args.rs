//! The arguments of a call, and iteration: what every built-in function and method shares.

use super::value::Val;

/// Call arguments: positional, then keyword.
pub struct Args {
    /// Positional arguments.
    pub positional: Vec<Val>,
    /// Keyword arguments.
    pub keywords: Vec<(String, Val)>,
}

impl Args {
    /// Arguments of a call with positional values only.
    pub fn new(positional: Vec<Val>) -> Args {
        Args {
            positional,
            keywords: Vec::new(),
        }
    }

    /// The argument at `index`, or given as `name`.
    pub fn get(&self, index: usize, name: &str) -> Option<&Val> {
        self.positional.get(index).or_else(|| {
            self.keywords
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        })
    }

    /// Fails unless at most `max` arguments were given (`min` at least).
    pub fn count(&self, function: &str, min: usize, max: usize) -> Result<(), String> {
        let given = self.positional.len() + self.keywords.len();
        if given < min || given > max {
            let expected = if min == max {
                format!("exactly {min}")
            } else if given < min {
                format!("at least {min}")
            } else {
                format!("at most {max}")
            };
            return Err(format!(
                "TypeError: {function}() takes {expected} argument{} ({given} given)",
                if max == 1 && min == max { "" } else { "s" }
            ));
        }
        Ok(())
    }
}

/// The items of an iterable, as Python's `for` sees them.
pub fn iterate(value: &Val) -> Result<Vec<Val>, String> {
    match value {
        Val::List(items) | Val::Tuple(items) | Val::View(_, items) => Ok(items.clone()),
        Val::Str(s) => Ok(s.chars().map(|c| Val::Str(c.to_string())).collect()),
        Val::Dict(entries) => Ok(entries.iter().map(|(k, _)| k.clone()).collect()),
        other => Err(format!(
            "TypeError: '{}' object is not iterable",
            other.type_name()
        )),
    }
}
