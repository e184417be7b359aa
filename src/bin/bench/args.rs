//! The benchmark's command line: what to generate, how often to run, and the settings passed
//! to the target (`--set key=json`, with `--lanes N` as the shorthand for `--set lanes=N`), and
//! on Citus the column `--distribute` distributes the target's tables by.

pub struct Options {
    pub rows: usize,
    pub streams: usize,
    pub runs: usize,
    pub upsert: bool,
    pub keep: bool,
    /// Also time the raw bytes over the target's lanes (see `ceiling`).
    pub ceiling: bool,
    /// The column to distribute the target's tables by (Citus) before each timed load.
    pub distribute: Option<String>,
    pub url: String,
    /// Target settings, in the order given; a later one overrides an earlier one.
    pub extra_config: Vec<(String, String)>,
}

const USAGE: &str = "bench [--rows N] [--streams K] [--runs R] [--upsert] [--keep] \
                     [--ceiling] [--distribute COLUMN] [--url URL] [--lanes N] [--set key=json]...";

/// What the command line asked for; `Ok(None)` after `--help`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        rows: 100_000,
        streams: 1,
        runs: 3,
        upsert: false,
        keep: false,
        ceiling: false,
        distribute: None,
        url: std::env::var("TARGET_POSTGRES_TEST_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string()),
        extra_config: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--rows" => options.rows = positive("--rows", &value("--rows")?)?,
            "--streams" => options.streams = positive("--streams", &value("--streams")?)?,
            "--runs" => options.runs = positive("--runs", &value("--runs")?)?,
            "--upsert" => options.upsert = true,
            "--keep" => options.keep = true,
            "--ceiling" => options.ceiling = true,
            "--distribute" => options.distribute = Some(value("--distribute")?),
            "--url" => options.url = value("--url")?,
            "--lanes" => {
                let lanes = positive("--lanes", &value("--lanes")?)?;
                options
                    .extra_config
                    .push(("lanes".to_string(), lanes.to_string()));
            }
            "--set" => {
                let pair = value("--set")?;
                let (key, json) = pair.split_once('=').ok_or("--set takes key=json")?;
                options
                    .extra_config
                    .push((key.to_string(), json.to_string()));
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if options.ceiling && (options.upsert || options.streams > 1) {
        return Err("--ceiling measures a load of one stream (not --upsert or --streams)".into());
    }
    Ok(Some(options))
}

fn positive(name: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err(format!("{name} must be positive")),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

impl Options {
    /// The `lanes` setting passed to the target, as given, or "default" when none is.
    pub fn lanes_label(&self) -> String {
        self.extra_config
            .iter()
            .rev()
            .find(|(key, _)| key == "lanes")
            .map_or_else(|| "default".to_string(), |(_, json)| json.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_args(args.iter().map(|a| a.to_string())).map(|options| options.expect("not --help"))
    }

    #[test]
    fn lanes_is_shorthand_for_setting_lanes() {
        let options = parse(&["--rows", "10", "--lanes", "4"]).unwrap();
        assert_eq!(
            options.extra_config,
            vec![("lanes".to_string(), "4".to_string())]
        );
        assert_eq!(options.lanes_label(), "4");
    }

    #[test]
    fn lanes_label_is_default_without_a_lanes_setting() {
        let options = parse(&["--set", "batch_size_rows=5"]).unwrap();
        assert_eq!(options.lanes_label(), "default");
    }

    #[test]
    fn the_last_lanes_given_wins_whether_by_flag_or_set() {
        assert_eq!(
            parse(&["--lanes", "1", "--set", "lanes=3"])
                .unwrap()
                .lanes_label(),
            "3"
        );
        assert_eq!(
            parse(&["--set", "lanes=3", "--lanes", "2"])
                .unwrap()
                .lanes_label(),
            "2"
        );
    }

    #[test]
    fn lanes_must_be_a_positive_integer() {
        assert!(parse(&["--lanes", "0"]).is_err());
        assert!(parse(&["--lanes", "two"]).is_err());
        assert!(parse(&["--lanes"]).is_err());
    }

    #[test]
    fn distribute_names_the_column_and_is_off_without_it() {
        assert_eq!(
            parse(&["--distribute", "id"])
                .unwrap()
                .distribute
                .as_deref(),
            Some("id")
        );
        assert_eq!(parse(&["--upsert"]).unwrap().distribute, None);
        assert!(parse(&["--distribute"]).is_err());
    }

    #[test]
    fn ceiling_is_for_a_load_of_one_stream() {
        assert!(parse(&["--ceiling"]).unwrap().ceiling);
        assert!(!parse(&[]).unwrap().ceiling);
        assert!(parse(&["--ceiling", "--upsert"]).is_err());
        assert!(parse(&["--ceiling", "--streams", "2"]).is_err());
    }

    #[test]
    fn counts_must_be_positive() {
        assert!(parse(&["--rows", "0"]).is_err());
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--streams", "x"]).is_err());
    }
}
