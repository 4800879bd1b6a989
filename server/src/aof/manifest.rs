//! The AOF manifest of Redis 7.0 (`<appendfilename>.manifest` inside
//! `appenddirname`): which base, history and incremental files make up the
//! append-only file, one `file <name> seq <n> type b|h|i` line each, base
//! first, then history, then incr. Parsed with the checks of Redis's
//! `aofLoadManifestFromFile` and written as `writeAofManifestFile` does
//! (temp file, fsync, rename, fsync of the directory).

use std::io::Write;
use std::path::Path;

use ferrite_resp::split_args;

/// Redis's `MANIFEST_MAX_LINE`.
const MAX_LINE: usize = 1024;

/// What a manifest line says a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Base,
    History,
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

/// One file of the append-only file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofInfo {
    pub name: String,
    pub seq: i64,
    pub kind: FileType,
}

/// The manifest as loaded or as it will be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofInfo>,
    pub history: Vec<AofInfo>,
    pub incr: Vec<AofInfo>,
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// A manifest Redis would refuse: the line (number and text) and why.
#[derive(Debug)]
pub struct ManifestError {
    pub line: Option<(usize, String)>,
    pub reason: &'static str,
}

impl Manifest {
    /// Parses a manifest's text as Redis's `aofLoadManifestFromFile`.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        let fail = |line: Option<(usize, String)>, reason| ManifestError { line, reason };
        if text.is_empty() {
            return Err(fail(None, "Found an empty AOF manifest"));
        }
        let mut rest = text;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let end = rest.iter().position(|&b| b == b'\n');
            let raw = &rest[..end.unwrap_or(rest.len())];
            rest = end.map_or(&[][..], |e| &rest[e + 1..]);
            if raw.first() == Some(&b'#') {
                continue;
            }
            let shown = String::from_utf8_lossy(raw)
                .trim_matches(|c| " \t\r\n".contains(c))
                .to_string();
            if end.is_none() || raw.len() >= MAX_LINE {
                return Err(fail(
                    Some((number, shown)),
                    "The AOF manifest file contains too long line",
                ));
            }
            let at = Some((number, shown.clone()));
            let info = parse_line(&shown).map_err(|reason| fail(at.clone(), reason))?;
            match info.kind {
                FileType::Base => {
                    if manifest.base.is_some() {
                        return Err(fail(at, "Found duplicate base file information"));
                    }
                    manifest.base_seq = info.seq;
                    manifest.base = Some(info);
                }
                FileType::History => manifest.history.push(info),
                FileType::Incr => {
                    if info.seq <= manifest.incr.last().map_or(0, |i| i.seq) {
                        return Err(fail(at, "Found a non-monotonic sequence number"));
                    }
                    manifest.incr_seq = info.seq;
                    manifest.incr.push(info);
                }
            }
        }
        Ok(manifest)
    }

    /// The manifest's text: base, history, incr (Redis's
    /// `getAofManifestAsString`).
    pub fn render(&self) -> String {
        let mut text = String::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incr);
        for info in all {
            let name = if needs_quoting(&info.name) {
                quoted(&info.name)
            } else {
                info.name.clone()
            };
            text.push_str(&format!(
                "file {name} seq {} type {}\n",
                info.seq,
                info.kind.letter()
            ));
        }
        text
    }

    /// A new base file (`<filename>.<seq>.base.rdb|aof`); the previous one
    /// becomes history (`getNewBaseFileNameAndMarkPreAsHistory`).
    pub fn new_base(&mut self, filename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileType::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!(
            "{filename}.{}.base.{}",
            self.base_seq,
            if rdb { "rdb" } else { "aof" }
        );
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: FileType::Base,
        });
        name
    }

    /// A new incremental file, appended to the list (`getNewIncrAofName`).
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(AofInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileType::Incr,
        });
        name
    }

    /// Every incremental file but the one being written (`keep_last`)
    /// becomes history (`markRewrittenIncrAofAsHistory`).
    pub fn incr_to_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last).min(self.incr.len());
        let moved: Vec<AofInfo> = self
            .incr
            .drain(..self.incr.len() - keep)
            .map(|info| AofInfo {
                kind: FileType::History,
                ..info
            })
            .collect();
        self.history.splice(0..0, moved);
    }

    /// Whether the manifest names no base and no incremental file.
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incr.is_empty()
    }

    /// The base file and the incremental files, in loading order.
    pub fn loading_order(&self) -> impl Iterator<Item = &AofInfo> {
        self.base.iter().chain(&self.incr)
    }

    /// Writes the manifest as `<dir>/<filename>.manifest` through a temp
    /// file, as Redis's `writeAofManifestFile`.
    pub fn persist(&self, dir: &Path, filename: &str) -> Result<(), String> {
        let name = format!("{filename}.manifest");
        let temp_name = format!("temp-{name}");
        let temp = dir.join(&temp_name);
        let mut file = std::fs::File::create(&temp)
            .map_err(|e| format!("Can't open the AOF manifest file {temp_name}: {e}"))?;
        file.write_all(self.render().as_bytes()).map_err(|e| {
            format!("Error trying to write the temporary AOF manifest file {temp_name}: {e}")
        })?;
        file.sync_all()
            .map_err(|e| format!("Fail to fsync the temp AOF file {temp_name}: {e}."))?;
        std::fs::rename(&temp, dir.join(&name)).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF manifest file {temp_name} into {name}: {e}"
            )
        })?;
        sync_dir(dir).map_err(|e| {
            format!(
                "Fail to fsync AOF directory {}: {e}.",
                dir.join(&name).display()
            )
        })
    }
}

/// Syncs a directory so renames and new files in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(dir)?.sync_all()
}

/// One line's `file`/`seq`/`type` pairs (unknown keys ignored, as Redis
/// does for forward compatibility).
fn parse_line(line: &str) -> Result<AofInfo, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let args = split_args(line.as_bytes()).ok_or(INVALID)?;
    if line.is_empty() || args.len() < 6 || args.len() % 2 != 0 {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, 0i64, None);
    for pair in args.chunks(2) {
        let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        match key.as_str() {
            "file" => {
                if value.contains('/') {
                    return Err("File can't be a path, just a filename");
                }
                name = Some(value);
            }
            // atoll: leading digits, 0 when there are none.
            "seq" => seq = leading_integer(&value),
            "type" => kind = value.chars().next(),
            _ => {}
        }
    }
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(INVALID);
    };
    if seq == 0 {
        return Err(INVALID);
    }
    let kind = match kind {
        'b' => FileType::Base,
        'h' => FileType::History,
        'i' => FileType::Incr,
        _ => return Err("Unknown AOF file type"),
    };
    Ok(AofInfo { name, seq, kind })
}

/// C's `atoll`: an optional sign and the digits that follow, 0 otherwise.
fn leading_integer(text: &str) -> i64 {
    let text = text.trim_start();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

/// Redis's `sdsneedsrepr`: quoting is needed for spaces, quotes and
/// non-printable bytes.
fn needs_quoting(name: &str) -> bool {
    name.bytes()
        .any(|b| b == b'\\' || b == b'"' || b == b'\'' || !(b.is_ascii_graphic()))
}

/// Redis's `sdscatrepr`.
fn quoted(name: &str) -> String {
    let mut out = String::from("\"");
    for b in name.bytes() {
        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(b as char);
            }
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rotation() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let mut manifest = Manifest::parse(text).unwrap();
        assert_eq!(manifest.render().as_bytes(), text);
        manifest.new_incr("appendonly.aof");
        manifest.new_base("appendonly.aof", true);
        manifest.incr_to_history(true);
        assert_eq!(
            manifest.render(),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn refuses_what_redis_refuses() {
        let reason = |text: &[u8]| Manifest::parse(text).unwrap_err().reason;
        assert_eq!(reason(b""), "Found an empty AOF manifest");
        assert_eq!(
            reason(b"file a seq 1\n"),
            "Invalid AOF manifest file format"
        );
        assert_eq!(reason(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            reason(b"file a/b seq 1 type i\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            reason(b"file a seq 2 type i\nfile b seq 1 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(
            reason(b"file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            reason(b"file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
    }
}
