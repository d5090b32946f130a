//! Biller → zone messages (`ss_proto::billing::BillerMessage::decode`):
//! whatever a billing server (or someone spoofing it) sends decodes or
//! fails cleanly, and decoding is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::billing::BillerMessage;

fuzz_target!(|data: &[u8]| {
    let first = BillerMessage::decode(data);
    let second = BillerMessage::decode(data);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("decode is not deterministic"),
    }
});
