//! Redis's search geometry (src/geohash_helper.c): the shape a search covers,
//! the haversine distance with Redis's earth radius, and the nine geohash
//! boxes (a centre box and its neighbours) whose score ranges hold every
//! point of the shape.

use std::f64::consts::PI;

use super::hash::{self, HashBits, WGS84_LAT, WGS84_LONG};

/// Earth's quadratic mean radius for WGS-84, as Redis uses it.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

fn deg_rad(angle: f64) -> f64 {
    angle * (PI / 180.0)
}

fn rad_deg(angle: f64) -> f64 {
    angle / (PI / 180.0)
}

/// The distance in meters along a meridian (Redis's `geohashGetLatDistance`).
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine great-circle distance in meters (Redis's `geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What a search covers, in the unit it was asked in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search area: its centre, extent and the unit's size in meters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub longitude: f64,
    pub latitude: f64,
    pub extent: Extent,
    /// Meters per unit (m 1, km 1000, ft 0.3048, mi 1609.34).
    pub conversion: f64,
}

/// The bounding box of a shape: (min lon, min lat, max lon, max lat).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    min_lon: f64,
    min_lat: f64,
    max_lon: f64,
    max_lat: f64,
}

impl Shape {
    /// The distance from the centre to `(lon, lat)` in meters if the point
    /// is inside the shape (Redis's `geoWithinShape`).
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(radius) => {
                let d = distance(self.longitude, self.latitude, lon, lat);
                (d <= radius * self.conversion).then_some(d)
            }
            Extent::Box { width, height } => {
                let (width, height) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.latitude) > height / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.longitude, lat) > width / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, lon, lat))
            }
        }
    }

    /// Half the height and half the width in meters.
    fn half_sides(&self) -> (f64, f64) {
        match self.extent {
            Extent::Radius(r) => (r * self.conversion, r * self.conversion),
            Extent::Box { width, height } => (
                height / 2.0 * self.conversion,
                width / 2.0 * self.conversion,
            ),
        }
    }

    /// The distance from the centre to the farthest corner, in meters.
    fn reach(&self) -> f64 {
        let units = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        units * self.conversion
    }

    /// Redis's `geohashBoundingBox`.
    fn bounds(&self) -> Bounds {
        let (height, width) = self.half_sides();
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.latitude + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.latitude - lat_delta).cos());
        let long_delta = if self.latitude < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        Bounds {
            min_lon: self.longitude - long_delta,
            max_lon: self.longitude + long_delta,
            min_lat: self.latitude - lat_delta,
            max_lat: self.latitude + lat_delta,
        }
    }
}

/// The geohash precision for boxes a search of `range_meters` around
/// latitude `lat` uses (Redis's `geohashEstimateStepsByRadius`).
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The boxes to scan for a search, in Redis's order: centre, north, south,
/// east, west, north-east, north-west, south-east, south-west. Boxes the
/// shape cannot reach are zero (Redis's `geohashCalculateAreasByShapeWGS84`).
pub fn search_boxes(shape: &Shape) -> [HashBits; 9] {
    let bounds = shape.bounds();
    let mut steps = estimate_steps(shape.reach(), shape.latitude);
    let encode = |steps| {
        hash::encode(
            WGS84_LONG,
            WGS84_LAT,
            shape.longitude,
            shape.latitude,
            steps,
        )
        .unwrap_or(HashBits {
            bits: 0,
            step: steps,
        })
    };
    let decode = |h| hash::decode(WGS84_LONG, WGS84_LAT, h);
    let mut centre = encode(steps);
    let mut n = hash::neighbours(centre);
    // When the shape is near an edge of the centre box, a box one step
    // larger may be needed for the neighbours to cover it.
    let too_small = decode(n.north).latitude.max < bounds.max_lat
        || decode(n.south).latitude.min > bounds.min_lat
        || decode(n.east).longitude.max < bounds.max_lon
        || decode(n.west).longitude.min > bounds.min_lon;
    if steps > 1 && too_small {
        steps -= 1;
        centre = encode(steps);
        n = hash::neighbours(centre);
    }
    let area = decode(centre);
    if steps >= 2 {
        let zero = HashBits::default();
        if area.latitude.min < bounds.min_lat {
            (n.south, n.south_west, n.south_east) = (zero, zero, zero);
        }
        if area.latitude.max > bounds.max_lat {
            (n.north, n.north_east, n.north_west) = (zero, zero, zero);
        }
        if area.longitude.min < bounds.min_lon {
            (n.west, n.south_west, n.north_west) = (zero, zero, zero);
        }
        if area.longitude.max > bounds.max_lon {
            (n.east, n.south_east, n.north_east) = (zero, zero, zero);
        }
    }
    [
        centre,
        n.north,
        n.south,
        n.east,
        n.west,
        n.north_east,
        n.north_west,
        n.south_east,
        n.south_west,
    ]
}

/// The scores a box holds: `min <= score < max` (Redis's `scoresOfGeoHashBox`).
pub fn box_scores(mut hash: HashBits) -> (f64, f64) {
    let min = hash.align52();
    hash.bits += 1;
    (min as f64, hash.align52() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_palermo_catania() {
        let (lon1, lat1) = hash::decode_score(3479099956230698.0);
        let (lon2, lat2) = hash::decode_score(3479447370796909.0);
        // GEODIST Sicily Palermo Catania in Redis 7.0: 166274.1516.
        let d = distance(lon1, lat1, lon2, lat2);
        assert!((d - 166274.1516).abs() < 0.0001, "{d}");
        assert_eq!(distance(10.0, 20.0, 10.0, 21.0), lat_distance(20.0, 21.0));
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
    }

    #[test]
    fn box_contains_by_sides() {
        let shape = Shape {
            longitude: 0.0,
            latitude: 0.0,
            extent: Extent::Box {
                width: 200.0,
                height: 100.0,
            },
            conversion: 1000.0,
        };
        assert!(shape.contains(0.8, 0.0).is_some());
        assert!(shape.contains(0.0, 0.8).is_none());
        let boxes = search_boxes(&shape);
        assert!(!boxes[0].is_zero());
        let (min, max) = box_scores(boxes[0]);
        assert!(min < max);
    }
}
