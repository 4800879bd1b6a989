//! EVAL's script cache: scripts by SHA1, compiled once in the EVAL VM, with
//! the flags of their `#!lua flags=...` shebang line (Redis 7.0).

use std::collections::HashMap;

use bytes::Bytes;
use mlua::Function;

use super::vm::{Vm, VmKind};

/// Flags a script (shebang) or function (register_function) may declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis's backwards-compatible rules (no flags checked).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Sets the flag named as Redis names it; false for an unknown name.
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The names of the set flags, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// A cached script.
pub struct Script {
    pub function: Function,
    pub flags: ScriptFlags,
}

/// The EVAL VM and its scripts.
pub struct EvalEngine {
    pub vm: Vm,
    scripts: HashMap<String, Script>,
}

impl EvalEngine {
    pub fn new() -> mlua::Result<EvalEngine> {
        Ok(EvalEngine {
            vm: Vm::new(VmKind::Eval)?,
            scripts: HashMap::new(),
        })
    }

    /// The cached script with this SHA1 (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&Script> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.scripts.get(&sha)
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    /// Compiles and caches `body` (once per SHA1), returning its SHA1 or
    /// the error reply (shebang or compile error).
    pub fn load(&mut self, body: &Bytes) -> Result<String, String> {
        let sha = sha1_smol::Sha1::from(&body[..]).digest().to_string();
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = parse_shebang(body)?;
        // The shebang line is skipped but its line feed kept, so line
        // numbers in errors match the user's text.
        let function = self
            .vm
            .compile(&body[shebang_len..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.scripts.insert(sha.clone(), Script { function, flags });
        Ok(sha)
    }
}

/// Redis's `evalExtractShebangFlags`: the flags of a `#!lua flags=a,b` first
/// line and its length (0 without a shebang, which means compat mode).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                ..Default::default()
            },
            0,
        ));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".to_string());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = ferrite_resp::split_args(line.as_bytes())
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| "ERR Invalid engine in script shebang".to_string())?;
    let engine = String::from_utf8_lossy(&parts[0]);
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let part = String::from_utf8_lossy(part);
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            if !flags.set(flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {flag}"));
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_are_parsed_as_redis_does() {
        assert!(parse_shebang(b"return 1").unwrap().0.compat);
        let (flags, len) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.no_writes && flags.allow_oom && !flags.compat);
        assert_eq!(len, 31);
        assert_eq!(
            parse_shebang(b"#!lua badger=data\nreturn 1"),
            Err("ERR Unknown lua shebang option: badger=data".to_string())
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=allow-oom,what?\nreturn 1"),
            Err("ERR Unexpected flag in script shebang: what?".to_string())
        );
        assert_eq!(
            parse_shebang(b"#!lua"),
            Err("ERR Invalid script shebang".to_string())
        );
    }
}
