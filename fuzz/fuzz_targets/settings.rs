//! Arena settings packet (S2C 0x0F): any bytes are accepted or refused
//! cleanly; accepted ones read back every field and checksum without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ss_proto::settings::{fields, ArenaSettings};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = ArenaSettings::from_bytes(data) {
        assert_eq!(&s.as_bytes()[..], data);
        let _ = s.checksum(0x1234_5678);
        let _ = s.prize_weights();
        for f in fields().step_by(17) {
            let _ = s.field(f.section, f.key);
        }
        for ship in 0..8 {
            let _ = s.ship_field(ship, "InitialEnergy");
        }
        let again = ArenaSettings::from_bytes(s.as_bytes()).expect("round trip");
        assert_eq!(again.as_bytes(), s.as_bytes());
    }
});
