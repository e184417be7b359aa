//! A format spec of Python's mini-language (`[[fill]align][sign][#][0][width][,|_][.precision][type]`),
//! parsed at start-up; [`super::format`] applies it to a value.

/// A parsed format spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The fill character.
    pub fill: char,
    /// `<`, `>`, `=` or `^`.
    pub align: Option<char>,
    /// `+`, `-` or ` `.
    pub sign: char,
    /// `#`.
    pub alternate: bool,
    /// The minimum width.
    pub width: usize,
    /// `,` or `_`.
    pub grouping: Option<char>,
    /// `.N`.
    pub precision: Option<usize>,
    /// The type letter.
    pub kind: Option<char>,
}

/// Widths and precisions beyond this are refused (they only build huge strings).
const MAX_WIDTH: usize = 10_000;

/// Parses a spec, refusing what is not supported here.
pub fn parse_spec(spec: &str) -> Result<Spec, String> {
    let refuse = |why: &str| format!("format spec {spec:?}: {why}");
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut out = Spec {
        fill: ' ',
        align: None,
        sign: '-',
        alternate: false,
        width: 0,
        grouping: None,
        precision: None,
        kind: None,
    };
    let is_align = |c: Option<&char>| matches!(c, Some('<' | '>' | '=' | '^'));
    if is_align(chars.get(1)) {
        out.fill = chars[0];
        out.align = chars.get(1).copied();
        i = 2;
    } else if is_align(chars.first()) {
        out.align = chars.first().copied();
        i = 1;
    }
    if let Some(&s @ ('+' | '-' | ' ')) = chars.get(i) {
        out.sign = s;
        i += 1;
    }
    if chars.get(i) == Some(&'z') {
        return Err(refuse("the z option is not supported"));
    }
    // `#` and `0`.
    if chars.get(i) == Some(&'#') {
        out.alternate = true;
        i += 1;
    }
    if chars.get(i) == Some(&'0') {
        if out.align.is_none() {
            out.fill = '0';
            out.align = Some('=');
        }
        i += 1;
    }
    let number = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        (start < *i).then(|| {
            chars[start..*i]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(usize::MAX)
        })
    };
    out.width = number(&mut i).unwrap_or(0);
    if let Some(&g @ (',' | '_')) = chars.get(i) {
        out.grouping = Some(g);
        i += 1;
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        out.precision =
            Some(number(&mut i).ok_or_else(|| refuse("format specifier missing precision"))?);
    }
    if let Some(&kind) = chars.get(i) {
        if !"sdboxXfFeE%".contains(kind) {
            return Err(refuse(&format!(
                "type '{kind}' is not supported (supported: s d b o x X f F e E %)"
            )));
        }
        out.kind = Some(kind);
        i += 1;
    }
    if i != chars.len() {
        return Err(refuse("invalid format specifier"));
    }
    out.checked().map_err(refuse)
}

impl Spec {
    /// The spec, if its parts go together.
    fn checked(self) -> Result<Spec, &'static str> {
        if self.width > MAX_WIDTH || self.precision.is_some_and(|p| p > MAX_WIDTH) {
            return Err("width or precision too large");
        }
        if self.alternate && !matches!(self.kind, Some('b' | 'o' | 'x' | 'X')) {
            return Err("# is supported only with b, o, x and X");
        }
        Ok(self)
    }
}
