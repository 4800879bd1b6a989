//! Configuration: redis.conf syntax, `--directive value` overrides, CONFIG
//! GET/SET/REWRITE. Values are kept in their canonical text form (what CONFIG
//! GET prints); typed getters parse on demand, and the server caches the few
//! values the request path reads.

mod directives;
mod file;

use std::collections::HashMap;

pub use directives::{find, Directive, Kind, Support, DIRECTIVES};
pub use file::{load, rewrite, ConfigFileError};

use ferrite_storage::glob_match;

/// The current value of every directive.
#[derive(Debug, Clone)]
pub struct Config {
    values: HashMap<&'static str, String>,
    /// The config file the server started from (CONFIG REWRITE writes it).
    pub file: Option<std::path::PathBuf>,
    /// The `user` lines' arguments (name, rules...), installed at startup.
    pub users: Vec<Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: DIRECTIVES
                .iter()
                .map(|d| (d.name, d.default.to_string()))
                .collect(),
            file: None,
            users: Vec::new(),
        }
    }
}

impl Config {
    /// Sets a directive from its arguments, validating them as Redis does.
    /// `at_startup` allows directives CONFIG SET may not change.
    pub fn set(&mut self, name: &str, args: &[String], at_startup: bool) -> Result<(), String> {
        let directive =
            find(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        if !at_startup && !directive.mutable {
            return Err("can't set immutable config".to_string());
        }
        let current = self.get(directive.name).to_string();
        let value = canonical_value(directive, args, &current)?;
        self.values.insert(directive.name, value);
        Ok(())
    }

    /// `replicaof` as the replication link left it (REPLICAOF, FAILOVER,
    /// PSYNC FAILOVER): the master replicated now, if any.
    pub fn set_master(&mut self, master: Option<(&str, u16)>) {
        let value = master.map_or(String::new(), |(host, port)| format!("{host} {port}"));
        self.values.insert("replicaof", value);
    }

    /// The canonical value of `name` (which must be a known directive name).
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Directives whose name (or alias) matches the glob, as CONFIG GET lists them:
    /// hidden ones only for their exact name (a pattern without `*`, `?` or `[`).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let mut found = Vec::new();
        let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for directive in DIRECTIVES {
            if directive.hidden && is_glob {
                continue;
            }
            if glob_match(pattern, directive.name.as_bytes(), true) {
                found.push((directive.name, self.get(directive.name)));
            }
            for alias in directive.aliases {
                if glob_match(pattern, alias.as_bytes(), true) {
                    found.push((*alias, self.get(directive.name)));
                }
            }
        }
        found
    }
}

/// Validates `args` for `directive` and returns the text CONFIG GET reports.
fn canonical_value(
    directive: &Directive,
    args: &[String],
    current: &str,
) -> Result<String, String> {
    let single = || -> Result<&str, String> {
        match args {
            [one] => Ok(one.as_str()),
            _ => Err("wrong number of arguments".to_string()),
        }
    };
    match directive.kind {
        Kind::Bool => match single()?.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int { min, max } => {
            let value: i64 = single()?
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            check_range(value, min, max)
        }
        Kind::Memory { min, max } => {
            let value = parse_memory(single()?)
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            check_range(value, min, max)
        }
        Kind::MemoryOrPercent => {
            let text = single()?;
            if let Some(bytes) = parse_memory(text) {
                return check_range(bytes, 0, i64::MAX);
            }
            match text.strip_suffix('%').map(str::parse::<u64>) {
                Some(Ok(percent)) if percent <= 100 => Ok(text.to_string()),
                Some(Ok(_)) => Err("percentage argument must be less or equal to 100".into()),
                _ => Err("argument must be a memory or percent value".into()),
            }
        }
        Kind::Enum(choices) => {
            let value = single()?.to_ascii_lowercase();
            if choices.contains(&value.as_str()) {
                Ok(value)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    choices.join(", ")
                ))
            }
        }
        Kind::Text => Ok(single()?.to_string()),
        // Redis's `isValidAOFfilename` / `isValidAOFdirname`.
        Kind::BaseName { noun } => {
            let value = single()?;
            let name = directive.name;
            if value.is_empty() {
                Err(format!("{name} can't be empty"))
            } else if value.contains('/') {
                Err(format!("{name} can't be a path, just a {noun}"))
            } else {
                Ok(value.to_string())
            }
        }
        Kind::AddressList => {
            if args.is_empty() {
                return Err("wrong number of arguments".into());
            }
            Ok(args.join(" "))
        }
        Kind::SavePoints => parse_save_points(args),
        Kind::HostPort => match args {
            [host, port] if port.parse::<u16>().is_ok() => Ok(format!("{host} {port}")),
            [_, _] => Err("Invalid master port".into()),
            _ => Err("wrong number of arguments".into()),
        },
        Kind::OutputBufferLimits => merge_output_buffer_limits(args, current),
        Kind::KeyspaceEvents => crate::notify::parse_flags(single()?)
            .map(crate::notify::format_flags)
            .ok_or_else(|| crate::notify::INVALID_CLASS.to_string()),
        Kind::Percentiles => parse_percentiles(args),
        Kind::ShutdownFlags => crate::shutdown::ShutdownFlags::canonical(args),
    }
}

/// `latency-tracking-info-percentiles`: each number as Redis prints it
/// back (`%f` without trailing zeros: "50.0" -> "50").
fn parse_percentiles(args: &[String]) -> Result<String, String> {
    let words = args.iter().flat_map(|a| a.split_whitespace());
    let mut canonical = Vec::new();
    for word in words {
        let percentile: f64 = word
            .parse()
            .ok()
            .filter(|p: &f64| !p.is_nan())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&percentile) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        canonical.push(percentile_text(percentile));
    }
    Ok(canonical.join(" "))
}

/// A percentile as Redis prints it: `%f` with trailing zeros (and a
/// trailing dot) removed.
pub fn percentile_text(percentile: f64) -> String {
    let text = format!("{percentile:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn check_range(value: i64, min: i64, max: i64) -> Result<String, String> {
    if value < min || value > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(value.to_string())
}

/// Parses Redis memory notation: `100`, `1k` (1000), `1kb` (1024), `mb`, `gb`...
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, i64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
    ];
    for (suffix, multiplier) in units {
        if let Some(number) = lower.strip_suffix(suffix) {
            return number.parse::<i64>().ok()?.checked_mul(multiplier);
        }
    }
    if lower.ends_with('b') {
        return lower.strip_suffix('b')?.parse().ok();
    }
    lower.parse().ok()
}

fn parse_save_points(args: &[String]) -> Result<String, String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    for word in &words {
        word.parse::<u64>()
            .map_err(|_| "Invalid save parameters".to_string())?;
    }
    Ok(words.join(" "))
}

fn merge_output_buffer_limits(args: &[String], current: &str) -> Result<String, String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if !words.len().is_multiple_of(4) || words.is_empty() {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut classes: Vec<(String, [i64; 3])> = current
        .split_whitespace()
        .collect::<Vec<_>>()
        .chunks(4)
        .filter(|c| c.len() == 4)
        .map(|c| {
            (
                c[0].to_string(),
                [c[1], c[2], c[3]].map(|n| n.parse().unwrap_or(0)),
            )
        })
        .collect();
    for chunk in words.chunks(4) {
        let class = match chunk[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(chunk[1]);
        let soft = parse_memory(chunk[2]);
        let seconds = chunk[3].parse::<i64>().ok();
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        if hard < 0 || soft < 0 || seconds < 0 {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        }
        match classes.iter_mut().find(|(name, _)| name == class) {
            Some((_, limits)) => *limits = [hard, soft, seconds],
            None => classes.push((class.to_string(), [hard, soft, seconds])),
        }
    }
    Ok(classes
        .iter()
        .map(|(name, [h, s, t])| format!("{name} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn validates_and_canonicalises() {
        let mut config = Config::default();
        config.set("maxmemory", &strings(&["1mb"]), false).unwrap();
        assert_eq!(config.get("maxmemory"), "1048576");
        config
            .set("SLAVE-READ-ONLY", &strings(&["No"]), false)
            .unwrap();
        assert_eq!(config.get("replica-read-only"), "no");
        assert!(config.set("daemonize", &strings(&["yes"]), false).is_err());
        assert!(config.set("hz", &strings(&["x"]), false).is_err());
        config.set("save", &strings(&[""]), false).unwrap();
        assert_eq!(config.get("save"), "");
        config
            .set(
                "client-output-buffer-limit",
                &strings(&["pubsub 1mb 2 3"]),
                false,
            )
            .unwrap();
        assert_eq!(
            config.get("client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2 3"
        );
        assert_eq!(config.matching(b"maxmemory").len(), 1);
        // Hidden directives answer their exact name only.
        assert_eq!(
            config.matching(b"KEY-LOAD-DELAY"),
            [("key-load-delay", "0")]
        );
        assert!(config
            .matching(b"*")
            .iter()
            .all(|(n, _)| *n != "key-load-delay"));
        assert!(config.matching(b"key-load-dela?").is_empty());
        let percentiles = "latency-tracking-info-percentiles";
        config
            .set(percentiles, &strings(&["0.0 50.0 99.90"]), false)
            .unwrap();
        assert_eq!(config.get(percentiles), "0 50 99.9");
        assert!(config.set(percentiles, &strings(&["10 a"]), false).is_err());
        assert!(config.set(percentiles, &strings(&["101"]), false).is_err());
        assert_eq!(config.get(percentiles), "0 50 99.9");
        config.set(percentiles, &strings(&[""]), false).unwrap();
        assert_eq!(config.get(percentiles), "");
    }
}
