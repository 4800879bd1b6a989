//! Geospatial math behind the GEO commands, ported from Redis 7.0 so that
//! stored scores, search results and printed numbers are Redis's own:
//! `hash` (geohash.c: 52-bit interleaved scores, neighbours), `shape`
//! (geohash_helper.c: distances, search areas), `pqsort` (pqsort.c) and
//! `format` (how replies print distances).

pub mod format;
pub mod hash;
pub mod pqsort;
pub mod shape;
