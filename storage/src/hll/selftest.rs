//! PFSELFTEST: Redis's self-test of the register code and the estimator
//! (`pfselftestCommand`), with its checks and its error texts.

use rand::Rng;

use super::{dense, HDR_SIZE, REGISTERS, REGISTER_MAX};

const TEST_CYCLES: usize = 1000;
const ELEMENTS: u64 = 10_000_000;

/// Runs the test; `Err` holds Redis's `TESTFAILED ...` error text.
pub fn self_test(sparse_max_bytes: usize) -> Result<(), String> {
    let mut rng = rand::thread_rng();
    // Test 1: registers keep the values set, without touching neighbours.
    let mut registers = vec![0u8; dense::DENSE_BYTES];
    let mut expected = vec![0u8; REGISTERS];
    for _ in 0..TEST_CYCLES {
        for (i, byte) in expected.iter_mut().enumerate() {
            *byte = rng.gen::<u8>() & REGISTER_MAX;
            dense::set(&mut registers, i, *byte);
        }
        for (i, &want) in expected.iter().enumerate() {
            let got = dense::get(&registers, i);
            if got != want {
                return Err(format!(
                    "TESTFAILED Register {i} should be {want} but is {got}"
                ));
            }
        }
    }
    // Test 2: the error stays within bounds, and a dense and a sparse HLL
    // fed the same elements agree.
    let mut dense_hll = super::new_empty();
    super::to_dense(&mut dense_hll).map_err(|e| e.message().to_string())?;
    let mut sparse_hll = super::new_empty();
    let relative_error = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    let count = |hll: &[u8]| super::count(hll).map_err(|e| e.message().to_string());
    for j in 1..=ELEMENTS {
        let element = (j ^ seed).to_le_bytes();
        let (index, pattern) = super::murmur::pattern(&element);
        dense::raise(&mut dense_hll[HDR_SIZE..], index, pattern);
        super::add(&mut sparse_hll, &element, sparse_max_bytes)
            .map_err(|e| e.message().to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < sparse_max_bytes / 2
            && super::encoding(&sparse_hll) != super::Encoding::Sparse
        {
            return Err("TESTFAILED sparse encoding not used".to_string());
        }
        let estimate = count(&dense_hll)?;
        if estimate != count(&sparse_hll)? {
            return Err("TESTFAILED dense/sparse disagree".to_string());
        }
        let max_error = if j == 10 {
            // Collisions make a larger error at 10 statistically likely.
            1
        } else {
            (relative_error * 6.0 * checkpoint as f64).ceil() as u64
        };
        let error = checkpoint.abs_diff(estimate);
        if error > max_error {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{error}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}
