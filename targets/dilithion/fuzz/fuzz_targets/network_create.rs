//! Building a message then parsing it gives back the same fields, for every network,
//! command and payload; another network's magic is refused; typed payloads survive.
//! Input: u8 network/mode, u8 command length, command bytes, payload bytes.
#![no_main]

use dilithion_core::Hash256;
use dilithion_core::fixture::sample_version;
use dilithion_core::message::{Command, Message, MessageError, Network};
use dilithion_core::payload::{InvItem, Payload};
use dilithion_core::tx::Transaction;
use dilithion_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let selector = input.u8();
    let network = Network::ALL[usize::from(selector % 3)];
    let cmd_len = usize::from(input.u8() % 16);
    let cmd_bytes = input.take(cmd_len);
    let raw = input.rest();

    let payload = match (selector >> 2) % 4 {
        1 => Payload::Version(dilithion_core::payload::VersionMessage {
            user_agent: raw.iter().take(256).copied().collect(),
            ..sample_version()
        }),
        2 => Payload::Inv(
            raw.chunks_exact(36)
                .map(|c| InvItem {
                    kind: u32::from_le_bytes(c[..4].try_into().unwrap()),
                    hash: Hash256(c[4..].try_into().unwrap()),
                })
                .collect(),
        ),
        3 => match Transaction::decode(raw) {
            Ok(tx) => Payload::Tx(tx),
            Err(_) => Payload::Other(raw.to_vec()),
        },
        _ => Payload::Other(raw.to_vec()),
    };
    let name = match payload.command() {
        Some(name) => name.to_string(),
        None => match std::str::from_utf8(cmd_bytes) {
            Ok(s) => s.to_string(),
            Err(_) => return,
        },
    };
    let valid =
        !name.is_empty() && name.len() <= 12 && name.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let command = match Command::new(&name) {
        Ok(c) => {
            assert!(valid, "invalid command {name:?} accepted");
            c
        }
        Err(_) => {
            assert!(!valid, "valid command {name:?} refused");
            return;
        }
    };

    let msg = Message::new(network, command, payload.encode());
    let bytes = msg.encode().expect("small payloads frame");
    let (parsed, used) = Message::decode(&bytes, network.magic()).expect("built message parses");
    assert_eq!(used, bytes.len());
    assert_eq!(parsed.magic, network.magic());
    assert_eq!(parsed.command.as_str(), name);
    assert_eq!(parsed.payload, msg.payload);
    match payload.command() {
        // A typed payload decodes back to itself under its command.
        Some(_) => assert_eq!(
            Payload::decode(&name, &parsed.payload).as_ref(),
            Ok(&payload),
            "typed payload changed"
        ),
        // Raw bytes sent under any command: if they decode, they re-encode identically.
        None => {
            if let Ok(typed) = Payload::decode(&name, &parsed.payload) {
                assert_eq!(
                    typed.encode(),
                    parsed.payload,
                    "payload round trip under {name:?}"
                );
            }
        }
    }

    for other in Network::ALL.into_iter().filter(|n| *n != network) {
        assert!(matches!(
            Message::decode(&bytes, other.magic()),
            Err(MessageError::BadMagic { .. })
        ));
    }
});
