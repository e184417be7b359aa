//! What map expressions may call, as data: the functions singer-sdk offers by name, the
//! members of its `datetime` and `json` modules that are supported here, the methods of
//! values, and the keyword arguments of each. The start-up check ([`super::check`]) refuses
//! anything else by name; the evaluator dispatches on the same names.

/// Functions callable by bare name: simpleeval's and singer-sdk's.
pub const FUNCTIONS: &[&str] = &[
    "int", "float", "str", "bool", "md5", "sha256", "list", "tuple", "dict",
];

/// Functions singer-sdk offers that are refused here, with the reason.
pub const REFUSED_FUNCTIONS: &[(&str, &str)] = &[
    (
        "rand",
        "random numbers are not supported in stream maps here",
    ),
    (
        "randint",
        "random numbers are not supported in stream maps here",
    ),
    (
        "set",
        "sets are not supported (their order is not defined); use a list or tuple",
    ),
];

/// The modules an expression can name.
pub const MODULES: &[&str] = &["datetime", "json"];

/// Supported members of the modules and classes, by dotted path.
pub const MEMBERS: &[&str] = &[
    "datetime.datetime",
    "datetime.date",
    "datetime.timedelta",
    "datetime.timezone",
    "datetime.timezone.utc",
    "datetime.UTC",
    "datetime.MINYEAR",
    "datetime.MAXYEAR",
    "datetime.datetime.fromisoformat",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.fromtimestamp",
    "datetime.datetime.utcfromtimestamp",
    "datetime.datetime.strptime",
    "datetime.date.fromisoformat",
    "json.dumps",
    "json.loads",
];

/// Methods of values (str, dict, list, tuple, float, date, datetime, timedelta).
pub const METHODS: &[&str] = &[
    // str
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "replace",
    "startswith",
    "endswith",
    "find",
    "rfind",
    "index",
    "rindex",
    "count",
    "join",
    "title",
    "capitalize",
    "swapcase",
    "zfill",
    "center",
    "ljust",
    "rjust",
    "isdigit",
    "isalpha",
    "isalnum",
    "isspace",
    "islower",
    "isupper",
    "isnumeric",
    "isdecimal",
    "isascii",
    "removeprefix",
    "removesuffix",
    "partition",
    "rpartition",
    "splitlines",
    // dict, list, tuple
    "get",
    "keys",
    "values",
    "items",
    "copy",
    // float
    "is_integer",
    // date, datetime, timedelta
    "date",
    "isoformat",
    "strftime",
    "timestamp",
    "weekday",
    "isoweekday",
    "toordinal",
    "astimezone",
    "utcoffset",
    "total_seconds",
];

/// The keyword arguments each function, member or method accepts (absent: none).
pub const KEYWORDS: &[(&str, &[&str])] = &[
    ("int", &["base"]),
    (
        "datetime.datetime",
        &[
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "microsecond",
            "tzinfo",
        ],
    ),
    ("datetime.date", &["year", "month", "day"]),
    (
        "datetime.timedelta",
        &[
            "days",
            "seconds",
            "microseconds",
            "milliseconds",
            "minutes",
            "hours",
            "weeks",
        ],
    ),
    ("datetime.timezone", &["offset"]),
    ("datetime.datetime.now", &["tz"]),
    ("datetime.datetime.fromtimestamp", &["tz"]),
    (
        "json.dumps",
        &[
            "default",
            "sort_keys",
            "indent",
            "separators",
            "ensure_ascii",
        ],
    ),
    ("split", &["sep", "maxsplit"]),
    ("rsplit", &["sep", "maxsplit"]),
    (
        "replace",
        &[
            "count",
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "microsecond",
            "tzinfo",
        ],
    ),
    ("isoformat", &["sep"]),
    ("astimezone", &["tz"]),
    ("splitlines", &["keepends"]),
];

/// The keyword arguments `callable` accepts; `dict(...)` takes any.
pub fn keywords_of(callable: &str) -> Option<&'static [&'static str]> {
    KEYWORDS
        .iter()
        .find(|(name, _)| *name == callable)
        .map(|(_, keywords)| *keywords)
}

/// Whether `name` is a method of some value type.
pub fn is_method(name: &str) -> bool {
    METHODS.contains(&name)
}

/// A supported member path, as the `'static` string the evaluator keeps.
pub fn member(path: &str) -> Option<&'static str> {
    MEMBERS.iter().find(|m| **m == path).copied()
}

/// A function callable by bare name, as a `'static` string.
pub fn function(name: &str) -> Option<&'static str> {
    FUNCTIONS.iter().find(|f| **f == name).copied()
}

/// A module, as a `'static` string.
pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|m| **m == name).copied()
}
