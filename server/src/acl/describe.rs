//! Describing a selector's command set as rules ACL SETUSER would accept
//! (Redis's `ACLDescribeSelectorCommandRules`): `+@all` or `-@all`, then the
//! categories that best fit, then single commands until the bits match.
//! ACL LIST, ACL GETUSER, ACL SAVE and CONFIG REWRITE all show this.

use super::commands::{CommandBits, CommandIndex};
use super::selector::Selector;
use crate::command::ACL_CATEGORY_ORDER;

/// How many commands (and subcommands) of `category` are in and out of
/// `bits`.
fn count_category(index: &CommandIndex, bits: &CommandBits, category: usize) -> (usize, usize) {
    let (mut on, mut off) = (0, 0);
    for id in index.ids().filter(|&id| index.in_category(id, category)) {
        if bits.get(id) {
            on += 1;
        } else {
            off += 1;
        }
    }
    (on, off)
}

/// A scratch selector holding only a command set, to replay rules on.
fn scratch(index: &CommandIndex, bits: CommandBits) -> Selector {
    let mut selector = Selector {
        all_keys: false,
        all_channels: false,
        all_commands: false,
        allowed: bits,
        first_args: Default::default(),
        patterns: Vec::new(),
        channels: Vec::new(),
    };
    selector.all_commands = selector.allowed.get(index.future_bit());
    selector
}

pub fn command_rules(index: &CommandIndex, selector: &Selector) -> String {
    let additive = !selector.allowed.get(index.future_bit());
    let mut rules = String::from(if additive { "-@all " } else { "+@all " });
    let mut fake = scratch(index, CommandBits::empty(index.bit_count()));
    fake.set_all_commands(index, !additive);
    // Categories are matched against what is left of the user's bits
    // (`temp`): each applied category is taken out of it.
    let mut temp = scratch(index, selector.allowed.clone());
    let mut applied = [false; ACL_CATEGORY_ORDER.len()];
    loop {
        let mut best = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (category, _) in applied.iter().enumerate().filter(|(_, done)| !**done) {
            let (on, off) = count_category(index, &temp.allowed, category);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(category);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(category) = best else { break };
        fake.change_category(index, category, additive);
        temp.change_category(index, category, !additive);
        rules.push_str(if additive { "+" } else { "-" });
        rules.push_str(ACL_CATEGORY_ORDER[category]);
        rules.push(' ');
        applied[category] = true;
    }
    for id in index.ids() {
        let user_bit = selector.allowed.get(id);
        if user_bit != fake.allowed.get(id) {
            rules.push_str(if user_bit { "+" } else { "-" });
            rules.push_str(index.full_name(id));
            rules.push(' ');
            fake.change_command(index, id, user_bit);
        }
        if !user_bit {
            for arg in selector.first_args.get(&id).into_iter().flatten() {
                rules.push('+');
                rules.push_str(index.full_name(id));
                rules.push('|');
                rules.push_str(&String::from_utf8_lossy(arg));
                rules.push(' ');
            }
        }
    }
    rules.pop();
    rules
}

/// Keys, channels and commands of a selector as ACL LIST shows them
/// (Redis's `ACLDescribeSelector`).
pub fn describe_selector(index: &CommandIndex, selector: &Selector) -> Vec<u8> {
    let mut out = Vec::new();
    if selector.all_keys {
        out.extend_from_slice(b"~* ");
    } else {
        for pattern in &selector.patterns {
            pattern.describe(&mut out);
            out.push(b' ');
        }
    }
    if selector.all_channels {
        out.extend_from_slice(b"&* ");
    } else {
        out.extend_from_slice(b"resetchannels ");
        for channel in &selector.channels {
            out.push(b'&');
            out.extend_from_slice(channel);
            out.push(b' ');
        }
    }
    out.extend_from_slice(command_rules(index, selector).as_bytes());
    out
}
