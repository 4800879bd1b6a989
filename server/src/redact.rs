//! Secrets kept out of the slow log and MONITOR: the arguments Redis
//! replaces with `(redacted)` (`redactClientCommandArgument` in AUTH,
//! HELLO, MIGRATE, ACL SETUSER and CONFIG SET of sensitive directives).

use bytes::Bytes;

use crate::command::is;

/// Directives whose values CONFIG SET hides (Redis's SENSITIVE_CONFIG).
const SENSITIVE_DIRECTIVES: &[&str] = &["masteruser", "masterauth", "requirepass"];

/// `request` as the slow log and MONITOR show it, if anything in it is
/// hidden; `name` is the command's full name (`config|set`).
pub fn redacted(name: &str, request: &[Bytes]) -> Option<Vec<Bytes>> {
    let hidden: Vec<usize> = match name {
        "auth" if request.len() <= 3 => (1..request.len()).collect(),
        "hello" => hello_secrets(request),
        "migrate" => migrate_secrets(request),
        "acl|setuser" => (2..request.len()).collect(),
        "config|set" => (3..request.len())
            .step_by(2)
            .filter(|&j| {
                let directive = String::from_utf8_lossy(&request[j - 1]).to_ascii_lowercase();
                let directive = crate::config::find(&directive).map(|d| d.name);
                directive.is_some_and(|d| SENSITIVE_DIRECTIVES.contains(&d))
            })
            .collect(),
        _ => return None,
    };
    if hidden.is_empty() {
        return None;
    }
    let mut shown = request.to_vec();
    for j in hidden {
        shown[j] = Bytes::from_static(b"(redacted)");
    }
    Some(shown)
}

/// HELLO's `AUTH user pass` (Redis redacts both).
fn hello_secrets(request: &[Bytes]) -> Vec<usize> {
    let mut hidden = Vec::new();
    let mut j = 2;
    while j < request.len() {
        let more = request.len() - 1 - j;
        if is(&request[j], "auth") && more >= 2 {
            hidden.extend([j + 1, j + 2]);
            j += 2;
        } else if is(&request[j], "setname") && more >= 1 {
            j += 1;
        }
        j += 1;
    }
    hidden
}

/// MIGRATE's `AUTH pass` and `AUTH2 user pass`, among the options before
/// KEYS.
fn migrate_secrets(request: &[Bytes]) -> Vec<usize> {
    let mut hidden = Vec::new();
    let mut j = 6;
    while j < request.len() {
        let more = request.len() - 1 - j;
        let count = if is(&request[j], "auth") && more >= 1 {
            1
        } else if is(&request[j], "auth2") && more >= 2 {
            2
        } else if is(&request[j], "keys") {
            break;
        } else {
            0
        };
        hidden.extend(j + 1..j + 1 + count);
        j += 1 + count;
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    fn shown(name: &str, words: &[&str]) -> Option<Vec<String>> {
        let shown = redacted(name, &args(words))?;
        Some(
            shown
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        )
    }

    #[test]
    fn secrets_are_redacted_as_redis_does() {
        assert_eq!(
            shown("auth", &["auth", "p"]).unwrap(),
            ["auth", "(redacted)"]
        );
        assert_eq!(
            shown(
                "hello",
                &["hello", "3", "SETNAME", "auth", "AUTH", "u", "p"]
            )
            .unwrap(),
            [
                "hello",
                "3",
                "SETNAME",
                "auth",
                "AUTH",
                "(redacted)",
                "(redacted)"
            ]
        );
        assert_eq!(
            shown(
                "migrate",
                &["migrate", "h", "1", "", "0", "5", "AUTH2", "u", "p", "KEYS", "auth"]
            )
            .unwrap(),
            [
                "migrate",
                "h",
                "1",
                "",
                "0",
                "5",
                "AUTH2",
                "(redacted)",
                "(redacted)",
                "KEYS",
                "auth"
            ]
        );
        assert_eq!(
            shown(
                "config|set",
                &["config", "set", "hz", "5", "masterauth", "x"]
            )
            .unwrap(),
            ["config", "set", "hz", "5", "masterauth", "(redacted)"]
        );
        assert_eq!(
            shown("migrate", &["migrate", "h", "1", "k", "0", "5"]),
            None
        );
        assert_eq!(shown("get", &["get", "k"]), None);
    }
}
