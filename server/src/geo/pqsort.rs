//! Redis's partial quicksort (src/pqsort.c, Bentley & McIlroy's qsort that
//! only recurses into partitions overlapping the wanted range). GEORADIUS
//! with COUNT sorts this way; porting it keeps the order of points at equal
//! distances the same as Redis's (the sort is not stable).

use std::cmp::Ordering;

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]).is_lt() {
        if cmp(&v[b], &v[c]).is_lt() {
            b
        } else if cmp(&v[a], &v[c]).is_lt() {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]).is_gt() {
        b
    } else if cmp(&v[a], &v[c]).is_lt() {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements from `a` with the `n` from `b`, pairwise in order.
fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Sorts `v` so that positions `lo..=hi` hold what a full sort would put
/// there (the rest is partitioned around them), exactly as Redis's `pqsort`.
pub fn pqsort<T>(v: &mut [T], lo: usize, hi: usize, cmp: impl Fn(&T, &T) -> Ordering) {
    sort_part(v, 0, v.len(), lo, hi, &cmp);
}

/// `_pqsort` on `v[start..start + n]`.
fn sort_part<T>(
    v: &mut [T],
    mut start: usize,
    mut n: usize,
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    loop {
        let a = start;
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]).is_gt() {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        // pc may end at `a` (one below pb), as the C pointer does.
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let order = cmp(&v[pb], &v[a]);
                if order.is_gt() {
                    break;
                }
                if order.is_eq() {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let order = cmp(&v[pc], &v[a]);
                if order.is_lt() {
                    break;
                }
                if order.is_eq() {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let overlaps =
            |s: usize, count: usize| !((lo < s && hi < s) || (lo >= s + count && hi >= s + count));
        let left = pb - pa;
        if left > 1 && overlaps(a, left) {
            sort_part(v, a, left, lo, hi, cmp);
        }
        let right = pd - pc;
        if right > 1 {
            start = pn - right;
            n = right;
            if overlaps(start, n) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_the_wanted_prefix() {
        let mut seed = 12345u64;
        for len in [1usize, 5, 7, 8, 40, 41, 100, 1000] {
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 40) as u32 % 50
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort();
            let hi = len.min(10) - 1;
            pqsort(&mut v, 0, hi, |a, b| a.cmp(b));
            assert_eq!(v[..=hi], sorted[..=hi], "len {len}");
            let mut full = v.clone();
            pqsort(&mut full, 0, len - 1, |a, b| a.cmp(b));
            assert_eq!(full, sorted);
        }
    }
}
