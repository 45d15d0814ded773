//! Writes the four synthetic UFRN tables and prints what was written and how long it took.
//!
//! ```text
//! cargo run -p esteira-synth --example generate -- --scale 1 --seed 2020 --out data/sample
//! cargo run -p esteira-synth --example generate -- --semester 2019.2 --out data/sample-2019.2
//! ```
//!
//! Doubles as the generator's benchmark (run with `--release` for representative timings).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use esteira_synth::{Semester, SynthConfig, generate_semester};

fn parse_args() -> Result<(SynthConfig, Semester, PathBuf), String> {
    let mut config = SynthConfig::default();
    let mut semester = Semester::default();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scale" => config.scale = value()?.parse().map_err(|e| format!("--scale: {e}"))?,
            "--seed" => config.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--semester" => semester = value()?.parse().map_err(|e| format!("--semester: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (expected --scale S --seed N --semester 2020.5|2019.2 --out DIR)"
                ));
            }
        }
    }
    Ok((config, semester, out.ok_or("--out DIR is required")?))
}

fn main() -> ExitCode {
    let (config, semester, out) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    match generate_semester(&config, semester, &out) {
        Ok(summary) => {
            let seconds = started.elapsed().as_secs_f64();
            for (name, bytes) in semester.table_files().iter().zip(summary.table_bytes) {
                println!("{:>12} bytes  {}", bytes, out.join(name).display());
            }
            let megabytes = summary.total_bytes() as f64 / 1e6;
            println!(
                "scale {} seed {}: {:.2} MB in {:.2} s ({:.1} MB/s); {} students, {} socio rows, {} enrolments \
                 ({} joined, {} INDEFERIDO), {} enrolment rows",
                config.scale,
                config.seed,
                megabytes,
                seconds,
                megabytes / seconds,
                summary.discentes_rows,
                summary.socio_rows,
                summary.enrolments,
                summary.joined_enrolments,
                summary.indeferido,
                summary.matricula_rows
            );
            println!(
                "{} students with a socio-economic record ({} with 2 rows, {} with 3), {} without; {} joined \
                 enrolments without a course row; a merge that does not collapse the socio rows adds {} rows; \
                 planted: sexo \"false\" x{}, implausible birth year x{}",
                summary.students_with_socio,
                summary.students_with_two_socio_rows,
                summary.students_with_three_socio_rows,
                summary.students_without_socio,
                summary.joined_enrolments_without_course,
                summary.naive_join_extra_rows,
                summary.dirty_sexo_students,
                summary.dirty_birth_year_students
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
