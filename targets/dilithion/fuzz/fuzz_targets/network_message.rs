//! P2P message parse → serialize round trip; bad magic, size, command and checksum are
//! rejected with the right error, in header order. Known payloads round trip too.
//! Input: raw wire bytes, parsed as a mainnet message.
#![no_main]

use dilithion_core::message::{COMMAND_BYTES, HEADER_BYTES, Message, MessageError, Network};
use dilithion_core::params::MAX_PAYLOAD_BYTES;
use dilithion_core::payload::Payload;
use dilithion_fuzz::ref_double_sha3;
use libfuzzer_sys::fuzz_target;

/// The error a conforming parser must return, restated from the wire format.
fn expected(data: &[u8], magic: u32) -> Result<usize, &'static str> {
    if data.len() < HEADER_BYTES {
        return Err("TruncatedHeader");
    }
    if u32::from_le_bytes(data[0..4].try_into().unwrap()) != magic {
        return Err("BadMagic");
    }
    let cmd = &data[4..4 + COMMAND_BYTES];
    let len = cmd.iter().position(|b| *b == 0).unwrap_or(COMMAND_BYTES);
    if len == 0
        || !cmd[..len].iter().all(|b| (0x20..=0x7e).contains(b))
        || cmd[len..].iter().any(|b| *b != 0)
    {
        return Err("Command");
    }
    let size = u32::from_le_bytes(data[16..20].try_into().unwrap());
    if size > MAX_PAYLOAD_BYTES {
        return Err("PayloadTooLarge");
    }
    let end = HEADER_BYTES + size as usize;
    if data.len() < end {
        return Err("TruncatedPayload");
    }
    if ref_double_sha3(&data[HEADER_BYTES..end])[..4] != data[20..24] {
        return Err("BadChecksum");
    }
    Ok(end)
}

fn name(e: &MessageError) -> &'static str {
    match e {
        MessageError::TruncatedHeader { .. } => "TruncatedHeader",
        MessageError::BadMagic { .. } => "BadMagic",
        MessageError::PayloadTooLarge { .. } => "PayloadTooLarge",
        MessageError::TruncatedPayload { .. } => "TruncatedPayload",
        MessageError::BadChecksum => "BadChecksum",
        MessageError::EmptyCommand
        | MessageError::CommandNotAscii { .. }
        | MessageError::CommandBadPadding(_)
        | MessageError::CommandTooLong(_) => "Command",
    }
}

fuzz_target!(|data: &[u8]| {
    let magic = Network::Mainnet.magic();
    let got = Message::decode(data, magic);
    match (&got, expected(data, magic)) {
        (Ok((msg, used)), Ok(end)) => {
            assert_eq!(*used, end);
            assert_eq!(
                msg.encode().unwrap(),
                data[..end],
                "parse → serialize is not the identity"
            );
            if let Ok(payload) = Payload::decode(msg.command.as_str(), &msg.payload) {
                assert_eq!(payload.encode(), msg.payload, "payload round trip");
            }
        }
        (Err(e), Err(want)) => assert_eq!(name(e), want, "{e:?}"),
        (got, want) => panic!("parser said {got:?}, rules say {want:?}"),
    }
});
