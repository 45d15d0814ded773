//! What a stage asks of the machine that runs it — CPUs, memory, a time limit — and, for a
//! batch scheduler (esteira-slurm), a partition and free-form `sbatch` options: read from the
//! pipeline file and merged with pipeline-wide defaults. Here, in core, because the pipeline
//! file (the engine) reads them and the executors (Slurm) use them.
//!
//! ```toml
//! [stages.train.resources]
//! cpus = 2
//! memory = "4G"
//! time = "01:00:00"
//! partition = "short"
//! sbatch = ["--account=ml", "--gres=gpu:1"]
//! ```
//!
//! Every value is checked when it is read, and an error names its key (`memory`, `sbatch[1]`):
//! - `cpus`: a positive integer (`--cpus-per-task`).
//! - `memory`: an amount with a unit, `K`, `M`, `G` or `T` (powers of 1024, as Slurm reads
//!   them), e.g. `"512M"`, `"4G"`; a bare number is megabytes, Slurm's default unit. `0` is
//!   rejected: to Slurm it means all of a node's memory.
//! - `time`: Slurm's forms `"minutes"`, `"minutes:seconds"`, `"hours:minutes:seconds"`,
//!   `"days-hours"`, `"days-hours:minutes"`, `"days-hours:minutes:seconds"` (or an integer,
//!   minutes). `0` is rejected (to Slurm it means no limit). Slurm counts whole minutes and
//!   rounds seconds up.
//! - `partition`: a partition name or a comma-separated list of them.
//! - `sbatch`: a list of long options, each `--name=value` or `--name` (one option per item,
//!   with `=`, e.g. `"--account=ml"`). The options esteira sets itself cannot be given
//!   (`--job-name`, `--output`, `--error`, `--parsable`, `--chdir`, `--wrap`, `--array`, `--wait`,
//!   `--test-only`, `--input`), nor the ones the other keys set (`--cpus-per-task`, `--mem`,
//!   `--time`, `--partition`), nor an abbreviation of any of them (sbatch accepts unambiguous
//!   prefixes such as `--job`). Values may hold spaces and `#`, not `"`, `\` or control
//!   characters (line breaks above all: each option is one `#SBATCH` line).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A resource setting is invalid (found when the pipeline file is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resources `{key}`: {message}")]
pub struct ResourceError {
    /// The key, e.g. `memory` or `sbatch[1]`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The options esteira sets itself, and why a user may not.
const RESERVED: &[(&str, &str)] = &[
    ("job-name", "esteira names jobs after the run"),
    ("output", "esteira captures the job's output in its job directory"),
    ("error", "esteira captures the job's output in its job directory"),
    ("parsable", "esteira passes it to read the job id"),
    ("chdir", "esteira sets the working directory"),
    ("wrap", "esteira writes the job script"),
    ("array", "one job runs one stage"),
    ("wait", "esteira polls jobs itself"),
    ("test-only", "it submits nothing"),
    ("input", "a stage job reads no stdin"),
    ("cpus-per-task", "use the `cpus` key"),
    ("mem", "use the `memory` key"),
    ("time", "use the `time` key"),
    ("partition", "use the `partition` key"),
];

/// What one stage's job asks for. Unset values are left to the pipeline-wide defaults
/// ([`Resources::or`]) and then to Slurm's (the partition's) defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// `--cpus-per-task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// `--mem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// `--time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeLimit>,
    /// `--partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Free-form options, one `#SBATCH` line each, after the ones above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbatch: Vec<SbatchArg>,
}

impl Resources {
    /// Reads and checks a `resources` table (a TOML value); the error names the bad key.
    ///
    /// ```
    /// use esteira_core::resources::Resources;
    /// let v: toml::Value = toml::from_str(r#"cpus = 2
    /// memory = "4G""#).unwrap();
    /// let r = Resources::from_toml(v).unwrap();
    /// assert_eq!(r.memory.unwrap().megabytes(), 4096);
    ///
    /// let bad: toml::Value = toml::from_str(r#"memory = "4 gigs""#).unwrap();
    /// let e = Resources::from_toml(bad).unwrap_err().to_string();
    /// assert!(e.starts_with("resources `memory`:"), "{e}");
    /// ```
    pub fn from_toml<'de, D: Deserializer<'de>>(value: D) -> Result<Self, ResourceError> {
        serde_path_to_error::deserialize::<_, Self>(value).map_err(|e| {
            let key = crate::excerpt(&e.path().to_string(), crate::MAX_EXCERPT_CHARS).into_owned();
            let message = crate::excerpt(&e.into_inner().to_string(), 2 * crate::MAX_EXCERPT_CHARS).into_owned();
            ResourceError { key, message }
        })
    }

    /// These settings, with each unset one taken from `defaults` (the pipeline-wide table).
    /// `sbatch` options are merged by option name: the stage's `--account=…` replaces the
    /// defaults' `--account=…`; the defaults' other options come first.
    ///
    /// ```
    /// use esteira_core::resources::Resources;
    /// let stage: Resources = toml::from_str(r#"memory = "8G"
    /// sbatch = ["--account=b"]"#).unwrap();
    /// let defaults: Resources = toml::from_str(r#"memory = "1G"
    /// cpus = 1
    /// sbatch = ["--account=a", "--qos=low"]"#).unwrap();
    /// let r = stage.or(&defaults);
    /// assert_eq!(r.memory.unwrap().to_string(), "8G");
    /// assert_eq!(r.cpus.unwrap().get(), 1);
    /// let args: Vec<String> = r.sbatch.iter().map(ToString::to_string).collect();
    /// assert_eq!(args, ["--qos=low", "--account=b"]);
    /// ```
    #[must_use]
    pub fn or(&self, defaults: &Resources) -> Resources {
        let mut sbatch: Vec<SbatchArg> =
            defaults.sbatch.iter().filter(|d| !self.sbatch.iter().any(|s| s.name() == d.name())).cloned().collect();
        sbatch.extend(self.sbatch.iter().cloned());
        Resources {
            cpus: self.cpus.or(defaults.cpus),
            memory: self.memory.or(defaults.memory),
            time: self.time.or(defaults.time),
            partition: self.partition.clone().or_else(|| defaults.partition.clone()),
            sbatch,
        }
    }

    /// The `sbatch` options these settings stand for, in `#SBATCH` line order.
    pub fn options(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(c) = self.cpus {
            v.push(format!("--cpus-per-task={c}"));
        }
        if let Some(m) = self.memory {
            v.push(format!("--mem={m}"));
        }
        if let Some(t) = self.time {
            v.push(format!("--time={t}"));
        }
        if let Some(p) = &self.partition {
            v.push(format!("--partition={p}"));
        }
        v.extend(self.sbatch.iter().map(ToString::to_string));
        v
    }
}

/// A positive number of CPUs (`--cpus-per-task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpus(u32);

impl Cpus {
    /// `n` CPUs; 0 is an error.
    pub fn new(n: u64) -> Result<Self, String> {
        match u32::try_from(n) {
            Ok(0) => Err("must be at least 1".into()),
            Ok(n) => Ok(Self(n)),
            Err(_) => Err(format!("{n} is too many")),
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An amount of memory for `--mem`: a number and a unit (K, M, G, T: powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory {
    amount: u64,
    unit: char,
}

impl Memory {
    /// Parses `4G`, `512M`, `1t`, `2048` (megabytes); the unit is case-insensitive.
    ///
    /// ```
    /// use esteira_core::resources::Memory;
    /// assert_eq!(Memory::parse("4G").unwrap().megabytes(), 4096);
    /// assert_eq!(Memory::parse("512m").unwrap().to_string(), "512M");
    /// assert_eq!(Memory::parse("2048").unwrap().to_string(), "2048M");
    /// assert!(Memory::parse("0G").is_err());
    /// assert!(Memory::parse("1.5G").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{:?} is not an amount of memory: write a whole number and a unit, e.g. \"512M\" or \"4G\" (K, M, G, T)",
                crate::excerpt(s, 40)
            )
        };
        let t = s.trim();
        let (digits, unit) = match t.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
            _ => (t, 'M'),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(unit, 'K' | 'M' | 'G' | 'T') {
            return Err(bad());
        }
        let amount: u64 = digits.parse().map_err(|_| bad())?;
        if amount == 0 {
            return Err("must be more than 0 (to Slurm, --mem=0 means all of a node's memory)".into());
        }
        let m = Self { amount, unit };
        if m.kilobytes().is_none() {
            return Err(format!("{s:?} is too large"));
        }
        Ok(m)
    }

    fn kilobytes(self) -> Option<u64> {
        let shift = match self.unit {
            'K' => 0,
            'M' => 10,
            'G' => 20,
            _ => 30,
        };
        self.amount.checked_mul(1 << shift)
    }

    /// The amount in megabytes (MiB), rounded up.
    pub fn megabytes(self) -> u64 {
        self.kilobytes().unwrap_or(u64::MAX).div_ceil(1024)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit)
    }
}

/// A job's time limit for `--time`, in seconds (Slurm enforces whole minutes, rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeLimit(u64);

impl TimeLimit {
    /// Parses Slurm's forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    ///
    /// ```
    /// use esteira_core::resources::TimeLimit;
    /// assert_eq!(TimeLimit::parse("01:00:00").unwrap().seconds(), 3600);
    /// assert_eq!(TimeLimit::parse("1-00:00:00").unwrap().to_string(), "1-00:00:00");
    /// assert_eq!(TimeLimit::parse("90").unwrap().to_string(), "01:30:00");
    /// assert_eq!(TimeLimit::parse("2-12").unwrap().seconds(), 60 * 3600);
    /// assert!(TimeLimit::parse("1:75:00").is_err());
    /// assert!(TimeLimit::parse("0").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "{:?} is not a time limit ({why}): write minutes (\"90\"), \"HH:MM:SS\" or \"D-HH:MM:SS\"",
                crate::excerpt(s, 40)
            )
        };
        let t = s.trim();
        let num = |p: &str| -> Result<u64, String> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("not a number"));
            }
            p.parse::<u64>().map_err(|_| bad("too large"))
        };
        let below =
            |v: u64, max: u64, what: &str| if v < max { Ok(v) } else { Err(bad(&format!("{what} {v} ≥ {max}"))) };
        let (days, rest) = match t.split_once('-') {
            Some((d, rest)) => (Some(num(d)?), rest),
            None => (None, t),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let secs = match (days, parts.as_slice()) {
            (None, [m]) => num(m)?.checked_mul(60),
            (None, [m, s]) => {
                let s = below(num(s)?, 60, "seconds")?;
                num(m)?.checked_mul(60).and_then(|m| m.checked_add(s))
            }
            (None, [h, m, s]) => {
                let (m, s) = (below(num(m)?, 60, "minutes")?, below(num(s)?, 60, "seconds")?);
                num(h)?.checked_mul(3600).and_then(|h| h.checked_add(m * 60 + s))
            }
            (Some(d), [h, rest @ ..]) if rest.len() <= 2 => {
                let h = below(num(h)?, 24, "hours")?;
                let m = rest.first().map(|m| num(m).and_then(|m| below(m, 60, "minutes"))).transpose()?.unwrap_or(0);
                let s = rest.get(1).map(|s| num(s).and_then(|s| below(s, 60, "seconds"))).transpose()?.unwrap_or(0);
                d.checked_mul(86_400).and_then(|d| d.checked_add(h * 3600 + m * 60 + s))
            }
            _ => return Err(bad("wrong number of fields")),
        };
        match secs {
            None => Err(bad("too large")),
            Some(0) => Err("must be more than 0 (to Slurm, --time=0 means no limit; leave `time` out to get the \
                 partition's default)"
                .into()),
            Some(s) => Ok(Self(s)),
        }
    }

    /// `minutes` minutes; 0 is an error.
    pub fn from_minutes(minutes: u64) -> Result<Self, String> {
        match minutes.checked_mul(60) {
            Some(0) => Self::parse("0"),
            Some(s) => Ok(Self(s)),
            None => Err(format!("{minutes} minutes is too large")),
        }
    }

    /// The limit in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, r) = (self.0 / 86_400, self.0 % 86_400);
        let (h, m, s) = (r / 3600, r % 3600 / 60, r % 60);
        if d > 0 { write!(f, "{d}-{h:02}:{m:02}:{s:02}") } else { write!(f, "{h:02}:{m:02}:{s:02}") }
    }
}

/// A partition name, or a comma-separated list of them (`--partition`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Partition(String);

impl Partition {
    /// Checks a partition name (or list): 1 to 200 of `[A-Za-z0-9_.,-]`.
    pub fn new(s: &str) -> Result<Self, String> {
        if s.is_empty()
            || s.len() > 200
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b',' | b'-'))
        {
            return Err(format!(
                "{:?} is not a partition name (1 to 200 of A-Z a-z 0-9 _ . - , for a list)",
                crate::excerpt(s, 40)
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One free-form `sbatch` option, `--name` or `--name=value`, checked as the module says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SbatchArg(String);

impl SbatchArg {
    /// Checks one option.
    ///
    /// ```
    /// use esteira_core::resources::SbatchArg;
    /// assert!(SbatchArg::new("--gres=gpu:1").is_ok());
    /// assert!(SbatchArg::new("--comment=a b #c").is_ok());
    /// assert!(SbatchArg::new("--job-name=x").unwrap_err().contains("esteira names jobs"));
    /// assert!(SbatchArg::new("--out=x").is_err()); // an abbreviation of --output
    /// assert!(SbatchArg::new("-A ml").is_err());
    /// assert!(SbatchArg::new("--comment=a\nb").is_err());
    /// ```
    pub fn new(s: &str) -> Result<Self, String> {
        let shown = crate::excerpt(s, 60);
        let Some(body) = s.strip_prefix("--") else {
            return Err(format!("{shown:?} is not a long option: write one option per item, as --name=value"));
        };
        let (name, value) = body.split_once('=').map_or((body, None), |(n, v)| (n, Some(v)));
        if name.is_empty()
            || !name.starts_with(|c: char| c.is_ascii_lowercase())
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "{shown:?}: the option name must be lowercase letters, digits and `-`; write one option per item, as \
                 --name=value"
            ));
        }
        if let Some((full, why)) = RESERVED.iter().find(|(full, _)| full.starts_with(name)) {
            let what = if *full == name { format!("--{full}") } else { format!("--{name} (short for --{full})") };
            return Err(format!("{what} cannot be given: {why}"));
        }
        if let Some(v) = value
            && let Some(c) = v.chars().find(|c| c.is_control() || matches!(c, '"' | '\\'))
        {
            return Err(format!(
                "the value of --{name} holds {c:?}: values cannot hold line breaks, control characters, `\"` or `\\` \
                 (each option is one #SBATCH line)"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The option's name, without `--` and value.
    pub fn name(&self) -> &str {
        let body = &self.0[2..];
        body.split_once('=').map_or(body, |(n, _)| n)
    }

    /// The option as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SbatchArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A serde visitor for values written as a string or, where `from_int` allows, an integer.
struct Text<T> {
    expecting: &'static str,
    from_str: fn(&str) -> Result<T, String>,
    from_int: Option<fn(u64) -> Result<T, String>>,
}

impl<T> Visitor<'_> for Text<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_str)(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        match self.from_int {
            Some(f) => f(v).map_err(E::custom),
            None => Err(E::invalid_type(de::Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::custom(format!("{v} is negative"))),
        }
    }
}

macro_rules! serde_text {
    ($t:ty, $expecting:literal, $from_str:expr, $from_int:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Text { expecting: $expecting, from_str: $from_str, from_int: $from_int })
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

serde_text!(Memory, "an amount of memory such as \"4G\"", Memory::parse, None);
serde_text!(TimeLimit, "a time limit such as \"01:00:00\" or minutes", TimeLimit::parse, Some(TimeLimit::from_minutes));
serde_text!(Partition, "a partition name", Partition::new, None);
serde_text!(SbatchArg, "an sbatch option such as \"--account=ml\"", SbatchArg::new, None);

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Text {
            expecting: "a positive integer",
            from_str: |s| Err(format!("{:?} is a string: write a number, e.g. cpus = 2", crate::excerpt(s, 40))),
            from_int: Some(Cpus::new),
        })
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Resources, String> {
        let v: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        Resources::from_toml(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_table_reads_and_renders_as_sbatch_options() {
        let r = read(
            r#"cpus = 2
memory = "4G"
time = "01:00:00"
partition = "short"
sbatch = ["--account=ml", "--comment=a b # c", "--exclusive"]"#,
        )
        .unwrap();
        assert_eq!(
            r.options(),
            [
                "--cpus-per-task=2",
                "--mem=4G",
                "--time=01:00:00",
                "--partition=short",
                "--account=ml",
                "--comment=a b # c",
                "--exclusive"
            ]
        );
        assert_eq!(read("").unwrap(), Resources::default());
        assert!(Resources::default().options().is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("cpus = 0", "resources `cpus`: must be at least 1"),
            ("cpus = -1", "resources `cpus`: -1 is negative"),
            ("cpus = \"2\"", "resources `cpus`: \"2\" is a string"),
            ("memory = \"4 gigs\"", "resources `memory`: \"4 gigs\" is not an amount of memory"),
            ("memory = \"0\"", "resources `memory`: must be more than 0"),
            ("memory = 4", "resources `memory`: invalid type: integer `4`, expected an amount of memory"),
            ("memory = \"99999999999999999999T\"", "resources `memory`:"),
            ("time = \"1:60:00\"", "resources `time`: \"1:60:00\" is not a time limit (minutes 60 ≥ 60)"),
            ("time = \"1-24:00:00\"", "resources `time`: \"1-24:00:00\" is not a time limit (hours 24 ≥ 24)"),
            ("time = \"01:00:00:00\"", "resources `time`: \"01:00:00:00\" is not a time limit (wrong number"),
            ("time = \"1h\"", "resources `time`: \"1h\" is not a time limit (not a number)"),
            ("time = \"10:61\"", "resources `time`: \"10:61\" is not a time limit (seconds 61 ≥ 60)"),
            ("time = 0", "resources `time`: must be more than 0 (to Slurm, --time=0 means no limit"),
            ("partition = \"a b\"", "resources `partition`: \"a b\" is not a partition name"),
            ("sbatch = [\"--account=ml\", \"--output=x\"]", "resources `sbatch[1]`: --output cannot be given"),
            ("sbatch = [\"--job=x\"]", "resources `sbatch[0]`: --job (short for --job-name) cannot be given"),
            ("sbatch = [\"--parsable\"]", "resources `sbatch[0]`: --parsable cannot be given"),
            ("sbatch = [\"--mem=1G\"]", "resources `sbatch[0]`: --mem cannot be given: use the `memory` key"),
            ("sbatch = [\"--account ml\"]", "resources `sbatch[0]`: \"--account ml\": the option name"),
            ("sbatch = [\"-A\", \"ml\"]", "resources `sbatch[0]`: \"-A\" is not a long option"),
            ("sbatch = [\"--comment=a\\nb\"]", "resources `sbatch[0]`: the value of --comment holds '\\n'"),
            ("sbatch = [\"--comment=say \\\"hi\\\"\"]", "resources `sbatch[0]`: the value of --comment holds '\"'"),
            ("sbatch = \"--account=ml\"", "resources `sbatch`: invalid type: string"),
            ("gpus = 1", "resources `gpus`: unknown field `gpus`"),
        ];
        for (text, want) in cases {
            let got = read(text).unwrap_err();
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }

    #[test]
    fn every_time_form_slurm_accepts() {
        let cases = [
            ("90", 90 * 60, "01:30:00"),
            ("5:30", 330, "00:05:30"),
            ("0:30", 30, "00:00:30"),
            ("01:00:00", 3600, "01:00:00"),
            ("100:00:00", 360_000, "4-04:00:00"),
            ("1-00:00:00", 86_400, "1-00:00:00"),
            ("2-12", 216_000, "2-12:00:00"),
            ("2-12:30", 217_800, "2-12:30:00"),
            ("0-00:00:01", 1, "00:00:01"),
        ];
        for (text, secs, shown) in cases {
            let t = TimeLimit::parse(text).unwrap();
            assert_eq!((t.seconds(), t.to_string().as_str()), (secs, shown), "{text}");
            // What is shown reads back as the same limit.
            assert_eq!(TimeLimit::parse(shown).unwrap(), t);
        }
        assert_eq!(read("time = 90").unwrap().time.unwrap().to_string(), "01:30:00");
        for bad in ["", "-", "1-", "-1", "1:", ":1", "1-2-3", "1-1:1:1:1", " ", "1.5"] {
            assert!(TimeLimit::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn memory_units() {
        for (text, mb, shown) in
            [("1K", 1, "1K"), ("1536K", 2, "1536K"), ("512M", 512, "512M"), ("4g", 4096, "4G"), ("1T", 1 << 20, "1T")]
        {
            let m = Memory::parse(text).unwrap();
            assert_eq!((m.megabytes(), m.to_string().as_str()), (mb, shown), "{text}");
        }
        for bad in ["", "G", "4X", "-1G", "4GB", "1,5G", "4 G"] {
            assert!(Memory::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reserved_options_and_their_abbreviations_are_refused_but_longer_names_are_not() {
        for bad in ["--job-name=x", "--j=x", "--o=x", "--outp=x", "--e=x", "--chdir=/", "--cpus=2", "--t=1", "--par"] {
            assert!(SbatchArg::new(bad).is_err(), "{bad}");
        }
        for ok in ["--mem-per-gpu=1G", "--time-min=10", "--exclusive", "--account=a=b", "--comment="] {
            assert!(SbatchArg::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(SbatchArg::new("--account=a=b").unwrap().name(), "account");
        assert_eq!(SbatchArg::new("--exclusive").unwrap().name(), "exclusive");
    }

    #[test]
    fn merge_takes_unset_values_from_the_defaults() {
        let defaults = read(
            r#"cpus = 1
memory = "1G"
time = 10
partition = "long"
sbatch = ["--account=a", "--qos=low"]"#,
        )
        .unwrap();
        let stage = read(
            r#"cpus = 4
sbatch = ["--account=b", "--exclusive"]"#,
        )
        .unwrap();
        let r = stage.or(&defaults);
        assert_eq!(
            r.options(),
            [
                "--cpus-per-task=4",
                "--mem=1G",
                "--time=00:10:00",
                "--partition=long",
                "--qos=low",
                "--account=b",
                "--exclusive"
            ]
        );
        assert_eq!(Resources::default().or(&defaults), defaults);
        assert_eq!(stage.or(&Resources::default()), stage);
    }

    #[test]
    fn resources_serialise_to_what_they_read_from() {
        let r = read(
            r#"cpus = 2
memory = "4g"
time = "90"
sbatch = ["--exclusive"]"#,
        )
        .unwrap();
        let text = toml::to_string(&r).unwrap();
        assert_eq!(text, "cpus = 2\nmemory = \"4G\"\ntime = \"01:30:00\"\nsbatch = [\"--exclusive\"]\n");
        assert_eq!(read(&text).unwrap(), r);
    }
}
