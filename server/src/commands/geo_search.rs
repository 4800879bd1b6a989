//! The GEO searches (Redis 7.0's `georadiusGeneric`): GEORADIUS and
//! GEORADIUSBYMEMBER (with STORE/STOREDIST) and their _RO forms, GEOSEARCH
//! and GEOSEARCHSTORE. Arguments are checked in Redis's order, so the same
//! bad request gets the same error; the points are found by scanning the
//! score ranges of the nine geohash boxes around the centre, as Redis does,
//! so results (and their order at equal distances) are Redis's.

use bytes::Bytes;
use ferrite_storage::{Bound, ZSetValue};

use super::geo::{parse_lon_lat, parse_unit, reply_position};
use super::typed::value_at;
use super::zsets::store_result;
use crate::command::{is, parse_f64, parse_i64, CmdError, CmdResult, Ctx};
use crate::geo::format;
use crate::geo::hash::decode_score;
use crate::geo::pqsort::pqsort;
use crate::geo::shape::{box_scores, search_boxes, Extent, Shape};

/// How a command names the centre of its search.
#[derive(Clone, Copy, PartialEq)]
enum Origin {
    /// GEORADIUS: `key longitude latitude radius unit`.
    Coords,
    /// GEORADIUSBYMEMBER: `key member radius unit`.
    Member,
    /// GEOSEARCH(STORE): FROMMEMBER / FROMLONLAT and BYRADIUS / BYBOX options.
    Options,
}

/// Where a command may store its result.
#[derive(Clone, Copy, PartialEq)]
enum Store {
    /// The _RO forms and GEOSEARCH: never.
    Never,
    /// GEORADIUS(BYMEMBER): `STORE key` or `STOREDIST key`.
    Option,
    /// GEOSEARCHSTORE: always, in its first key (STOREDIST without a key).
    Destination,
}

#[derive(Clone, Copy)]
struct Form {
    origin: Origin,
    store: Store,
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Asc,
    Desc,
}

/// A parsed search request.
struct Query<'a> {
    /// None only when the source key is missing (Redis stops before it
    /// would need the centre).
    shape: Option<Shape>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    order: Option<Order>,
    any: bool,
    /// At most this many results; 0 for all.
    count: usize,
    /// The destination key, and whether it stores distances (else geohashes).
    store: Option<(&'a [u8], bool)>,
}

/// A point found inside the shape.
struct Point {
    member: Vec<u8>,
    longitude: f64,
    latitude: f64,
    /// From the centre, in meters.
    dist: f64,
    score: f64,
}

pub(super) fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Coords,
            store: Store::Option,
        },
    )
}

pub(super) fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Coords,
            store: Store::Never,
        },
    )
}

pub(super) fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Member,
            store: Store::Option,
        },
    )
}

pub(super) fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Member,
            store: Store::Never,
        },
    )
}

pub(super) fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Options,
            store: Store::Never,
        },
    )
}

pub(super) fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    search_command(
        ctx,
        args,
        Form {
            origin: Origin::Options,
            store: Store::Destination,
        },
    )
}

/// `<radius> <unit>`: (meters per unit, radius).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, Extent), CmdError> {
    let radius = parse_f64(radius).map_err(|_| CmdError::msg("ERR need numeric radius"))?;
    if radius < 0.0 {
        return Err(CmdError::msg("ERR radius cannot be negative"));
    }
    Ok((parse_unit(unit)?, Extent::Radius(radius)))
}

/// `<width> <height> <unit>`: (meters per unit, box).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, Extent), CmdError> {
    let width = parse_f64(width).map_err(|_| CmdError::msg("ERR need numeric width"))?;
    let height = parse_f64(height).map_err(|_| CmdError::msg("ERR need numeric height"))?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::msg("ERR height or width cannot be negative"));
    }
    Ok((parse_unit(unit)?, Extent::Box { width, height }))
}

/// The position of `member` (Redis's `longLatFromMember`).
fn member_position(zset: &ZSetValue, member: &[u8]) -> Result<(f64, f64), CmdError> {
    zset.score(member)
        .map(decode_score)
        .ok_or_else(|| CmdError::msg("ERR could not decode requested zset member"))
}

/// Parses a search as Redis does, given the source sorted set (None when
/// the key is missing: then the centre member is not looked up).
fn parse<'a>(
    args: &'a [Bytes],
    form: Form,
    src: Option<&ZSetValue>,
) -> Result<Query<'a>, CmdError> {
    let mut centre = None;
    let mut area = None;
    let mut query = Query {
        shape: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        order: None,
        any: false,
        count: 0,
        store: None,
    };
    let base = match form.origin {
        Origin::Coords => {
            centre = Some(parse_lon_lat(&args[2], &args[3])?);
            area = Some(parse_radius(&args[4], &args[5])?);
            6
        }
        Origin::Member => {
            if let Some(zset) = src {
                centre = Some(member_position(zset, &args[2])?);
                area = Some(parse_radius(&args[3], &args[4])?);
            }
            5
        }
        Origin::Options if form.store == Store::Destination => {
            query.store = Some((&args[1][..], false));
            3
        }
        Origin::Options => 2,
    };
    let searching = form.origin == Origin::Options;
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut i = base;
    while i < args.len() {
        let arg = &args[i];
        let has = |n: usize| i + n < args.len();
        if is(arg, "withdist") {
            query.withdist = true;
        } else if is(arg, "withhash") {
            query.withhash = true;
        } else if is(arg, "withcoord") {
            query.withcoord = true;
        } else if is(arg, "any") {
            query.any = true;
        } else if is(arg, "asc") {
            query.order = Some(Order::Asc);
        } else if is(arg, "desc") {
            query.order = Some(Order::Desc);
        } else if is(arg, "count") && has(1) {
            let count = parse_i64(&args[i + 1])?;
            if count <= 0 {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            query.count = usize::try_from(count).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist"))
            && has(1)
            && form.store == Store::Option
        {
            query.store = Some((&args[i + 1][..], is(arg, "storedist")));
            i += 1;
        } else if is(arg, "storedist") && form.store == Store::Destination {
            query.store = Some((&args[1][..], true));
        } else if is(arg, "frommember") && has(1) && searching && !fromloc {
            if let Some(zset) = src {
                centre = Some(member_position(zset, &args[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && has(2) && searching && !frommember {
            centre = Some(parse_lon_lat(&args[i + 1], &args[i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && has(2) && searching && !bybox {
            area = Some(parse_radius(&args[i + 1], &args[i + 2])?);
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && has(3) && searching && !byradius {
            area = Some(parse_box(&args[i + 1], &args[i + 2], &args[i + 3])?);
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if query.store.is_some() && (query.withdist || query.withhash || query.withcoord) {
        let what = if form.store == Store::Destination {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(&args[0]).into_owned();
    if searching && !(frommember || fromloc) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if searching && !(byradius || bybox) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if query.any && query.count == 0 {
        return Err(CmdError::msg(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    if let (Some((longitude, latitude)), Some((conversion, extent))) = (centre, area) {
        query.shape = Some(Shape {
            longitude,
            latitude,
            extent,
            conversion,
        });
    }
    Ok(query)
}

/// The points of `zset` inside `shape`, box by box in Redis's order, stopping
/// once `limit` (0 = none) were found (Redis's `membersOfAllNeighbors`).
fn find_points(zset: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Point> {
    let boxes = search_boxes(shape);
    let mut points = Vec::new();
    let full = |points: &Vec<Point>| limit != 0 && points.len() >= limit;
    let mut last = 0;
    for (i, hash) in boxes.iter().enumerate() {
        if hash.is_zero() {
            continue;
        }
        // With huge radii neighbours can repeat: skip a box just scanned.
        if last != 0 && *hash == boxes[last] {
            continue;
        }
        if full(&points) {
            break;
        }
        let (min, max) = box_scores(*hash);
        let first = zset.score_lower_rank(Bound::Inclusive(min));
        for (score, member) in zset.iter_from(first, false) {
            if score >= max {
                break;
            }
            let (longitude, latitude) = decode_score(score);
            if let Some(dist) = shape.contains(longitude, latitude) {
                points.push(Point {
                    member: member.to_vec(),
                    longitude,
                    latitude,
                    dist,
                    score,
                });
            }
            if full(&points) {
                break;
            }
        }
        last = i;
    }
    points
}

/// The points a query returns, in its order: with COUNT (and no ANY) the
/// nearest ones, as Redis sorts ascending when COUNT has no order.
fn results(zset: &ZSetValue, shape: &Shape, query: &Query<'_>) -> Vec<Point> {
    let order = match query.order {
        None if query.count != 0 && !query.any => Some(Order::Asc),
        order => order,
    };
    let limit = if query.any { query.count } else { 0 };
    let mut points = find_points(zset, shape, limit);
    let returned = if query.count == 0 {
        points.len()
    } else {
        points.len().min(query.count)
    };
    if let Some(order) = order {
        sort_points(&mut points, returned, order);
    }
    points.truncate(returned);
    points
}

fn search_command(ctx: &mut Ctx<'_>, args: &[Bytes], form: Form) -> CmdResult {
    let src_at = if form.store == Store::Destination {
        2
    } else {
        1
    };
    // The destination is known before the source is read: a first parse
    // without the source's data accepts whatever the real one accepts.
    let dst = parse(args, form, None)
        .ok()
        .and_then(|q| q.store.map(|(key, _)| key));
    let limits = ctx.encoding_limits();
    let db = ctx.client.db;
    let ks = ctx.keyspace();
    let mut keys = vec![(db, ks.key(&args[src_at]))];
    if let Some(dst) = dst {
        keys.push((db, ks.key(dst)));
    }
    let (mut guards, positions) = ks.lock_many(&keys);
    let zset = value_at::<ZSetValue>(&mut guards[positions[0]], &keys[0].1, !ctx.client.no_touch)?;
    ctx.record_lookup(zset.is_some());
    let zset = zset.map(|z| &*z);
    let query = parse(args, form, zset)?;
    let points = match (zset, &query.shape) {
        (Some(zset), Some(shape)) => results(zset, shape, &query),
        _ => Vec::new(),
    };
    let conversion = query.shape.map_or(1.0, |s| s.conversion);
    let Some((_, storedist)) = query.store else {
        drop(guards);
        reply_points(ctx, &query, &points, conversion);
        return Ok(());
    };
    let Some(&dst_at) = positions.get(1) else {
        return Err(CmdError::msg("ERR the destination key could not be found"));
    };
    let elements: Vec<(f64, Vec<u8>)> = points
        .into_iter()
        .map(|p| {
            (
                if storedist {
                    p.dist / conversion
                } else {
                    p.score
                },
                p.member,
            )
        })
        .collect();
    let event = if form.origin == Origin::Options {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    store_result(
        &mut guards[dst_at],
        &keys[1].1,
        &elements,
        &limits,
        ctx.events(),
        event,
    );
    drop(guards);
    ctx.out.integer(elements.len() as i64);
    Ok(())
}

/// Sorts by distance as Redis does: a full (stable) sort when every point is
/// returned, else its partial quicksort of the first `returned`.
fn sort_points(points: &mut [Point], returned: usize, order: Order) {
    let cmp = |a: &Point, b: &Point| {
        let asc = a
            .dist
            .partial_cmp(&b.dist)
            .unwrap_or(std::cmp::Ordering::Equal);
        if order == Order::Asc {
            asc
        } else {
            asc.reverse()
        }
    };
    if returned == points.len() {
        points.sort_by(cmp);
    } else if returned > 0 {
        pqsort(points, 0, returned - 1, cmp);
    }
}

/// The reply of a search that does not store: members, or per member an
/// array with the options asked for (distance, hash, coordinates).
fn reply_points(ctx: &mut Ctx<'_>, query: &Query<'_>, points: &[Point], conversion: f64) {
    let out = &mut *ctx.out;
    let options = [query.withdist, query.withhash, query.withcoord]
        .iter()
        .filter(|&&on| on)
        .count();
    out.array(points.len());
    for point in points {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(&point.member);
        if query.withdist {
            out.bulk(format::distance(point.dist / conversion).as_bytes());
        }
        if query.withhash {
            out.integer(point.score as i64);
        }
        if query.withcoord {
            reply_position(out, point.longitude, point.latitude);
        }
    }
}
