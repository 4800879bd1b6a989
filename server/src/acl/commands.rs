//! The command table as ACL rules see it: one bit per command and
//! subcommand (the table's ids), each command's categories, containers and
//! their subcommands, and which arguments are Pub/Sub channels. Built once
//! from the command table, so a rule never looks at a `CommandSpec` again.

use crate::command::ACL_CATEGORY_ORDER;
use crate::commands::CommandTable;

/// A set of command ids, plus one reserved bit past the last id that only
/// `+@all` sets: whether the user may run commands added later (Redis's
/// `ACLSelectorCanExecuteFutureCommands`, which decides between `+@all`
/// and `-@all` when rules are described).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBits(Vec<u64>);

impl CommandBits {
    pub fn empty(len: usize) -> CommandBits {
        CommandBits(vec![0; len.div_ceil(64)])
    }

    pub fn full(len: usize) -> CommandBits {
        CommandBits(vec![u64::MAX; len.div_ceil(64)])
    }

    pub fn get(&self, id: usize) -> bool {
        self.0
            .get(id / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    pub fn set(&mut self, id: usize, value: bool) {
        if let Some(word) = self.0.get_mut(id / 64) {
            if value {
                *word |= 1 << (id % 64);
            } else {
                *word &= !(1 << (id % 64));
            }
        }
    }
}

/// How a command names Pub/Sub channels (Redis's `commands_with_channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelArgs {
    /// SUBSCRIBE, SSUBSCRIBE: every argument is a channel.
    Subscribe,
    /// PSUBSCRIBE: every argument is a pattern, matched literally.
    PatternSubscribe,
    /// PUBLISH, SPUBLISH: the first argument.
    Publish,
}

#[derive(Debug)]
struct Entry {
    full_name: &'static str,
    /// Bit i: category `ACL_CATEGORY_ORDER[i]`.
    categories: u32,
    parent: Option<usize>,
    subcommands: Vec<usize>,
    no_auth: bool,
    channels: Option<ChannelArgs>,
}

#[derive(Debug)]
pub struct CommandIndex {
    entries: Vec<Entry>,
}

impl CommandIndex {
    pub fn new(table: &CommandTable) -> CommandIndex {
        let mut entries: Vec<Entry> = Vec::with_capacity(table.len());
        for (id, full_name, spec) in table.all() {
            let categories = spec
                .acl_categories()
                .iter()
                .filter_map(|name| ACL_CATEGORY_ORDER.iter().position(|c| c == name))
                .fold(0u32, |mask, i| mask | 1 << i);
            let parent = full_name.split_once('|').and_then(|(container, _)| {
                table.lookup(container.as_bytes()).map(|(parent, _)| parent)
            });
            if let Some(parent) = parent {
                entries[parent].subcommands.push(id);
            }
            let channels = match full_name {
                "subscribe" | "ssubscribe" => Some(ChannelArgs::Subscribe),
                "psubscribe" => Some(ChannelArgs::PatternSubscribe),
                "publish" | "spublish" => Some(ChannelArgs::Publish),
                _ => None,
            };
            entries.push(Entry {
                full_name,
                categories,
                parent,
                subcommands: Vec::new(),
                no_auth: spec.has_flag("no_auth"),
                channels,
            });
        }
        CommandIndex { entries }
    }

    /// Bits in a selector's command set: one per id and the future bit.
    pub fn bit_count(&self) -> usize {
        self.entries.len() + 1
    }

    pub fn future_bit(&self) -> usize {
        self.entries.len()
    }

    /// Every id, containers before their subcommands (the order rules are
    /// described in).
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        0..self.entries.len()
    }

    pub fn full_name(&self, id: usize) -> &'static str {
        self.entries[id].full_name
    }

    pub fn parent(&self, id: usize) -> Option<usize> {
        self.entries[id].parent
    }

    pub fn subcommands(&self, id: usize) -> &[usize] {
        &self.entries[id].subcommands
    }

    pub fn is_container(&self, id: usize) -> bool {
        !self.entries[id].subcommands.is_empty()
    }

    pub fn in_category(&self, id: usize, category: usize) -> bool {
        self.entries[id].categories & (1 << category) != 0
    }

    pub fn no_auth(&self, id: usize) -> bool {
        self.entries[id].no_auth
    }

    pub fn channels(&self, id: usize) -> Option<ChannelArgs> {
        self.entries[id].channels
    }

    /// A command by its ACL name (`get`, `config|get`; any case), as
    /// Redis's `ACLLookupCommand`: `a|b` only names a subcommand of a
    /// container, and more than one `|` names nothing.
    pub fn lookup(&self, table: &CommandTable, name: &[u8]) -> Option<usize> {
        let mut parts = name.split(|&b| b == b'|');
        let base = parts.next()?;
        let (id, _) = table.lookup(base)?;
        match (parts.next(), parts.next()) {
            (None, _) => Some(id),
            (Some(sub), None) if self.is_container(id) => {
                table.lookup_subcommand(id, sub).map(|(sub_id, _)| sub_id)
            }
            _ => None,
        }
    }
}

/// The index in `ACL_CATEGORY_ORDER` of a category name without its `@`
/// (any case).
pub fn category_index(name: &[u8]) -> Option<usize> {
    ACL_CATEGORY_ORDER
        .iter()
        .position(|category| category.as_bytes()[1..].eq_ignore_ascii_case(name))
}
