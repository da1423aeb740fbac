//! CAR v1: the hand-written files in `fixtures/wire/car/`, and read/write properties.

use proptest::collection::vec;
use proptest::prelude::*;
use wire::car::{Car, CarLimits, read_car, write_car};
use wire::cid::Cid;

use crate::cbor::{Expect, read_cases};
use crate::support;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn describe(car: &Car) -> serde_json::Value {
    serde_json::json!({
        "roots": car.roots.iter().map(Cid::to_string).collect::<Vec<_>>(),
        "blocks": car.blocks.iter().map(|(cid, bytes)| [cid.to_string(), hex(bytes)]).collect::<Vec<_>>(),
        "unverified": car.verify_blocks().iter().map(Cid::to_string).collect::<Vec<_>>(),
    })
}

#[test]
fn golden_cases() {
    let dir = support::wire_fixtures("car");
    let cases = read_cases(&dir);
    assert!(!cases.is_empty(), "no golden cases in {}", dir.display());
    let limits = CarLimits::default();
    let mut failures = Vec::new();
    for (file, case) in &cases {
        let at = format!("{file}:{}", case.line);
        match (&case.expect, read_car(&case.bytes, &limits)) {
            (Expect::Ok(json), Ok(car)) => {
                let expected: serde_json::Value = serde_json::from_str(json).unwrap();
                let got = describe(&car);
                if got != expected {
                    failures.push(format!("{at}: got {got}, expected {expected}"));
                }
                if car.blocks.iter().all(|(cid, bytes)| cid.verifies(bytes))
                    && write_car(&car.roots, &car.blocks) != case.bytes
                {
                    failures.push(format!("{at}: writing it back gave different bytes"));
                }
            }
            (Expect::Ok(_), Err(e)) => failures.push(format!("{at}: expected ok, got {e}")),
            (Expect::Err(kind), Ok(car)) => {
                failures.push(format!("{at}: expected {kind}, got {car:?}"))
            }
            (Expect::Err(kind), Err(e)) => {
                if e.kind() != kind {
                    failures.push(format!("{at}: expected {kind}, got {} ({e})", e.kind()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn get_finds_blocks_by_cid() {
    let blocks: Vec<(Cid, Vec<u8>)> = [&b"\xa0"[..], b"\x80", b"\x01"]
        .iter()
        .map(|b| (Cid::for_dag_cbor(b), b.to_vec()))
        .collect();
    let car = read_car(&write_car(&[blocks[0].0], &blocks), &CarLimits::default()).unwrap();
    assert_eq!(car.root(), Some(&blocks[0].0));
    assert_eq!(car.get(&blocks[1].0), Some(&b"\x80"[..]));
    assert_eq!(car.get(&Cid::for_raw(b"absent")), None);
}

#[test]
fn limits_are_enforced() {
    let block = vec![0u8; 100];
    let cid = Cid::for_raw(&block);
    let bytes = write_car(&[cid], &[(cid, block)]);
    let too_small = CarLimits {
        max_bytes: bytes.len() - 1,
        ..CarLimits::default()
    };
    assert_eq!(
        read_car(&bytes, &too_small).unwrap_err().kind(),
        "too-large"
    );
    let small_blocks = CarLimits {
        max_block_bytes: 99,
        ..CarLimits::default()
    };
    assert_eq!(
        read_car(&bytes, &small_blocks).unwrap_err().kind(),
        "block-too-large"
    );
    assert!(read_car(&bytes, &CarLimits::firehose()).is_ok());
}

fn arb_blocks() -> impl Strategy<Value = Vec<(Cid, Vec<u8>)>> {
    vec(
        (vec(any::<u8>(), 0..64), any::<bool>()).prop_map(|(bytes, raw)| {
            let cid = if raw {
                Cid::for_raw(&bytes)
            } else {
                Cid::for_dag_cbor(&bytes)
            };
            (cid, bytes)
        }),
        0..8,
    )
}

proptest! {
    #[test]
    fn write_then_read(blocks in arb_blocks(), root_count in 0usize..3) {
        let roots: Vec<Cid> = blocks.iter().take(root_count).map(|(cid, _)| *cid).collect();
        let bytes = write_car(&roots, &blocks);
        let car = read_car(&bytes, &CarLimits::default()).unwrap();
        prop_assert!(car.verify_blocks().is_empty());
        prop_assert_eq!(car, Car { roots, blocks });
    }

    #[test]
    fn a_tampered_block_is_reported(blocks in arb_blocks().prop_filter("need a block", |b| !b.is_empty()), pick in any::<prop::sample::Index>()) {
        let mut blocks = blocks;
        let i = pick.index(blocks.len());
        blocks[i].1.push(0xff);
        let car = read_car(&write_car(&[], &blocks), &CarLimits::default()).unwrap();
        prop_assert!(car.verify_blocks().contains(&blocks[i].0));
    }

    #[test]
    fn truncation_is_an_error_or_a_prefix(blocks in arb_blocks()) {
        // A cut between sections leaves a valid, shorter file; any other cut is an error.
        let bytes = write_car(&[], &blocks);
        for cut in 0..bytes.len() {
            if let Ok(car) = read_car(&bytes[..cut], &CarLimits::default()) {
                prop_assert!(car.blocks.len() < blocks.len());
                prop_assert_eq!(&car.blocks[..], &blocks[..car.blocks.len()]);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = read_car(&bytes, &CarLimits::default());
    }

    #[test]
    fn random_sections_after_a_good_header_never_panic(tail in vec(any::<u8>(), 0..128)) {
        let mut bytes = write_car(&[], &[]);
        bytes.extend(tail);
        let _ = read_car(&bytes, &CarLimits::default());
    }
}
