//! DEBUG PROTOCOL <type>: one sample reply of each RESP type, exactly as Redis
//! sends them, so clients and Redis's protocol tests can check their parsers.

use crate::command::{CmdError, CmdResult, Ctx};
use ferrite_resp::Protocol;

pub fn reply(ctx: &mut Ctx<'_>, kind: &str) -> CmdResult {
    let out = &mut *ctx.out;
    match kind {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.integer(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => out.big_number("1234567999999999999999999999999999999"),
        "null" => out.null(),
        "array" => {
            out.array(3);
            (0..3).for_each(|j| out.integer(j));
        }
        "set" => {
            out.set(3);
            (0..3).for_each(|j| out.integer(j));
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.integer(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if out.protocol() == Protocol::Resp3 {
                out.attribute(1);
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.integer(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if out.protocol() == Protocol::Resp2 {
                return Err(CmdError::msg("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.integer(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        _ => {
            return Err(CmdError::msg(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}
