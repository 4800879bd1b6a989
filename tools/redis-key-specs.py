#!/usr/bin/env python3
"""Redis 7.0's key specs as Ferrite's `.key_specs(&[...])` declarations.

Why this exists: every command declares Redis's key specs beside its
CommandSpec (server/src/key_spec.rs says what they drive). They are copied
from Redis's src/commands/*.json rather than typed by hand. With command
names, prints the declaration for each (what to paste when adding a
command); with --apply, rewrites the specs of server/src/commands/*.rs in
place: `.keys(first, last, step)` gives way to `.key_specs(...)`, and a
declared "movablekeys" flag is dropped (it is derived from the specs).

Usage: tools/redis-key-specs.py [--redis DIR] NAME...   (e.g. lmove "object|freq")
       tools/redis-key-specs.py [--redis DIR] --apply
DIR defaults to redis-tests/.cache/redis-7.0.15 (redis-tests/run fetches it).
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


def load_specs(redis_dir):
    specs = {}
    for path in glob.glob(str(Path(redis_dir) / "src/commands/*.json")):
        for name, cmd in json.load(open(path)).items():
            full = name.lower()
            if "container" in cmd:
                full = cmd["container"].lower() + "|" + full
            specs[full] = cmd.get("key_specs", [])
    if not specs:
        sys.exit(f"no src/commands/*.json under {redis_dir}")
    return specs


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


def apply(specs):
    missing = []
    for path in sorted(glob.glob(str(REPO / "server/src/commands/*.rs"))):
        text = open(path).read()
        containers = {const: name for name, const in CONTAINER.findall(text)}
        consts = [(m.start(), m.group(1)) for m in CONST.finditer(text)]
        calls = list(CALL.finditer(text))
        out, last = [], 0
        for i, call in enumerate(calls):
            if call.group(1) != "new":
                continue
            end = calls[i + 1].start() if i + 1 < len(calls) else len(text)
            close = text.find("];", call.end())
            if close != -1:
                end = min(end, close)
            owner = [c for pos, c in consts if pos < call.start()]
            container = containers.get(owner[-1]) if owner else None
            name = call.group(2)
            full = f"{container}|{name}" if container else name
            if full not in specs:
                missing.append(full)
                continue
            chain = text[call.start():end]
            chain = re.sub(r'\s*\.keys\(\s*-?\d+,\s*-?\d+,\s*-?\d+\s*\)', "", chain)
            chain = re.sub(r',\s*"movablekeys"', "", chain)
            chain = re.sub(r'"movablekeys",\s*', "", chain)
            if specs[full] and ".key_specs(" not in chain:
                paren = chain.index(")")
                chain = chain[:paren + 1] + declaration(specs[full]) + chain[paren + 1:]
            out.append(text[last:call.start()])
            out.append(chain)
            last = end
        out.append(text[last:])
        new = "".join(out)
        if new != text:
            open(path, "w").write(new)
    if missing:
        print("not Redis commands (left alone):", " ".join(missing), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=str(REPO / "redis-tests/.cache/redis-7.0.15"))
    parser.add_argument("--apply", action="store_true")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    specs = load_specs(args.redis)
    if args.apply:
        apply(specs)
    for name in args.names:
        if name.lower() not in specs:
            sys.exit(f"{name}: not a Redis 7.0 command")
        print(f"{name.lower()}: {declaration(specs[name.lower()])}")


if __name__ == "__main__":
    main()
