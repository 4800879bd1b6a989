//! The module against values real Redis 7.0.15 produced: `testdata/*.bin`
//! are the GET of keys after `PFADD key e<i>...` in batches of 100 elements
//! (`medium`: e0..e499, sparse; `dense`: e0..e19999) and of
//! `PFMERGE merged small medium disjoint` (`small` = a b c, `disjoint` =
//! e500..e1499), each fetched before any PFCOUNT; the counts are Redis's
//! PFCOUNT replies for the same keys.

use super::*;

const MEDIUM: &[u8] = include_bytes!("testdata/medium.bin");
const DENSE: &[u8] = include_bytes!("testdata/dense.bin");
const MERGED: &[u8] = include_bytes!("testdata/merged.bin");

fn pfadd(hll: &mut Vec<u8>, elements: impl Iterator<Item = Vec<u8>>) -> bool {
    let mut updated = false;
    for element in elements {
        updated |= add(hll, &element, DEFAULT_SPARSE_MAX_BYTES).unwrap();
    }
    if updated {
        invalidate_cache(hll);
    }
    updated
}

fn elements(range: std::ops::Range<u32>) -> impl Iterator<Item = Vec<u8>> {
    range.map(|i| format!("e{i}").into_bytes())
}

fn hll_of(range: std::ops::Range<u32>) -> Vec<u8> {
    let mut hll = new_empty();
    pfadd(&mut hll, elements(range));
    hll
}

fn small() -> Vec<u8> {
    let mut hll = new_empty();
    pfadd(&mut hll, [b"a", b"b", b"c"].into_iter().map(|e| e.to_vec()));
    hll
}

#[test]
fn empty_hll_is_redis_bytes() {
    assert_eq!(new_empty(), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
    assert_eq!(count(&new_empty()), Ok(0));
}

#[test]
fn small_sparse_matches_redis() {
    let mut hll = small();
    assert_eq!(
        hll,
        b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ"
    );
    assert_eq!(
        describe_sparse(&hll).unwrap(),
        "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    );
    assert_eq!(cached_count(&mut hll), Ok((3, true)));
    assert_eq!(&hll[8..16], b"\x03\0\0\0\0\0\0\0");
    assert_eq!(cached_count(&mut hll), Ok((3, false)));
}

#[test]
fn sparse_and_dense_match_redis() {
    let mut medium = hll_of(0..500);
    assert_eq!(medium, MEDIUM);
    assert_eq!(cached_count(&mut medium), Ok((506, true)));
    let mut dense = hll_of(0..20000);
    assert_eq!(check(&dense), Ok(Encoding::Dense));
    assert_eq!(dense, DENSE);
    assert_eq!(cached_count(&mut dense), Ok((19901, true)));
    assert_eq!(count(&hll_of(0..200_000)), Ok(200_859));
}

#[test]
fn merge_matches_redis() {
    let mut union = Union::default();
    let mut dest = new_empty();
    for source in [small(), hll_of(0..500), hll_of(500..1500)] {
        union.merge(&source).unwrap();
    }
    union.store(&mut dest, DEFAULT_SPARSE_MAX_BYTES).unwrap();
    assert_eq!(dest, MERGED);
    assert_eq!(union.count(), 1513);
    let mut three = Union::default();
    for source in [hll_of(0..500), hll_of(0..20000), hll_of(0..200_000)] {
        three.merge(&source).unwrap();
    }
    assert_eq!(three.count(), 200_859);
}

#[test]
fn todense_keeps_the_registers() {
    let mut hll = hll_of(0..500);
    let sparse: Vec<u8> = {
        let mut copy = hll.clone();
        to_dense(&mut copy).unwrap();
        dense_registers(&copy).collect()
    };
    assert_eq!(to_dense(&mut hll), Ok(true));
    assert_eq!(to_dense(&mut hll), Ok(false));
    assert_eq!(dense_registers(&hll).collect::<Vec<_>>(), sparse);
    assert_eq!(count(&hll), Ok(506));
    assert_eq!(describe_sparse(&hll), None);
}

#[test]
fn invalid_values_get_redis_errors() {
    assert_eq!(check(b"HYLL"), Err(HllError::NotHll));
    assert_eq!(
        check(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        Err(HllError::NotHll)
    );
    assert_eq!(
        check(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        Err(HllError::NotHll)
    );
    assert_eq!(
        check(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"),
        Err(HllError::NotHll)
    );
    let mut tail = small();
    tail.extend_from_slice(b"hello");
    assert_eq!(check(&tail), Ok(Encoding::Sparse));
    assert_eq!(cached_count(&mut tail), Err(HllError::Corrupted));
    assert_eq!(Union::default().merge(&tail), Err(HllError::Corrupted));
}

#[test]
fn random_corruption_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..2000 {
        let mut hll = hll_of(0..rng.gen_range(0..3000));
        for _ in 0..rng.gen_range(1..6) {
            let at = rng.gen_range(0..hll.len());
            hll[at] = rng.gen();
        }
        if check(&hll).is_err() {
            continue;
        }
        let _ = cached_count(&mut hll.clone());
        let _ = Union::default().merge(&hll);
        let _ = to_dense(&mut hll.clone());
        let _ = add(&mut hll, format!("x{round}").as_bytes(), 3000);
    }
}

#[test]
fn self_test_passes() {
    assert_eq!(self_test(DEFAULT_SPARSE_MAX_BYTES), Ok(()));
}
