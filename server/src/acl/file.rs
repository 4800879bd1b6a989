//! Where users come from besides ACL SETUSER: `user` lines of the config
//! file (checked while the file is read, installed at startup) and the
//! `aclfile` (ACL LOAD, ACL SAVE, and at startup), with Redis's errors.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::user::{merge_selector_args, User, OFF};
use super::{Acl, RuleError, DUPLICATE_USER};
use crate::client::ClientState;
use crate::commands::CommandTable;
use crate::server::Server;

/// A command table and ACL index for checking `user` lines before the
/// server exists.
fn validation_acl() -> &'static (CommandTable, Acl) {
    static TABLES: OnceLock<(CommandTable, Acl)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let table = CommandTable::new();
        let acl = Acl::new(&table);
        (table, acl)
    })
}

/// Checks a config file's `user <name> rules...` line (its arguments
/// after `user`) as Redis's `ACLAppendUserForLoading`: unknown commands
/// are left for startup to report. `Err` is the config error's reason.
pub fn check_config_user(args: &[String], earlier: &[Vec<String>]) -> Result<(), String> {
    let full: Vec<String> = std::iter::once("user".to_string())
        .chain(args.iter().cloned())
        .collect();
    let declaration_error = |at: usize, message: &str| {
        format!(
            "Error in user declaration '{}': {message}",
            full.get(at).map_or("", String::as_str)
        )
    };
    let Some(name) = args.first() else {
        return Err(declaration_error(0, "Wrong format"));
    };
    if earlier.iter().any(|user| user.first() == Some(name)) {
        return Err(declaration_error(1, DUPLICATE_USER));
    }
    let rules: Vec<Bytes> = args[1..]
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let merged = merge_selector_args(&rules).map_err(|at| declaration_error(at, "Wrong format"))?;
    let (table, acl) = validation_acl();
    let ctx = acl.context(table);
    let mut user = User::new(&ctx, Bytes::copy_from_slice(name.as_bytes()));
    for (j, rule) in merged.iter().enumerate() {
        match user.apply(&ctx, rule) {
            Ok(()) | Err(RuleError::UnknownCommand) => {}
            // Redis names the argument at the merged rule's index.
            Err(error) => return Err(declaration_error(j, error.message())),
        }
    }
    Ok(())
}

/// Installs the config file's users, then the aclfile's (Redis's
/// `ACLLoadUsersAtStartup`). `Err` holds the lines to log before the
/// server exits.
pub fn load_at_startup(server: &Server) -> Result<(), Vec<String>> {
    let (users, aclfile) = {
        let config = server.config.read();
        (config.users.clone(), config.get("aclfile").to_string())
    };
    if !aclfile.is_empty() && !users.is_empty() {
        return Err(vec!["Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".to_string()]);
    }
    if let Err(message) = load_config_users(server, &users) {
        return Err(vec![
            message,
            "Critical error while loading ACLs. Exiting.".to_string(),
        ]);
    }
    if !aclfile.is_empty() {
        if let Err(errors) = load_file(server, &aclfile) {
            return Err(vec![format!(
                "Aborting Redis startup because of ACL errors: {errors}"
            )]);
        }
    }
    Ok(())
}

/// Redis's `ACLLoadConfiguredUsers`.
fn load_config_users(server: &Server, users: &[Vec<String>]) -> Result<(), String> {
    let acl = &server.acl;
    let ctx = acl.context(&server.commands);
    for line in users {
        let name = &line[0];
        if super::selector::has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".to_string());
        }
        let mut user = match acl.user(name.as_bytes()) {
            Some(existing) => {
                let mut user = (*existing).clone();
                let _ = user.apply(&ctx, b"reset");
                user
            }
            None => User::new(&ctx, Bytes::copy_from_slice(name.as_bytes())),
        };
        let rules: Vec<Bytes> = line[1..]
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let merged = merge_selector_args(&rules).unwrap_or_default();
        user.apply_all(&ctx, &merged, |rule, error| {
            format!(
                "Error loading ACL rule '{rule}' for the user named '{name}': {}",
                error.message()
            )
        })?;
        if user.has(OFF) {
            tracing::info!("The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
        }
        acl.install(user);
    }
    Ok(())
}

/// Reads the aclfile into a fresh set of users and installs it only if
/// every line was valid (Redis's `ACLLoadFromFile`); clients of the users
/// replaced are disconnected, except the default user's.
pub fn load_file(server: &Server, path: &str) -> Result<(), String> {
    let users = parse_file(server, path)?;
    server.acl.install_all(users);
    Ok(())
}

/// ACL LOAD: [`load_file`], then the clients of every user but `default`
/// are disconnected (the current one after its reply), as Redis frees the
/// old users.
pub fn reload(server: &Server, client: &mut ClientState, path: &str) -> Result<(), String> {
    let old: Vec<Bytes> = server
        .acl
        .users()
        .iter()
        .map(|u| u.name.clone())
        .filter(|name| &name[..] != b"default")
        .collect();
    load_file(server, path)?;
    super::disconnect_users_clients(server, client, |name| old.iter().any(|o| o == name));
    Ok(())
}

fn parse_file(server: &Server, path: &str) -> Result<BTreeMap<Bytes, Arc<User>>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            os_error(&e)
        )
    })?;
    let acl = &server.acl;
    let ctx = acl.context(&server.commands);
    let mut users: BTreeMap<Bytes, Arc<User>> = BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{path}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if super::selector::has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let rules: Vec<Bytes> = argv[2..]
            .iter()
            .map(|a| Bytes::copy_from_slice(a))
            .collect();
        let Ok(merged) = merge_selector_args(&rules) else {
            errors.push_str(&format!(
                "{path}:{linenum}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut user = User::new(&ctx, Bytes::copy_from_slice(name));
        let mut syntax_error = false;
        for rule in &merged {
            let rule = trim(rule, b"\t\r\n");
            match user.apply(&ctx, rule) {
                Ok(()) => {}
                Err(RuleError::UnknownCommand) => errors.push_str(&format!(
                    "{path}:{linenum}: Error in applying operation '{}': {}. ",
                    String::from_utf8_lossy(rule),
                    RuleError::UnknownCommand.message()
                )),
                Err(error) if !syntax_error => {
                    errors.push_str(&format!("{path}:{linenum}: {}. ", error.message()));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.insert(user.name.clone(), Arc::new(user));
    }
    if !errors.is_empty() {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        return Err(errors);
    }
    if !users.contains_key(&b"default"[..]) {
        users.insert(
            Bytes::from_static(b"default"),
            Arc::new(User::new_default(&ctx)),
        );
    }
    Ok(users)
}

/// The `user <name> <rules>` lines ACL SAVE and CONFIG REWRITE write.
pub fn user_lines(acl: &Acl) -> Vec<Vec<u8>> {
    acl.users()
        .iter()
        .map(|user| {
            let mut line = b"user ".to_vec();
            line.extend_from_slice(&user.name);
            line.push(b' ');
            line.extend_from_slice(&user.describe(&acl.index));
            line
        })
        .collect()
}

/// ACL SAVE: every user to a temporary file renamed over `path`; a
/// failure is logged with what failed, as Redis's `ACLSaveToFile`.
pub fn save_file(acl: &Acl, path: &str) -> bool {
    let mut text = Vec::new();
    for line in user_lines(acl) {
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    let temp = format!("{path}.tmp-{}-{}", std::process::id(), super::now_ms());
    let failure = match std::fs::write(&temp, &text) {
        Err(e) => Some(format!("Writing ACL file for ACL SAVE: {}", os_error(&e))),
        Ok(()) => std::fs::rename(&temp, path)
            .err()
            .map(|e| format!("Renaming ACL file for ACL SAVE: {}", os_error(&e))),
    };
    match failure {
        None => true,
        Some(message) => {
            tracing::warn!("{message}");
            let _ = std::fs::remove_file(&temp);
            false
        }
    }
}

/// An I/O error as `strerror` words it ("No such file or directory").
fn os_error(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn trim<'a>(bytes: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = bytes
        .iter()
        .position(|b| !set.contains(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}
