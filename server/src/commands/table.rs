//! The command table: every command and subcommand, flattened and numbered (the
//! number indexes per-command statistics), with case-insensitive lookup.

use std::collections::HashMap;

use crate::command::CommandSpec;

/// Every family's commands.
pub const COMMANDS: &[&[CommandSpec]] = &[
    super::connection::COMMANDS,
    super::strings::COMMANDS,
    super::hashes::COMMANDS,
    super::sets::COMMANDS,
    super::keys::COMMANDS,
    super::lists::COMMANDS,
    super::list_blocking::COMMANDS,
    super::server_admin::COMMANDS,
    super::introspection::COMMANDS,
    super::zsets::COMMANDS,
    super::zset_blocking::COMMANDS,
    super::sort::COMMANDS,
    super::transactions::COMMANDS,
    super::persistence::COMMANDS,
    super::pubsub::COMMANDS,
    super::scripting::COMMANDS,
    super::replication::COMMANDS,
    super::cluster::COMMANDS,
    super::geo::COMMANDS,
    super::hyperloglog::COMMANDS,
    super::bitmaps::COMMANDS,
    super::migrate::COMMANDS,
    super::streams::COMMANDS,
    super::stream_info::COMMANDS,
    super::stream_groups::COMMANDS,
    super::stream_readgroup::COMMANDS,
    super::stream_claim::COMMANDS,
    super::acl::COMMANDS,
];

/// Longer than any command name; longer input cannot name a command.
const MAX_NAME_LEN: usize = 32;

fn lowercase<'b>(name: &[u8], buffer: &'b mut [u8; MAX_NAME_LEN]) -> Option<&'b [u8]> {
    let target = buffer.get_mut(..name.len())?;
    for (to, from) in target.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    Some(target)
}

struct Registered {
    spec: &'static CommandSpec,
    full_name: &'static str,
}

pub struct CommandTable {
    entries: Vec<Registered>,
    by_name: HashMap<Box<[u8]>, usize, ahash::RandomState>,
    /// (container id, lowercase subcommand) to id.
    by_subcommand: HashMap<(usize, Box<[u8]>), usize, ahash::RandomState>,
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandTable {
    pub fn new() -> CommandTable {
        let mut table = CommandTable {
            entries: Vec::new(),
            by_name: HashMap::default(),
            by_subcommand: HashMap::default(),
        };
        for family in COMMANDS {
            for spec in family.iter() {
                let id = table.entries.len();
                table.entries.push(Registered {
                    spec,
                    full_name: spec.name,
                });
                table.by_name.insert(spec.name.as_bytes().into(), id);
                for sub in spec.subcommands {
                    let sub_id = table.entries.len();
                    let full_name: &'static str =
                        Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str());
                    table.entries.push(Registered {
                        spec: sub,
                        full_name,
                    });
                    table
                        .by_subcommand
                        .insert((id, sub.name.as_bytes().into()), sub_id);
                }
            }
        }
        table
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Case-insensitive lookup without allocating (names are short).
    pub fn lookup(&self, name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
        let mut lower = [0u8; MAX_NAME_LEN];
        let lower = lowercase(name, &mut lower)?;
        let id = *self.by_name.get(lower)?;
        Some((id, self.entries[id].spec))
    }

    pub fn lookup_subcommand(
        &self,
        container: usize,
        name: &[u8],
    ) -> Option<(usize, &'static CommandSpec)> {
        let mut lower = [0u8; MAX_NAME_LEN];
        let lower = lowercase(name, &mut lower)?;
        let id = *self.by_subcommand.get(&(container, Box::from(lower)))?;
        Some((id, self.entries[id].spec))
    }

    pub fn spec(&self, id: usize) -> &'static CommandSpec {
        self.entries[id].spec
    }

    /// `get`, or `config|get` for a subcommand.
    pub fn full_name(&self, id: usize) -> &'static str {
        self.entries[id].full_name
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.entries
            .iter()
            .filter(|e| !e.full_name.contains('|'))
            .map(|e| e.spec)
    }

    /// All commands and subcommands with their ids.
    pub fn all(&self) -> impl Iterator<Item = (usize, &'static str, &'static CommandSpec)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(id, e)| (id, e.full_name, e.spec))
    }
}
