//! P2P message framing: 24-byte header (magic, command, size, checksum) and payload.

use crate::hash::checksum4;
use crate::params::MAX_PAYLOAD_BYTES;
use thiserror::Error;

/// Header size.
pub const HEADER_BYTES: usize = 24;
/// Command field width.
pub const COMMAND_BYTES: usize = 12;

/// The networks and their message-start magic (first four bytes, little-endian u32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// Mainnet.
    Mainnet,
    /// Testnet.
    Testnet,
    /// Regression test network.
    Regtest,
}

impl Network {
    /// All networks.
    pub const ALL: [Network; 3] = [Network::Mainnet, Network::Testnet, Network::Regtest];

    /// The magic number, serialized little-endian at the start of each message.
    pub fn magic(self) -> u32 {
        match self {
            Network::Mainnet => 0xD171_4102,
            Network::Testnet => 0xDAB5_BFFA,
            Network::Regtest => 0xFABF_B5DA,
        }
    }
}

/// Why a message or command is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Fewer than 24 bytes.
    #[error("message header truncated: {len} of 24 bytes")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
    },
    /// Magic from another network (or garbage).
    #[error("bad magic {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// Magic in the header.
        found: u32,
        /// Magic of the network we speak.
        expected: u32,
    },
    /// Payload size over 32 MiB.
    #[error("payload of {size} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")]
    PayloadTooLarge {
        /// Announced size.
        size: u32,
    },
    /// Fewer payload bytes than announced.
    #[error("payload truncated: {have} of {size} bytes")]
    TruncatedPayload {
        /// Announced size.
        size: u32,
        /// Bytes available.
        have: usize,
    },
    /// Checksum mismatch.
    #[error("payload checksum mismatch")]
    BadChecksum,
    /// Empty command.
    #[error("empty command")]
    EmptyCommand,
    /// Command longer than 12 bytes.
    #[error("command of {0} bytes is longer than 12")]
    CommandTooLong(usize),
    /// A byte outside printable ASCII (0x20..=0x7e).
    #[error("command byte {byte:#04x} at {index} is not printable ASCII")]
    CommandNotAscii {
        /// Offending byte.
        byte: u8,
        /// Its position.
        index: usize,
    },
    /// A non-NUL byte after the first NUL.
    #[error("command has data after its NUL padding at {0}")]
    CommandBadPadding(usize),
}

/// A validated command: 1..=12 printable ASCII bytes, NUL-padded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    bytes: [u8; COMMAND_BYTES],
    len: u8,
}

impl Command {
    /// Validates a command name.
    pub fn new(name: &str) -> Result<Self, MessageError> {
        let raw = name.as_bytes();
        if raw.is_empty() {
            return Err(MessageError::EmptyCommand);
        }
        if raw.len() > COMMAND_BYTES {
            return Err(MessageError::CommandTooLong(raw.len()));
        }
        // A NUL inside the name would be read back as padding.
        if let Some(index) = raw.iter().position(|b| *b == 0) {
            return Err(MessageError::CommandNotAscii { byte: 0, index });
        }
        let mut bytes = [0u8; COMMAND_BYTES];
        bytes[..raw.len()].copy_from_slice(raw);
        Self::from_wire(&bytes)
    }

    /// Validates the 12-byte wire field: printable ASCII, then only NUL padding.
    pub fn from_wire(field: &[u8; COMMAND_BYTES]) -> Result<Self, MessageError> {
        let len = field.iter().position(|b| *b == 0).unwrap_or(COMMAND_BYTES);
        if len == 0 {
            return Err(MessageError::EmptyCommand);
        }
        if let Some(index) = field[..len].iter().position(|b| !(0x20..=0x7e).contains(b)) {
            return Err(MessageError::CommandNotAscii {
                byte: field[index],
                index,
            });
        }
        if let Some(i) = field[len..].iter().position(|b| *b != 0) {
            return Err(MessageError::CommandBadPadding(len + i));
        }
        Ok(Command {
            bytes: *field,
            len: len as u8,
        })
    }

    /// The 12-byte wire field.
    pub fn to_wire(&self) -> [u8; COMMAND_BYTES] {
        self.bytes
    }

    /// The name without padding.
    pub fn as_str(&self) -> &str {
        // Validated as ASCII on construction.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({:?})", self.as_str())
    }
}

/// A decoded message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// Network magic.
    pub magic: u32,
    /// Command.
    pub command: Command,
    /// Payload length.
    pub payload_size: u32,
    /// First four bytes of the payload's double SHA3-256.
    pub checksum: [u8; 4],
}

impl MessageHeader {
    /// The 24-byte serialization.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..4].copy_from_slice(&self.magic.to_le_bytes());
        out[4..16].copy_from_slice(&self.command.to_wire());
        out[16..20].copy_from_slice(&self.payload_size.to_le_bytes());
        out[20..24].copy_from_slice(&self.checksum);
        out
    }

    /// Parses a header, checking the magic, the command and the size limit.
    pub fn decode(bytes: &[u8], expected_magic: u32) -> Result<Self, MessageError> {
        let h: &[u8; HEADER_BYTES] = bytes
            .get(..HEADER_BYTES)
            .and_then(|b| b.try_into().ok())
            .ok_or(MessageError::TruncatedHeader { len: bytes.len() })?;
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if magic != expected_magic {
            return Err(MessageError::BadMagic {
                found: magic,
                expected: expected_magic,
            });
        }
        let mut field = [0u8; COMMAND_BYTES];
        field.copy_from_slice(&h[4..16]);
        let command = Command::from_wire(&field)?;
        let payload_size = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
        if payload_size > MAX_PAYLOAD_BYTES {
            return Err(MessageError::PayloadTooLarge { size: payload_size });
        }
        Ok(MessageHeader {
            magic,
            command,
            payload_size,
            checksum: [h[20], h[21], h[22], h[23]],
        })
    }
}

/// A framed message: command and payload, checksum verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Network magic.
    pub magic: u32,
    /// Command.
    pub command: Command,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Message {
    /// A message for `network`.
    pub fn new(network: Network, command: Command, payload: Vec<u8>) -> Self {
        Message {
            magic: network.magic(),
            command,
            payload,
        }
    }

    /// Frames the message. Fails only if the payload is over the size limit.
    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let size = u32::try_from(self.payload.len())
            .ok()
            .filter(|s| *s <= MAX_PAYLOAD_BYTES)
            .ok_or(MessageError::PayloadTooLarge {
                size: u32::try_from(self.payload.len()).unwrap_or(u32::MAX),
            })?;
        let header = MessageHeader {
            magic: self.magic,
            command: self.command,
            payload_size: size,
            checksum: checksum4(&self.payload),
        };
        let mut out = Vec::with_capacity(HEADER_BYTES + self.payload.len());
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Parses one message from the start of `bytes`, returning it and the
    /// bytes it used. Checks, in order: header length, magic, command, size
    /// limit, payload length, checksum.
    pub fn decode(bytes: &[u8], expected_magic: u32) -> Result<(Self, usize), MessageError> {
        let header = MessageHeader::decode(bytes, expected_magic)?;
        let size = header.payload_size as usize;
        let payload =
            bytes
                .get(HEADER_BYTES..HEADER_BYTES + size)
                .ok_or(MessageError::TruncatedPayload {
                    size: header.payload_size,
                    have: bytes.len() - HEADER_BYTES,
                })?;
        if checksum4(payload) != header.checksum {
            return Err(MessageError::BadChecksum);
        }
        let msg = Message {
            magic: header.magic,
            command: header.command,
            payload: payload.to_vec(),
        };
        Ok((msg, HEADER_BYTES + size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn command_rules() {
        assert_eq!(Command::new("version").unwrap().as_str(), "version");
        assert_eq!(
            Command::new("verack").unwrap().to_wire(),
            *b"verack\0\0\0\0\0\0"
        );
        assert_eq!(Command::new(""), Err(MessageError::EmptyCommand));
        assert_eq!(
            Command::new("thirteen-byte"),
            Err(MessageError::CommandTooLong(13))
        );
        assert_eq!(
            Command::from_wire(b"tx\0x\0\0\0\0\0\0\0\0"),
            Err(MessageError::CommandBadPadding(3))
        );
        assert_eq!(
            Command::from_wire(b"t\x01\0\0\0\0\0\0\0\0\0\0"),
            Err(MessageError::CommandNotAscii { byte: 1, index: 1 })
        );
    }

    #[test]
    fn errors_in_order() {
        let msg = Message::new(
            Network::Mainnet,
            Command::new("ping").unwrap(),
            vec![1, 2, 3, 4, 5, 6, 7, 8],
        );
        let bytes = msg.encode().unwrap();
        let magic = Network::Mainnet.magic();
        assert_eq!(Message::decode(&bytes, magic), Ok((msg, bytes.len())));
        assert_eq!(
            Message::decode(&bytes[..10], magic),
            Err(MessageError::TruncatedHeader { len: 10 })
        );
        assert!(matches!(
            Message::decode(&bytes, Network::Testnet.magic()),
            Err(MessageError::BadMagic { .. })
        ));
        assert!(matches!(
            Message::decode(&bytes[..30], magic),
            Err(MessageError::TruncatedPayload { size: 8, have: 6 })
        ));
        let mut bad = bytes.clone();
        bad[30] ^= 0x80;
        assert_eq!(Message::decode(&bad, magic), Err(MessageError::BadChecksum));
        let mut big = bytes;
        big[16..20].copy_from_slice(&(MAX_PAYLOAD_BYTES + 1).to_le_bytes());
        assert_eq!(
            Message::decode(&big, magic),
            Err(MessageError::PayloadTooLarge {
                size: MAX_PAYLOAD_BYTES + 1
            })
        );
    }

    #[test]
    fn magic_is_little_endian_on_the_wire() {
        let bytes = Message::new(Network::Mainnet, Command::new("tx").unwrap(), vec![])
            .encode()
            .unwrap();
        assert_eq!(bytes[..4], [0x02, 0x41, 0x71, 0xD1]);
    }

    proptest! {
        #[test]
        fn build_parse_round_trip(cmd in "[ -~]{1,12}", payload in proptest::collection::vec(any::<u8>(), 0..200), net in 0usize..3) {
            let network = Network::ALL[net];
            let msg = Message::new(network, Command::new(&cmd).unwrap(), payload);
            let bytes = msg.encode().unwrap();
            prop_assert_eq!(Message::decode(&bytes, network.magic()), Ok((msg, bytes.len())));
        }
    }
}
