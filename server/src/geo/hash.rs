//! Redis's geohash (src/geohash.c): longitude and latitude quantised to
//! `step` bits each and interleaved, latitude in the even bits. At step 26
//! the 52 bits are the sorted set score of a GEOADDed member, so the same
//! coordinates give the same score, bit for bit, as in Redis.

/// Bits per coordinate in a stored score (26 * 2 = 52 bits).
pub const STEP_MAX: u8 = 26;

pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

/// A geohash of `step` bits per coordinate (`bits` holds `2 * step` bits).
/// All zero means "no box" (a neighbour the search left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash shifted to 52 bits (Redis's `geohashAlign52Bits`).
    pub fn align52(&self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A closed interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The box a hash stands for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// The ranges Redis encodes stored positions in (EPSG:900913: no poles).
pub const WGS84_LONG: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the 32 bits of `x` to the even bits and those of `y` to the odd.
fn interleave64(x: u32, y: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The inverse of [`interleave64`]: even bits in the low word, odd in the high.
fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Redis's `geohashEncode`: None outside the ranges (or Redis's limits).
pub fn encode(
    long: Range,
    lat: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<HashBits> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat.min || latitude > lat.max || longitude < long.min || longitude > long.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat.min) / (lat.max - lat.min) * scale;
    let long_offset = (longitude - long.min) / (long.max - long.min) * scale;
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// [`encode`] in the ranges stored positions use.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(WGS84_LONG, WGS84_LAT, longitude, latitude, step)
}

/// Redis's `geohashDecode`: the box `hash` stands for.
pub fn decode(long: Range, lat: Range, hash: HashBits) -> Area {
    let separated = deinterleave64(hash.bits);
    let lat_scale = lat.max - lat.min;
    let long_scale = long.max - long.min;
    let ilat = separated as u32;
    let ilong = (separated >> 32) as u32;
    let cells = (1u64 << hash.step) as f64;
    let edge = |i: u32, range: Range, scale: f64| range.min + (f64::from(i) / cells) * scale;
    Area {
        latitude: Range {
            min: edge(ilat, lat, lat_scale),
            max: edge(ilat.wrapping_add(1), lat, lat_scale),
        },
        longitude: Range {
            min: edge(ilong, long, long_scale),
            max: edge(ilong.wrapping_add(1), long, long_scale),
        },
    }
}

/// The centre of `area`, clamped to Redis's limits: (longitude, latitude).
fn centre(area: &Area) -> (f64, f64) {
    let longitude = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let latitude = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (longitude, latitude)
}

/// A score as C's `(uint64_t)` cast turns it into an integer on x86-64
/// (where Redis is tested): in range it truncates; a negative score wraps as
/// a signed integer would, and one past 2^64, NaN or below -2^63 become what
/// the processor's conversion gives. Only scores not written by GEOADD get here.
fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9223372036854775808.0;
    const INDEFINITE: u64 = 1 << 63;
    let signed = |x: f64| {
        if x > -TWO_63 && x < TWO_63 {
            x as i64 as u64
        } else {
            INDEFINITE
        }
    };
    if score >= TWO_63 {
        signed(score - TWO_63) ^ INDEFINITE
    } else {
        signed(score)
    }
}

/// The position a sorted set score stands for (Redis's `decodeGeohash`):
/// any score decodes, as in Redis (a score beyond 52 bits lands at the edge).
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = HashBits {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    centre(&decode(WGS84_LONG, WGS84_LAT, hash))
}

/// The score GEOADD stores for a position inside Redis's limits.
pub fn score_of(longitude: f64, latitude: f64) -> Option<u64> {
    encode_wgs84(longitude, latitude, STEP_MAX).map(|h| h.align52())
}

/// GEOHASH's 11-character standard geohash of a stored score: the position
/// re-encoded with latitudes -90..90 (the 11th character is always `0`,
/// as Redis has only 52 bits).
pub fn standard_geohash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (longitude, latitude) = decode_score(score);
    let long = Range {
        min: -180.0,
        max: 180.0,
    };
    let lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(long, lat, longitude, latitude, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// The bits of the longitude (odd) and of the latitude (even).
const LONG_BITS: u64 = 0xaaaaaaaaaaaaaaaa;
const LAT_BITS: u64 = 0x5555555555555555;

/// Moves `hash` one box along the coordinate whose bits `axis` masks:
/// `d > 0` east (north), `d < 0` west (south), as Redis's `geohash_move_x`
/// (`axis` = [`LONG_BITS`]) and `geohash_move_y` ([`LAT_BITS`]) do.
fn move_along(hash: &mut HashBits, axis: u64, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let mut moving = hash.bits & axis;
    let fixed = hash.bits & !axis;
    let zz = !axis >> shift;
    if d > 0 {
        moving = moving.wrapping_add(zz + 1);
    } else {
        moving |= zz;
        moving = moving.wrapping_sub(zz + 1);
    }
    moving &= axis >> shift;
    hash.bits = moving | fixed;
}

/// The eight boxes around a hash.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neighbours {
    pub north: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub south: HashBits,
    pub north_east: HashBits,
    pub south_east: HashBits,
    pub north_west: HashBits,
    pub south_west: HashBits,
}

/// Redis's `geohashNeighbors`.
pub fn neighbours(hash: HashBits) -> Neighbours {
    let moved = |dx: i8, dy: i8| {
        let mut h = hash;
        move_along(&mut h, LONG_BITS, dx);
        move_along(&mut h, LAT_BITS, dy);
        h
    };
    Neighbours {
        east: moved(1, 0),
        west: moved(-1, 0),
        south: moved(0, -1),
        north: moved(0, 1),
        north_west: moved(-1, 1),
        north_east: moved(1, 1),
        south_east: moved(1, -1),
        south_west: moved(-1, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (u32::MAX, 7),
        ] {
            let separated = deinterleave64(interleave64(x, y));
            assert_eq!((separated as u32, (separated >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn scores_are_redis_scores() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" in Redis 7.0.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(score_of(180.0, 85.05112878), Some(3 << 52));
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn decodes_as_redis() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(
            format!("{lon:.17} {lat:.17}"),
            "13.36138933897018433 38.11555639549629859"
        );
        let (lon, lat) = decode_score(0.0);
        assert_eq!(
            format!("{lon:.17} {lat:.17}"),
            "-179.99999731779098511 -85.05112751263942528"
        );
        // Out-of-range scores convert to integers as Redis on x86-64 does.
        assert_eq!(decode_score(-5.0), decode_score((3u64 << 52) as f64));
        assert_eq!(decode_score(1e300), decode_score(0.0));
    }

    #[test]
    fn standard_geohash_strings() {
        assert_eq!(&standard_geohash(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&standard_geohash(3479447370796909.0), b"sqdtr74hyu0");
    }

    #[test]
    fn neighbours_move_one_box() {
        let hash = encode_wgs84(0.0, 0.0, 2).unwrap();
        let area = decode(WGS84_LONG, WGS84_LAT, hash);
        let n = neighbours(hash);
        let east = decode(WGS84_LONG, WGS84_LAT, n.east);
        assert_eq!(east.longitude.min, area.longitude.max);
        assert_eq!(east.latitude, area.latitude);
        let south = decode(WGS84_LONG, WGS84_LAT, n.south);
        assert_eq!(south.latitude.max, area.latitude.min);
        assert_eq!(south.longitude, area.longitude);
    }
}
