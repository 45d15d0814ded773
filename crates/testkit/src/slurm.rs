//! The Slurm the tests submit to: opt-in with `ESTEIRA_TEST_SLURM=1` (or
//! `ESTEIRA_REQUIRE_SLURM=1`, in CI), a Slurm whose nodes see this host's temp directory (the
//! one-node Slurm of `.ci/slurm-up.sh`) and that answers `sinfo`.

/// Whether the Slurm tests run. `false` (after printing `SKIPPED: no Slurm (why)`) when they
/// are not asked for or Slurm does not answer; panics when `ESTEIRA_REQUIRE_SLURM=1` and Slurm
/// does not answer.
pub fn available() -> bool {
    let require = std::env::var("ESTEIRA_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let wanted = require || std::env::var("ESTEIRA_TEST_SLURM").is_ok_and(|v| v == "1");
    let answer = if wanted {
        match std::process::Command::new("sinfo").args(["--noheader", "--format=%T"]).output() {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => Ok(()),
            Ok(o) => Err(format!("sinfo failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => Err(format!("cannot run sinfo: {e}")),
        }
    } else {
        Err("ESTEIRA_TEST_SLURM is not 1".to_owned())
    };
    match answer {
        Ok(()) => true,
        Err(why) if require => panic!("ESTEIRA_REQUIRE_SLURM=1 but there is no Slurm: {why} (run .ci/slurm-up.sh)"),
        Err(why) => {
            println!("SKIPPED: no Slurm ({why})");
            false
        }
    }
}
