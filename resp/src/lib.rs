//! The RESP wire format, and nothing else: turning the bytes clients send into
//! requests, and replies into the bytes clients expect, in RESP2 or RESP3.
//!
//! This crate knows nothing of commands or storage. The server feeds it a read
//! buffer and gets back requests whose arguments are zero-copy `Bytes` slices of
//! that buffer; it writes replies through [`ReplyWriter`], which encodes each
//! reply type the way Redis 7.0 does for the connection's protocol version.

mod double;
mod inline;
mod parser;
mod writer;

pub use double::{format_double, format_human_double};
pub use inline::split_args;
pub use parser::{ParseLimits, ProtocolError, RequestParser};
pub use writer::{Protocol, ReplyWriter};
