//! Command field validation: printable ASCII then only NUL padding; wire and string
//! forms round trip. Input: up to 12 bytes used as the wire field (NUL-padded), the
//! same bytes also tried as a command name.
#![no_main]

use dilithion_core::message::{COMMAND_BYTES, Command};
use libfuzzer_sys::fuzz_target;

fn wire_rule(field: &[u8; COMMAND_BYTES]) -> bool {
    let len = field.iter().position(|b| *b == 0).unwrap_or(COMMAND_BYTES);
    len > 0
        && field[..len].iter().all(|b| (0x20..=0x7e).contains(b))
        && field[len..].iter().all(|b| *b == 0)
}

fuzz_target!(|data: &[u8]| {
    let mut field = [0u8; COMMAND_BYTES];
    let n = data.len().min(COMMAND_BYTES);
    field[..n].copy_from_slice(&data[..n]);
    match Command::from_wire(&field) {
        Ok(cmd) => {
            assert!(wire_rule(&field), "{field:02x?} accepted");
            assert_eq!(cmd.to_wire(), field);
            let again = Command::new(cmd.as_str()).expect("a parsed command's name is valid");
            assert_eq!(again, cmd);
        }
        Err(_) => assert!(!wire_rule(&field), "{field:02x?} refused"),
    }

    if let Ok(name) = std::str::from_utf8(data) {
        let valid = !name.is_empty()
            && name.len() <= COMMAND_BYTES
            && name.bytes().all(|b| (0x20..=0x7e).contains(&b));
        match Command::new(name) {
            Ok(cmd) => {
                assert!(valid, "{name:?} accepted");
                assert_eq!(cmd.as_str(), name);
                let mut wire = [0u8; COMMAND_BYTES];
                wire[..name.len()].copy_from_slice(name.as_bytes());
                assert_eq!(cmd.to_wire(), wire, "not NUL-padded");
            }
            Err(_) => assert!(!valid, "{name:?} refused"),
        }
    }
});
