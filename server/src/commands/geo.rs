//! GEO commands (Redis 7.0's geo.c): a geospatial index is a sorted set whose
//! scores are 52-bit geohashes (`crate::geo`), so GEOADD is a ZADD of encoded
//! positions and every sorted set command works on it. This file has GEOADD,
//! GEOPOS, GEODIST, GEOHASH, the argument helpers the searches share and the
//! command table entries; the searches themselves are in `geo_search.rs`.

use bytes::Bytes;
use ferrite_resp::{format_human_double, ReplyWriter};

use super::geo_search::{
    georadius, georadius_ro, georadiusbymember, georadiusbymember_ro, geosearch, geosearchstore,
};
use super::zsets::{add_generic, with_zset, AddFlags};
use crate::command::{is, parse_f64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::geo::{format, hash, shape};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};

const G: &str = "geo";
const GEO: &[&str] = &["@geo", "@slow"];
const READ: &[&str] = &["readonly"];
const WD: &[&str] = &["write", "denyoom"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, geoadd).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(WD).acl(GEO).doc(G, "Add one or more geospatial items in the geospatial index represented using a sorted set"),
    CommandSpec::new("geopos", -2, geopos).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "Returns longitude and latitude of members of a geospatial index"),
    CommandSpec::new("geodist", -4, geodist).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "Returns the distance between two members of a geospatial index"),
    CommandSpec::new("geohash", -2, geohash).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "Returns members of a geospatial index as standard geohash strings"),
    CommandSpec::new("geosearch", -7, geosearch).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle."),
    CommandSpec::new("geosearchstore", -8, geosearchstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::range(2, 0, 1, RO | ACCESS)]).flags(WD).acl(GEO).doc(G, "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key."),
    CommandSpec::new("georadius", -6, georadius).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS), KeySpec::new(OW | UPDATE, BeginSearch::Keyword { keyword: "STORE", startfrom: 6 }, FindKeys::Range { lastkey: 0, step: 1, limit: 0 }), KeySpec::new(OW | UPDATE, BeginSearch::Keyword { keyword: "STOREDIST", startfrom: 6 }, FindKeys::Range { lastkey: 0, step: 1, limit: 0 })]).flags(WD).acl(GEO).doc(G, "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point"),
    CommandSpec::new("georadius_ro", -6, georadius_ro).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "A read-only variant for GEORADIUS"),
    CommandSpec::new("georadiusbymember", -5, georadiusbymember).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS), KeySpec::new(OW | UPDATE, BeginSearch::Keyword { keyword: "STORE", startfrom: 5 }, FindKeys::Range { lastkey: 0, step: 1, limit: 0 }), KeySpec::new(OW | UPDATE, BeginSearch::Keyword { keyword: "STOREDIST", startfrom: 5 }, FindKeys::Range { lastkey: 0, step: 1, limit: 0 })]).flags(WD).acl(GEO).doc(G, "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member"),
    CommandSpec::new("georadiusbymember_ro", -5, georadiusbymember_ro).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(READ).acl(GEO).doc(G, "A read-only variant for GEORADIUSBYMEMBER"),
];

/// Parses a longitude and a latitude (Redis's `extractLongLatOrReply`).
pub(super) fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let (lon, lat) = (parse_f64(lon)?, parse_f64(lat)?);
    if !(hash::LONG_MIN..=hash::LONG_MAX).contains(&lon)
        || !(hash::LAT_MIN..=hash::LAT_MAX).contains(&lat)
    {
        return Err(invalid_pair(lon, lat));
    }
    Ok((lon, lat))
}

fn invalid_pair(lon: f64, lat: f64) -> CmdError {
    CmdError::msg(format!(
        "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
    ))
}

/// Meters per unit (Redis's `extractUnitOrReply`).
pub(super) fn parse_unit(unit: &[u8]) -> Result<f64, CmdError> {
    if is(unit, "m") {
        Ok(1.0)
    } else if is(unit, "km") {
        Ok(1000.0)
    } else if is(unit, "ft") {
        Ok(0.3048)
    } else if is(unit, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// GEOADD's request: `key [NX|XX] [CH] (longitude latitude member)...`.
pub(crate) struct GeoAdd<'a> {
    flags: AddFlags,
    /// Where the first longitude is: the options are `args[2..first]`.
    first: usize,
    /// Each member with the score its position encodes to.
    points: Vec<(u64, &'a Bytes)>,
}

impl<'a> GeoAdd<'a> {
    /// Parses GEOADD as Redis's `geoaddCommand` does (errors in its order).
    pub(crate) fn parse(args: &'a [Bytes]) -> Result<Self, CmdError> {
        let mut flags = AddFlags::default();
        let mut first = 2;
        while let Some(arg) = args.get(first) {
            if is(arg, "nx") {
                flags.nx = true;
            } else if is(arg, "xx") {
                flags.xx = true;
            } else if is(arg, "ch") {
                flags.ch = true;
            } else {
                break;
            }
            first += 1;
        }
        let triples = &args[first..];
        if triples.is_empty() || !triples.len().is_multiple_of(3) || (flags.xx && flags.nx) {
            return Err(CmdError::Syntax);
        }
        let points = triples
            .chunks_exact(3)
            .map(|t| {
                let (lon, lat) = parse_lon_lat(&t[0], &t[1])?;
                let score = hash::score_of(lon, lat).ok_or_else(|| invalid_pair(lon, lat))?;
                Ok((score, &t[2]))
            })
            .collect::<Result<_, CmdError>>()?;
        Ok(GeoAdd {
            flags,
            first,
            points,
        })
    }

    /// The ZADD Redis runs (and propagates, as lowercase `zadd`) for this GEOADD.
    pub(crate) fn as_zadd(&self, args: &[Bytes]) -> Vec<Bytes> {
        let mut zadd = Vec::with_capacity(self.first + self.points.len() * 2);
        zadd.push(Bytes::from_static(b"zadd"));
        zadd.extend(args[1..self.first].iter().cloned());
        for (score, member) in &self.points {
            zadd.push(Bytes::from(score.to_string()));
            zadd.push((*member).clone());
        }
        zadd
    }
}

fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let request = GeoAdd::parse(args)?;
    let elements: Vec<(f64, &Bytes)> = request
        .points
        .iter()
        .map(|(score, member)| (*score as f64, *member))
        .collect();
    add_generic(ctx, &args[1], &elements, request.flags)
}

/// A position as GEOPOS and WITHCOORD reply it: `[longitude, latitude]`.
pub(super) fn reply_position(out: &mut ReplyWriter, lon: f64, lat: f64) {
    out.array(2);
    out.double_text(&format_human_double(lon));
    out.double_text(&format_human_double(lat));
}

fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_zset(ctx, &args[1], |zset, out| {
        out.array(args.len() - 2);
        for member in &args[2..] {
            match zset.as_ref().and_then(|z| z.score(member)) {
                Some(score) => {
                    let (lon, lat) = hash::decode_score(score);
                    reply_position(out, lon, lat);
                }
                None => out.null_array(),
            }
        }
    })
}

fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => parse_unit(&args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    with_zset(ctx, &args[1], |zset, out| {
        let scores = zset.and_then(|z| Some((z.score(&args[2])?, z.score(&args[3])?)));
        match scores {
            Some((a, b)) => {
                let (lon1, lat1) = hash::decode_score(a);
                let (lon2, lat2) = hash::decode_score(b);
                let meters = shape::distance(lon1, lat1, lon2, lat2);
                out.bulk(format::distance(meters / to_meters).as_bytes());
            }
            None => out.null(),
        }
    })
}

fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_zset(ctx, &args[1], |zset, out| {
        out.array(args.len() - 2);
        for member in &args[2..] {
            match zset.as_ref().and_then(|z| z.score(member)) {
                Some(score) => out.bulk(&hash::standard_geohash(score)),
                None => out.null(),
            }
        }
    })
}
