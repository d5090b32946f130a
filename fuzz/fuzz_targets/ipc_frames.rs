//! IPC framing and messages: bytes from a (possibly hostile) peer are fed
//! to a [`FrameReader`] in pieces and every frame is decoded as both
//! directions' message type. A decoded message re-encodes to a frame that
//! decodes to the same message.
#![no_main]

use ipc_proto::{decode, encode, FrameReader, FromRealm, ToRealm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let mut reader = FrameReader::new();
    for chunk in stream.chunks(piece) {
        // Half the time through spare()/filled(), as the real reader does.
        if piece % 2 == 0 {
            let want = chunk.len() + 7;
            let spare = reader.spare(want);
            spare[..chunk.len()].copy_from_slice(chunk);
            reader.filled(chunk.len(), want);
        } else {
            reader.extend(chunk);
        }
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    if let Ok(msg) = decode::<ToRealm>(frame) {
                        let mut out = Vec::new();
                        encode(&msg, &mut out).expect("re-encode");
                        assert_eq!(decode::<ToRealm>(&out[4..]).ok(), Some(msg));
                    }
                    if let Ok(msg) = decode::<FromRealm>(frame) {
                        let mut out = Vec::new();
                        encode(&msg, &mut out).expect("re-encode");
                        assert_eq!(decode::<FromRealm>(&out[4..]).ok(), Some(msg));
                    }
                }
                Ok(None) => break,
                Err(_) => return, // the link is dropped
            }
        }
    }
});
