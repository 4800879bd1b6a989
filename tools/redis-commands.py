#!/usr/bin/env python3
"""Redis 7.0's command metadata (src/commands/*.json) as Ferrite source.

Why this exists: Ferrite's key specs and COMMAND DOCS data are Redis's,
copied from its JSON files rather than typed by hand.

  key-specs NAME...   prints each command's `.key_specs(&[...])` declaration,
                      what to put beside its CommandSpec (server/src/key_spec.rs
                      says what key specs drive); e.g. lmove "object|freq"
  apply-key-specs     rewrites server/src/commands/*.rs in place:
                      `.keys(first, last, step)` gives way to `.key_specs(...)`
                      and a declared "movablekeys" flag is dropped (it is
                      derived from the specs)
  docs                regenerates server/src/commands/docs_data.rs: COMMAND
                      DOCS's fields of every Redis 7.0 command

--redis DIR defaults to redis-tests/.cache/redis-7.0.15 (redis-tests/run
fetches it).
"""

import argparse
import glob
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLAG_ORDER = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE",
              "NOT_KEY", "INCOMPLETE", "VARIABLE_FLAGS"]


def load_commands(redis_dir):
    """Every command's JSON object by full name (`container|sub`)."""
    commands = {}
    for path in glob.glob(str(Path(redis_dir) / "src/commands/*.json")):
        for name, cmd in json.load(open(path)).items():
            full = name.lower()
            if "container" in cmd:
                full = cmd["container"].lower() + "|" + full
            commands[full] = cmd
    if not commands:
        sys.exit(f"no src/commands/*.json under {redis_dir}")
    return commands


def rust_flags(flags):
    known = [f for f in FLAG_ORDER if f in flags]
    unknown = set(flags) - set(known)
    if unknown:
        sys.exit(f"unknown key-spec flags {unknown}")
    return " | ".join(known) if known else "0"


def rust_spec(spec):
    flags = rust_flags(spec.get("flags", []))
    bs, fk = spec["begin_search"], spec["find_keys"]
    if "index" in bs and "range" in fk and fk["range"]["limit"] == 0:
        r = fk["range"]
        out = f"KeySpec::range({bs['index']['pos']}, {r['lastkey']}, {r['step']}, {flags})"
    else:
        if "index" in bs:
            begin = f"BeginSearch::Index({bs['index']['pos']})"
        elif "keyword" in bs:
            k = bs["keyword"]
            begin = (f"BeginSearch::Keyword {{ keyword: \"{k['keyword']}\", "
                     f"startfrom: {k['startfrom']} }}")
        else:
            begin = "BeginSearch::Unknown"
        if "range" in fk:
            r = fk["range"]
            find = (f"FindKeys::Range {{ lastkey: {r['lastkey']}, step: {r['step']}, "
                    f"limit: {r['limit']} }}")
        elif "keynum" in fk:
            k = fk["keynum"]
            find = (f"FindKeys::Keynum {{ keynumidx: {k['keynumidx']}, "
                    f"firstkey: {k['firstkey']}, step: {k['step']} }}")
        else:
            find = "FindKeys::Unknown"
        out = f"KeySpec::new({flags}, {begin}, {find})"
    if spec.get("notes"):
        out += ".notes(" + json.dumps(spec["notes"]) + ")"
    return out


def declaration(specs):
    return ".key_specs(&[" + ", ".join(rust_spec(s) for s in specs) + "])"


CALL = re.compile(r'CommandSpec::(new|container)\(\s*"([a-z_|-]+)"')
CONST = re.compile(r'const ([A-Z_]+): &\[CommandSpec\]')
CONTAINER = re.compile(r'CommandSpec::container\("([a-z_-]+)",\s*([A-Z_]+)\)')


def declared(text):
    """(call match, end of its builder chain, full name) of every
    `CommandSpec::new` in a family file."""
    containers = {const: name for name, const in CONTAINER.findall(text)}
    consts = [(m.start(), m.group(1)) for m in CONST.finditer(text)]
    calls = list(CALL.finditer(text))
    for i, call in enumerate(calls):
        end = calls[i + 1].start() if i + 1 < len(calls) else len(text)
        close = text.find("];", call.end())
        if close != -1:
            end = min(end, close)
        owner = [c for pos, c in consts if pos < call.start()]
        container = containers.get(owner[-1]) if owner and call.group(1) == "new" else None
        name = call.group(2)
        yield call, end, f"{container}|{name}" if container else name


def family_files():
    return sorted(glob.glob(str(REPO / "server/src/commands/*.rs")))


def apply_key_specs(commands):
    missing = []
    for path in family_files():
        text = open(path).read()
        out, last = [], 0
        for call, end, full in declared(text):
            if call.group(1) != "new":
                continue
            if full not in commands:
                missing.append(full)
                continue
            specs = commands[full].get("key_specs", [])
            chain = text[call.start():end]
            chain = re.sub(r'\s*\.keys\(\s*-?\d+,\s*-?\d+,\s*-?\d+\s*\)', "", chain)
            chain = re.sub(r',\s*"movablekeys"', "", chain)
            chain = re.sub(r'"movablekeys",\s*', "", chain)
            if specs and ".key_specs(" not in chain:
                paren = chain.index(")")
                chain = chain[:paren + 1] + declaration(specs) + chain[paren + 1:]
            out.append(text[last:call.start()])
            out.append(chain)
            last = end
        out.append(text[last:])
        new = "".join(out)
        if new != text:
            open(path, "w").write(new)
    if missing:
        print("not Redis commands (left alone):", " ".join(missing), file=sys.stderr)


def rust_str(text):
    return json.dumps(text)


def rust_opt(text):
    return f"Some({rust_str(text)})" if text is not None else "None"


def rust_arg(arg, depth):
    """As Redis's generate-command-code.py writes it: the name lowercased,
    the token uppercased, empty strings absent."""
    if arg.get("summary"):
        sys.exit(f"argument {arg['name']} has a summary: add it to docs.rs's Arg")
    out = f"Arg::new({rust_str(arg['name'].lower())}, {rust_str(arg['type'])})"
    if "key_spec_index" in arg:
        out += f".key_spec({arg['key_spec_index']})"
    if arg.get("token"):
        out += f".token({rust_str(arg['token'].upper())})"
    for field in ("since", "deprecated_since"):
        if arg.get(field):
            out += f".{field}({rust_str(arg[field])})"
    flags = [f for f in ("optional", "multiple", "multiple_token") if arg.get(f)]
    if flags:
        out += ".flags(&[" + ", ".join(rust_str(f) for f in flags) + "])"
    if arg["type"] in ("oneof", "block"):
        out += ".args(" + rust_args(arg["arguments"], depth + 1) + ")"
    return out


def rust_args(args, depth):
    pad = "    " * (depth + 2)
    inner = "".join(f"\n{pad}{rust_arg(a, depth)}," for a in args)
    return f"&[{inner}\n{'    ' * (depth + 1)}]"


def rust_docs(cmd):
    out = f"CommandDocs::new({rust_str(cmd['summary'])}, {rust_str(cmd['since'])})"
    for field in ("complexity", "deprecated_since", "replaced_by"):
        if cmd.get(field):
            out += f"\n        .{field}({rust_str(cmd[field])})"
    if cmd.get("doc_flags"):
        flags = ", ".join(rust_str(f.lower()) for f in cmd["doc_flags"])
        out += f"\n        .doc_flags(&[{flags}])"
    if cmd.get("history"):
        history = ", ".join(f"({rust_str(a)}, {rust_str(b)})" for a, b in cmd["history"])
        out += f"\n        .history(&[{history}])"
    if cmd.get("command_tips"):
        tips = ", ".join(rust_str(t.lower()) for t in cmd["command_tips"])
        out += f"\n        .tips(&[{tips}])"
    if cmd.get("arguments"):
        out += "\n        .args(" + rust_args(cmd["arguments"], 1) + ")"
    return out


DOCS_HEADER = """//! COMMAND DOCS's fields of every Redis 7.0.15 command (summary, since,
//! complexity, doc flags, deprecation, history, arguments) and COMMAND INFO's
//! tips, so a command has Redis's documentation as soon as Ferrite declares it. Generated by
//! `tools/redis-commands.py docs` from Redis's src/commands/*.json: do not
//! edit by hand.

use super::docs::{Arg, CommandDocs};

/// By full name (`container|sub`), sorted for binary search.
pub static DOCS: &[(&str, CommandDocs)] = &[
"""


def write_docs(commands):
    body = "".join(f"    (\n        {rust_str(n)},\n        {rust_docs(commands[n])},\n    ),\n"
                   for n in sorted(commands))
    path = REPO / "server/src/commands/docs_data.rs"
    path.write_text(DOCS_HEADER + body + "];\n")
    print(f"{path.relative_to(REPO)}: {len(commands)} commands")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=str(REPO / "redis-tests/.cache/redis-7.0.15"))
    parser.add_argument("mode", choices=["key-specs", "apply-key-specs", "docs"])
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    commands = load_commands(args.redis)
    if args.mode == "apply-key-specs":
        apply_key_specs(commands)
    elif args.mode == "docs":
        write_docs(commands)
    for name in args.names:
        if name.lower() not in commands:
            sys.exit(f"{name}: not a Redis 7.0 command")
        specs = commands[name.lower()].get("key_specs", [])
        print(f"{name.lower()}: {declaration(specs)}")


if __name__ == "__main__":
    main()
