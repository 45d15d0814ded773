//! Names and paths that come from users: stage and output names that become directory and file
//! names under `latest/`, and local files a pipeline may read.
//!
//! Two rules keep user text from reaching outside the project or the store:
//! - a **name** (stage, output, input) is 1 to [`MAX_NAME_LEN`] characters of ASCII letters,
//!   digits, `_` and `-`, so it can never be a path, a hidden file or a control sequence;
//! - a **local file** is read only when its canonical path (symlinks resolved) lies under the
//!   pipeline file's directory or under a directory the pipeline file lists in
//!   `[pipeline] external_paths`: see [`PathPolicy`].

use std::path::{Path, PathBuf};

/// The longest stage, output or input name.
pub const MAX_NAME_LEN: usize = 64;

/// Why a name was refused, or `None` when it is fine.
///
/// ```
/// assert!(esteira_core::name_problem("check_raw").is_none());
/// assert!(esteira_core::name_problem("/tmp/victim").is_some());
/// ```
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Some(format!("is {} characters long; at most {MAX_NAME_LEN} are allowed", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Some(format!("contains {c:?}: only ASCII letters, digits, `_` and `-` are allowed"));
    }
    if name.starts_with('-') {
        return Some("must not start with `-`".into());
    }
    None
}

/// Whether a name passes [`name_problem`].
pub fn is_safe_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// Which local files a pipeline may read: those under its own directory and under the
/// directories it opted into. Paths are compared after [`std::fs::canonicalize`], so `..` and
/// symlinks that lead elsewhere are caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPolicy {
    /// Relative paths are resolved against this directory (the pipeline file's).
    base: PathBuf,
    /// Canonical directories files may be read from; empty means any file (no policy).
    roots: Vec<PathBuf>,
}

impl Default for PathPolicy {
    fn default() -> Self {
        Self::unrestricted(".")
    }
}

impl PathPolicy {
    /// Any file may be read (for `esteira exec` and programs that call a stage directly: the
    /// person typing the path is the one reading it).
    pub fn unrestricted(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into(), roots: Vec::new() }
    }

    /// Files under `base` or any of `external` (each relative to `base` unless absolute).
    /// Directories that do not exist are left out (nothing can be read from them).
    pub fn confined(base: &Path, external: &[PathBuf]) -> Self {
        let canon = |p: &Path| std::fs::canonicalize(p).ok();
        let mut roots: Vec<PathBuf> = std::iter::once(base.to_path_buf())
            .chain(external.iter().map(|e| if e.is_absolute() { e.clone() } else { base.join(e) }))
            .filter_map(|p| canon(&p))
            .collect();
        if roots.is_empty() {
            // The base itself is gone: keep a root nothing canonical lies under.
            roots.push(PathBuf::from("/nonexistent/esteira-base"));
        }
        Self { base: base.to_path_buf(), roots }
    }

    /// The directory relative paths are resolved against.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Resolves `path` (relative to the base) and checks it is allowed. Returns the canonical
    /// path; the error says why it was refused (missing file, or outside every allowed root).
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, String> {
        let joined = if path.is_absolute() { path.to_path_buf() } else { self.base.join(path) };
        let canonical = std::fs::canonicalize(&joined).map_err(|e| format!("{}: {e}", joined.display()))?;
        if self.roots.is_empty() || self.roots.iter().any(|r| canonical.starts_with(r)) {
            return Ok(canonical);
        }
        let via = if canonical == joined { String::new() } else { format!(" (resolves to {})", canonical.display()) };
        Err(format!(
            "{}{via} is outside the pipeline file's directory; list its directory in `[pipeline] external_paths` \
             to allow it",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_conservative() {
        for ok in ["a", "check_raw", "fetch-socio", "A1", &"x".repeat(MAX_NAME_LEN)] {
            assert!(is_safe_name(ok), "{ok}");
        }
        for bad in ["", "/tmp/victim", "..", "a.b", "a/b", "a\nb", "a\0b", "-rf", "é", " a", &"x".repeat(65)] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn confined_policy_refuses_escapes_and_symlinks_out() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("ok.csv"), "a").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), project.path().join("link")).unwrap();
        let policy = PathPolicy::confined(project.path(), &[]);
        assert!(policy.resolve(Path::new("ok.csv")).is_ok());
        let e = policy.resolve(Path::new("link")).unwrap_err();
        assert!(e.contains("outside the pipeline file's directory") && e.contains("resolves to"), "{e}");
        assert!(policy.resolve(&outside.path().join("secret")).is_err());
        let rel = Path::new("..").join(outside.path().file_name().unwrap()).join("secret");
        assert!(policy.resolve(&rel).is_err());
        let opted = PathPolicy::confined(project.path(), &[outside.path().to_path_buf()]);
        assert!(opted.resolve(Path::new("link")).is_ok());
        assert!(PathPolicy::unrestricted(project.path()).resolve(&outside.path().join("secret")).is_ok());
    }
}
