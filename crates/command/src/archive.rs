//! Directory outputs as one deterministic archive object: a POSIX tar (ustar, with pax records
//! only for paths over the ustar limits and files of 8 GiB or more) that `tar -xf` unpacks.
//!
//! The bytes depend on the tree's names, contents and exec bits only:
//! - the first block is a pax *global* header named `esteira-dir` whose one record is
//!   `comment=esteira directory archive 1`: tar programs ignore it, and it is how esteira tells
//!   its own directory archives from other inputs;
//! - then every directory (`sub/`, type `5`, mode 0755) and regular file (type `0`, mode 0644,
//!   or 0755 when any exec bit is set) in depth-first order, the entries of each directory
//!   sorted by the bytes of their names; the directory itself has no entry;
//! - owner and group 0 with empty names, mtime 0, device numbers 0; sizes and the checksum in
//!   octal with the usual NUL/space terminators;
//! - two zero blocks end the archive (no padding to a 10 KiB record).
//!
//! Names must be UTF-8; symbolic links, devices, sockets and FIFOs are refused (a tree that
//! hashes the same must unpack the same everywhere).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

const BLOCK: usize = 512;
const MARKER_NAME: &[u8] = b"esteira-dir";
const MARKER_RECORD: &str = "comment=esteira directory archive 1";
/// The largest size the 11 octal digits of a ustar size field hold.
const MAX_OCTAL_SIZE: u64 = (1 << 33) - 1;
/// How deep a directory output may nest (a guard against runaway trees).
const MAX_DEPTH: usize = 256;

/// What [`write_dir`] put into an archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Regular files.
    pub files: u64,
    /// Directories below the root.
    pub dirs: u64,
    /// Bytes of file contents.
    pub bytes: u64,
}

/// Writes the directory `root` as a deterministic archive into `w`. Errors name the entry, as
/// a path relative to `root`.
pub fn write_dir(root: &Path, w: impl Write) -> Result<ArchiveSummary, String> {
    let mut w = BufWriter::with_capacity(1 << 16, w);
    let io = |what: &Path, e: io::Error| format!("{}: {e}", what.display());
    let mut summary = ArchiveSummary::default();
    w.write_all(&pax_block(b'g', MARKER_NAME, &record(MARKER_RECORD))).map_err(|e| io(root, e))?;
    // (relative path, depth), popped in sorted depth-first order.
    let mut stack: Vec<(PathBuf, usize)> = sorted_children(root, Path::new(""), 1).map_err(|e| io(root, e))?;
    stack.reverse();
    while let Some((rel, depth)) = stack.pop() {
        let full = root.join(&rel);
        let meta = std::fs::symlink_metadata(&full).map_err(|e| io(&rel, e))?;
        let name = rel.to_str().ok_or_else(|| format!("{}: the name is not UTF-8", rel.display()))?;
        if meta.is_dir() {
            if depth > MAX_DEPTH {
                return Err(format!("{}: directories nest deeper than {MAX_DEPTH} levels", rel.display()));
            }
            write_entry(&mut w, &format!("{name}/"), b'5', 0o755, 0).map_err(|e| io(&rel, e))?;
            summary.dirs += 1;
            let children = sorted_children(root, &rel, depth + 1).map_err(|e| io(&rel, e))?;
            stack.extend(children.into_iter().rev());
        } else if meta.is_file() {
            let size = meta.len();
            write_entry(&mut w, name, b'0', if executable(&meta) { 0o755 } else { 0o644 }, size)
                .map_err(|e| io(&rel, e))?;
            let f = File::open(&full).map_err(|e| io(&rel, e))?;
            let copied = io::copy(&mut BufReader::new(f).take(size), &mut w).map_err(|e| io(&rel, e))?;
            if copied != size {
                return Err(format!("{}: changed size while it was archived", rel.display()));
            }
            pad(&mut w, size).map_err(|e| io(&rel, e))?;
            summary.files += 1;
            summary.bytes += size;
        } else {
            let what = if meta.file_type().is_symlink() { "a symbolic link" } else { "not a regular file" };
            return Err(format!(
                "{}: {what}; a directory output holds only regular files and directories",
                rel.display()
            ));
        }
    }
    w.write_all(&[0; 2 * BLOCK]).map_err(|e| io(root, e))?;
    w.flush().map_err(|e| io(root, e))?;
    Ok(summary)
}

/// Whether the file at `path` starts like an archive [`write_dir`] writes.
pub fn is_dir_archive(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let mut first = [0u8; 2 * BLOCK];
    let mut got = 0;
    while got < first.len() {
        match f.read(&mut first[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    let header: &[u8; BLOCK] = first[..BLOCK].try_into().map_err(io::Error::other)?;
    Ok(checksum_ok(header)
        && header[156] == b'g'
        && field(&header[..100]) == MARKER_NAME
        && parse_octal(&header[124..136]) == Some(record(MARKER_RECORD).len() as u64)
        && first[BLOCK..].starts_with(record(MARKER_RECORD).as_bytes()))
}

/// Unpacks an archive [`write_dir`] wrote into `dest` (which must not exist), read-only: files
/// 0444 (0555 with the exec bit), directories 0555. Anything else in the archive — links,
/// absolute or `..` paths, entries named twice — is an error.
pub fn unpack_dir(archive: &Path, dest: &Path) -> Result<ArchiveSummary, String> {
    let io = |e: io::Error| format!("{}: {e}", archive.display());
    let mut r = BufReader::with_capacity(1 << 16, File::open(archive).map_err(io)?);
    std::fs::create_dir(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut summary = ArchiveSummary::default();
    let mut dirs = vec![dest.to_path_buf()];
    let mut files = Vec::new();
    let mut pending_path: Option<String> = None;
    let mut pending_size: Option<u64> = None;
    let mut first = true;
    loop {
        let mut header = [0u8; BLOCK];
        r.read_exact(&mut header).map_err(|e| format!("{}: truncated archive: {e}", archive.display()))?;
        if header.iter().all(|&b| b == 0) {
            break;
        }
        if !checksum_ok(&header) {
            return Err(format!("{}: a header's checksum does not match", archive.display()));
        }
        let size = parse_octal(&header[124..136])
            .ok_or_else(|| format!("{}: a header has a bad size field", archive.display()))?;
        let kind = header[156];
        if first && kind != b'g' {
            return Err(format!("{}: not an esteira directory archive", archive.display()));
        }
        first = false;
        match kind {
            b'g' => skip(&mut r, size).map_err(io)?,
            b'x' => {
                let body = read_body(&mut r, size).map_err(io)?;
                for (k, v) in parse_records(&body).map_err(|m| format!("{}: {m}", archive.display()))? {
                    match k.as_str() {
                        "path" => pending_path = Some(v),
                        "size" => {
                            pending_size =
                                Some(v.parse().map_err(|_| format!("{}: bad pax size {v:?}", archive.display()))?);
                        }
                        _ => {}
                    }
                }
            }
            b'0' | 0 | b'5' => {
                let name = match pending_path.take() {
                    Some(p) => p,
                    None => ustar_name(&header).map_err(|m| format!("{}: {m}", archive.display()))?,
                };
                let size = pending_size.take().unwrap_or(size);
                let rel = safe_relative(&name).map_err(|m| format!("{}: entry {name:?}: {m}", archive.display()))?;
                let path = dest.join(&rel);
                if kind == b'5' {
                    std::fs::create_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    dirs.push(path);
                    summary.dirs += 1;
                    skip(&mut r, size).map_err(io)?;
                } else {
                    let mut f = File::options()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let copied = io::copy(&mut (&mut r).take(size), &mut f).map_err(io)?;
                    if copied != size {
                        return Err(format!("{}: truncated archive", archive.display()));
                    }
                    skip_padding(&mut r, size).map_err(io)?;
                    let mode = parse_octal(&header[100..108]).unwrap_or(0o644);
                    files.push((path, mode & 0o111 != 0));
                    summary.files += 1;
                    summary.bytes += size;
                }
            }
            other => {
                return Err(format!(
                    "{}: entry type {:?} is not allowed in a directory archive",
                    archive.display(),
                    char::from(other)
                ));
            }
        }
    }
    for (path, exec) in &files {
        set_mode(path, if *exec { 0o555 } else { 0o444 }).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    for d in dirs.iter().rev() {
        set_mode(d, 0o555).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok(summary)
}

/// The children of `root/rel`, as paths relative to `root` sorted by name bytes, each with
/// `depth`.
fn sorted_children(root: &Path, rel: &Path, depth: usize) -> io::Result<Vec<(PathBuf, usize)>> {
    let mut names: Vec<std::ffi::OsString> =
        std::fs::read_dir(root.join(rel))?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    Ok(names.into_iter().map(|n| (rel.join(n), depth)).collect())
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}

/// Sets a file's permission bits (read-only on systems without Unix modes).
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let mut p = std::fs::metadata(path)?.permissions();
        p.set_readonly(mode & 0o222 == 0);
        std::fs::set_permissions(path, p)
    }
}

fn write_entry(w: &mut impl Write, name: &str, kind: u8, mode: u32, size: u64) -> io::Result<()> {
    let bytes = name.as_bytes();
    let split = ustar_split(bytes);
    let mut records = String::new();
    if split.is_none() {
        records.push_str(&record(&format!("path={name}")));
    }
    if size > MAX_OCTAL_SIZE {
        records.push_str(&record(&format!("size={size}")));
    }
    if !records.is_empty() {
        w.write_all(&pax_block(b'x', b"PaxHeader", &records))?;
    }
    let (prefix, short) = split.unwrap_or((&[], &bytes[..bytes.len().min(100)]));
    let mut h = base_header(kind, mode, if size > MAX_OCTAL_SIZE { 0 } else { size });
    h[..short.len()].copy_from_slice(short);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    finish_checksum(&mut h);
    w.write_all(&h)
}

/// Where a path fits the ustar fields: `(prefix, name)`, or `None` when it needs a pax record.
fn ustar_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    // Split at a `/` so that the prefix has at most 155 bytes and the name 1 to 100.
    (0..path.len()).rev().filter(|&i| path[i] == b'/').find_map(|i| {
        let (prefix, name) = (&path[..i], &path[i + 1..]);
        (prefix.len() <= 155 && !name.is_empty() && name.len() <= 100).then_some((prefix, name))
    })
}

/// A pax extended header (type `x` or `g`) and its records, padded to whole blocks.
fn pax_block(kind: u8, name: &[u8], records: &str) -> Vec<u8> {
    let mut h = base_header(kind, 0o644, records.len() as u64);
    h[..name.len()].copy_from_slice(name);
    finish_checksum(&mut h);
    let mut v = h.to_vec();
    v.extend_from_slice(records.as_bytes());
    v.resize(v.len().next_multiple_of(BLOCK), 0);
    v
}

/// One pax record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn record(kv: &str) -> String {
    let body = kv.len() + 2; // the space and the newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {kv}\n")
}

fn base_header(kind: u8, mode: u32, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h
}

/// `value` in octal, zero-padded to fill the field but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

fn finish_checksum(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}");
    h[148..154].copy_from_slice(s.as_bytes());
    h[154] = 0;
    h[155] = b' ';
}

fn checksum_ok(h: &[u8; BLOCK]) -> bool {
    let sum: u32 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u32::from(b) }).sum();
    parse_octal(&h[148..156]) == Some(u64::from(sum))
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// A NUL-terminated (or full) header field.
fn field(f: &[u8]) -> &[u8] {
    f.iter().position(|&b| b == 0).map_or(f, |n| &f[..n])
}

fn ustar_name(h: &[u8; BLOCK]) -> Result<String, String> {
    let name = field(&h[..100]);
    let prefix = field(&h[345..500]);
    let joined = if prefix.is_empty() { name.to_vec() } else { [prefix, b"/", name].concat() };
    String::from_utf8(joined).map_err(|_| "an entry name is not UTF-8".to_owned())
}

/// `name` as a relative path of plain components (a trailing `/` of a directory allowed).
fn safe_relative(name: &str) -> Result<PathBuf, &'static str> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let p = Path::new(trimmed);
    if trimmed.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("not a plain relative path");
    }
    Ok(p.to_path_buf())
}

fn parse_records(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() && rest[0] != 0 {
        let sp = rest.iter().position(|&b| b == b' ').ok_or("a pax record has no length")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l| l > sp + 1 && l <= rest.len())
            .ok_or("a pax record has a bad length")?;
        let rec = std::str::from_utf8(&rest[sp + 1..len - 1]).map_err(|_| "a pax record is not UTF-8")?;
        let (k, v) = rec.split_once('=').ok_or("a pax record has no `=`")?;
        out.push((k.to_owned(), v.to_owned()));
        rest = &rest[len..];
    }
    Ok(out)
}

fn pad(w: &mut impl Write, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        w.write_all(&[0; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

fn padded(size: u64) -> u64 {
    size.next_multiple_of(BLOCK as u64)
}

fn skip(r: &mut impl Read, size: u64) -> io::Result<()> {
    let n = padded(size);
    if io::copy(&mut r.take(n), &mut io::sink())? != n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated archive"));
    }
    Ok(())
}

fn skip_padding(r: &mut impl Read, size: u64) -> io::Result<()> {
    let n = padded(size) - size;
    if io::copy(&mut r.take(n), &mut io::sink())? != n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated archive"));
    }
    Ok(())
}

fn read_body(r: &mut impl Read, size: u64) -> io::Result<Vec<u8>> {
    if size > 1 << 20 {
        return Err(io::Error::other("a pax header over 1 MiB"));
    }
    let mut body = vec![0; padded(size) as usize];
    r.read_exact(&mut body)?;
    body.truncate(size as usize);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) {
        std::fs::create_dir_all(root.join("b/deep")).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("z.txt"), "last").unwrap();
        std::fs::write(root.join("b/deep/x.bin"), vec![7u8; 1000]).unwrap();
        std::fs::write(root.join("b/run.sh"), "#!/bin/sh\n").unwrap();
        set_mode(&root.join("b/run.sh"), 0o700).unwrap();
        let long = "d".repeat(120);
        std::fs::create_dir_all(root.join(&long).join("e".repeat(90))).unwrap();
        std::fs::write(root.join(&long).join("e".repeat(90)).join("f".repeat(100)), "long").unwrap();
    }

    fn archive(root: &Path) -> Vec<u8> {
        let mut v = Vec::new();
        write_dir(root, &mut v).unwrap();
        v
    }

    #[test]
    fn the_bytes_depend_on_names_contents_and_exec_bits_only() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path());
        // The same tree created in another order, with other permissions and times.
        std::fs::create_dir_all(b.path().join("a")).unwrap();
        tree(b.path());
        set_mode(&b.path().join("z.txt"), 0o600).unwrap();
        set_mode(&b.path().join("b/run.sh"), 0o500).unwrap();
        let (x, y) = (archive(a.path()), archive(b.path()));
        assert_eq!(x, y);
        assert_eq!(x.len() % BLOCK, 0);
        std::fs::write(b.path().join("z.txt"), "LAST").unwrap();
        assert_ne!(archive(b.path()), x);
    }

    #[test]
    fn round_trip_read_only_and_detected() {
        let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(src.path());
        let file = out.path().join("a.tar");
        let summary = write_dir(src.path(), File::create(&file).unwrap()).unwrap();
        assert_eq!(summary.files, 4);
        assert!(is_dir_archive(&file).unwrap());
        let dest = out.path().join("unpacked");
        assert_eq!(unpack_dir(&file, &dest).unwrap(), summary);
        assert_eq!(std::fs::read(dest.join("b/deep/x.bin")).unwrap(), vec![7u8; 1000]);
        let long = dest.join("d".repeat(120)).join("e".repeat(90)).join("f".repeat(100));
        assert_eq!(std::fs::read_to_string(long).unwrap(), "long");
        assert!(std::fs::metadata(dest.join("z.txt")).unwrap().permissions().readonly());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| std::fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode("b/run.sh"), 0o555);
            assert_eq!(mode("z.txt"), 0o444);
            assert_eq!(mode("b"), 0o555);
        }
        // Re-archiving the unpacked tree gives the same bytes.
        assert_eq!(archive(&dest), std::fs::read(&file).unwrap());
        make_writable(&dest);
    }

    fn make_writable(p: &Path) {
        set_mode(p, 0o755).unwrap();
        for e in std::fs::read_dir(p).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                make_writable(&e.path());
            }
        }
    }

    #[test]
    fn other_files_are_not_dir_archives() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, vec![0u8; 4096]).unwrap();
        assert!(!is_dir_archive(&f).unwrap());
        std::fs::write(&f, "short").unwrap();
        assert!(!is_dir_archive(&f).unwrap());
        assert!(unpack_dir(&f, &d.path().join("u")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("sub/link")).unwrap();
        let e = write_dir(d.path(), io::sink()).unwrap_err();
        assert!(e.contains("sub/link") && e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn pax_records_count_their_own_length() {
        for kv in ["a=b", &format!("path={}", "x".repeat(95)), &format!("path={}", "y".repeat(994))] {
            let r = record(kv);
            let (len, _) = r.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len(), "{r}");
        }
    }

    #[test]
    fn hostile_entries_are_refused() {
        for bad in ["../x", "/etc/x", "a/../../x", "", "./"] {
            assert!(safe_relative(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_relative("a/b/").unwrap(), PathBuf::from("a/b"));
        // An archive whose entry climbs out of the destination.
        let d = tempfile::tempdir().unwrap();
        let mut v = pax_block(b'g', MARKER_NAME, &record(MARKER_RECORD));
        write_entry(&mut v, "../escape", b'0', 0o644, 0).unwrap();
        v.extend_from_slice(&[0; 2 * BLOCK]);
        let f = d.path().join("evil.tar");
        std::fs::write(&f, v).unwrap();
        let e = unpack_dir(&f, &d.path().join("u")).unwrap_err();
        assert!(e.contains("not a plain relative path"), "{e}");
        assert!(!d.path().join("escape").exists());
    }
}
