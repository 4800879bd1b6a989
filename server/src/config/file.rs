//! Reading redis.conf files and command-line overrides, and CONFIG REWRITE.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{find, Config, DIRECTIVES};
use ferrite_resp::split_args;

/// A startup configuration error, printed as Redis prints it.
#[derive(Debug)]
pub struct ConfigFileError {
    pub line_number: usize,
    pub line: String,
    pub reason: String,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Ferrite {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(
            f,
            "Reading the configuration file, at line {}",
            self.line_number
        )?;
        writeln!(f, ">>> '{}'", self.line)?;
        write!(f, "{}", self.reason)
    }
}

/// Builds the configuration from the command line as redis-server does:
/// `[config-file] [--directive value ...]`. Overrides apply after the file.
pub fn load(args: &[String]) -> Result<Config, ConfigFileError> {
    let mut config = Config::default();
    let mut rest = args;
    let mut text = String::new();
    if let Some(first) = args.first().filter(|a| !a.starts_with("--")) {
        let path = PathBuf::from(first);
        text = read_with_includes(&path, 0)?;
        config.file = Some(std::fs::canonicalize(&path).unwrap_or(path));
        rest = &args[1..];
    }
    for line in override_lines(rest) {
        text.push('\n');
        text.push_str(&line);
    }
    apply_text(&mut config, &text)?;
    Ok(config)
}

/// Turns `--port 7000 --save ""` into config lines (`port 7000`, `save ""`).
fn override_lines(args: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for arg in args {
        match arg.strip_prefix("--") {
            Some(option) => lines.push(option.to_string()),
            None => match lines.last_mut() {
                Some(line) => {
                    line.push(' ');
                    line.push_str(&quote(arg));
                }
                None => lines.push(quote(arg)),
            },
        }
    }
    lines
}

fn quote(arg: &str) -> String {
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn read_with_includes(path: &Path, depth: usize) -> Result<String, ConfigFileError> {
    let fail = |reason: String| ConfigFileError {
        line_number: 0,
        line: path.display().to_string(),
        reason,
    };
    if depth > 16 {
        return Err(fail("Too many nested includes".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(format!(
            "Fatal error, can't open config file '{}': {e}",
            path.display()
        ))
    })?;
    let mut out = String::new();
    for line in text.lines() {
        let args = split_args(line.trim().as_bytes()).unwrap_or_default();
        if args.len() == 2 && args[0].eq_ignore_ascii_case(b"include") {
            let included = PathBuf::from(String::from_utf8_lossy(&args[1]).into_owned());
            out.push_str(&read_with_includes(&included, depth + 1)?);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

fn apply_text(config: &mut Config, text: &str) -> Result<(), ConfigFileError> {
    let mut save_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: &str| ConfigFileError {
            line_number: index + 1,
            line: line.to_string(),
            reason: reason.to_string(),
        };
        let args = split_args(line.as_bytes())
            .ok_or_else(|| error("Unbalanced quotes in configuration line"))?;
        let args: Vec<String> = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let Some((name, values)) = args.split_first() else {
            continue;
        };
        if name.eq_ignore_ascii_case("user") && !values.is_empty() {
            crate::acl::file::check_config_user(values, &config.users)
                .map_err(|reason| error(&reason))?;
            config.users.push(values.to_vec());
            continue;
        }
        let directive =
            find(name).ok_or_else(|| error("Bad directive or wrong number of arguments"))?;
        let mut values = values.to_vec();
        if directive.name == "save" {
            // Several `save` lines accumulate; the first replaces the default.
            if save_seen && !values.iter().all(|v| v.is_empty()) {
                values.insert(0, config.get("save").to_string());
            }
            if values.is_empty() {
                values.push(String::new());
            }
            save_seen = true;
        }
        config
            .set(name, &values, true)
            .map_err(|reason| error(&reason))?;
    }
    Ok(())
}

/// CONFIG REWRITE: rewrites the config file in place, keeping comments and
/// unknown lines, replacing each directive's first line with its current value,
/// dropping its later lines, and appending changed directives not yet present.
/// `users` (the `user` lines, none when an aclfile holds the users) replace
/// the file's `user` lines, as Redis's `rewriteConfigUserOption`.
pub fn rewrite(config: &Config, users: &[String]) -> Result<(), String> {
    let path = config
        .file
        .as_ref()
        .ok_or("The server is running without a config file")?;
    let original = std::fs::read_to_string(path).unwrap_or_default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut out = String::new();
    let mut users_written = false;
    for line in original.lines() {
        let args = split_args(line.trim().as_bytes()).unwrap_or_default();
        if args
            .first()
            .is_some_and(|name| name.eq_ignore_ascii_case(b"user"))
        {
            if !users_written {
                users_written = true;
                for user in users {
                    out.push_str(user);
                    out.push('\n');
                }
            }
            continue;
        }
        let directive = args
            .first()
            .and_then(|name| find(&String::from_utf8_lossy(name)));
        match directive {
            Some(directive) if !line.trim_start().starts_with('#') => {
                if !written.contains(&directive.name) {
                    written.push(directive.name);
                    out.push_str(&format_line(
                        directive.name,
                        &rewritten_value(config, directive.name),
                    ));
                    out.push('\n');
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !users_written {
        for user in users {
            out.push_str(user);
            out.push('\n');
        }
    }
    for directive in DIRECTIVES {
        if !written.contains(&directive.name) && config.get(directive.name) != directive.default {
            out.push_str(&format_line(
                directive.name,
                &rewritten_value(config, directive.name),
            ));
            out.push('\n');
        }
    }
    let temp = path.with_extension("rewrite.tmp");
    std::fs::write(&temp, out).map_err(|e| format!("Rewriting config file: {e}"))?;
    std::fs::rename(&temp, path).map_err(|e| format!("Rewriting config file: {e}"))
}

/// What CONFIG REWRITE writes for `name`: `dir` as the absolute working directory (the
/// server has already changed into it, so a relative `dir` would not be found again).
fn rewritten_value(config: &Config, name: &str) -> String {
    match name {
        "dir" => std::env::current_dir()
            .map(|dir| dir.to_string_lossy().into_owned())
            .unwrap_or_else(|_| config.get(name).to_string()),
        _ => config.get(name).to_string(),
    }
}

fn format_line(name: &str, value: &str) -> String {
    match name {
        "save" | "bind" | "client-output-buffer-limit" | "replicaof" if !value.is_empty() => {
            format!("{name} {value}")
        }
        _ => format!("{name} {}", quote(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_overrides() {
        let config = load(&args(&[
            "--port",
            "7000",
            "--save",
            "",
            "--maxmemory 700mb",
        ]))
        .unwrap();
        assert_eq!(config.get("port"), "7000");
        assert_eq!(config.get("save"), "");
        assert_eq!(config.get("maxmemory"), "734003200");
    }

    #[test]
    fn errors_name_the_line() {
        let error = load(&args(&["--port", "7000", "--no-such-thing", "1"])).unwrap_err();
        assert_eq!(error.line_number, 3);
        assert_eq!(error.reason, "Bad directive or wrong number of arguments");
        let error = load(&args(&["--port"])).unwrap_err();
        assert_eq!(error.reason, "wrong number of arguments");
    }
}
