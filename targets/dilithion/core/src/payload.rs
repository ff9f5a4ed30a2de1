//! P2P payloads this port understands: `version`, `inv` and `tx`.

use crate::compactsize::{read_length, read_var_bytes, write_compact_size, write_var_bytes};
use crate::hash::Hash256;
use crate::params::{MAX_INV_ENTRIES, MAX_USER_AGENT_BYTES};
use crate::reader::{DecodeError, Reader};
use crate::tx::Transaction;

/// A network address as carried in `version` (no timestamp), Bitcoin layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetAddr {
    /// Service bits.
    pub services: u64,
    /// IPv6 or IPv4-mapped address.
    pub ip: [u8; 16],
    /// Port, big-endian on the wire.
    pub port: u16,
}

impl NetAddr {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.services.to_le_bytes());
        out.extend_from_slice(&self.ip);
        out.extend_from_slice(&self.port.to_be_bytes());
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(NetAddr {
            services: r.u64_le()?,
            ip: r.array()?,
            port: u16::from_be_bytes(r.array()?),
        })
    }
}

/// The `version` handshake message (protocol 70001 layout, relay flag included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMessage {
    /// Protocol version of the sender.
    pub version: i32,
    /// Services of the sender.
    pub services: u64,
    /// Sender's clock, seconds since the epoch.
    pub timestamp: i64,
    /// Address of the receiver as seen by the sender.
    pub addr_recv: NetAddr,
    /// Address of the sender.
    pub addr_from: NetAddr,
    /// Random nonce to detect self-connections.
    pub nonce: u64,
    /// User agent, at most 256 bytes.
    pub user_agent: Vec<u8>,
    /// Sender's best height.
    pub start_height: i32,
    /// Whether the sender wants transaction relay (BIP-37), a 0/1 byte.
    pub relay: bool,
}

impl VersionMessage {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(86 + self.user_agent.len());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.services.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        self.addr_recv.encode_to(&mut out);
        self.addr_from.encode_to(&mut out);
        out.extend_from_slice(&self.nonce.to_le_bytes());
        write_var_bytes(&mut out, &self.user_agent);
        out.extend_from_slice(&self.start_height.to_le_bytes());
        out.push(u8::from(self.relay));
        out
    }

    /// Parses exactly one `version` payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let msg = VersionMessage {
            version: r.i32_le()?,
            services: r.u64_le()?,
            timestamp: r.i64_le()?,
            addr_recv: NetAddr::decode_from(&mut r)?,
            addr_from: NetAddr::decode_from(&mut r)?,
            nonce: r.u64_le()?,
            user_agent: read_var_bytes(&mut r, "user agent length", MAX_USER_AGENT_BYTES)?,
            start_height: r.i32_le()?,
            relay: match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::InvalidValue { field: "relay" }),
            },
        };
        r.finish()?;
        Ok(msg)
    }
}

/// One inventory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvItem {
    /// Object type: 1 = tx, 2 = block (others are carried as is).
    pub kind: u32,
    /// Object hash.
    pub hash: Hash256,
}

/// Inventory type of a transaction.
pub const INV_TX: u32 = 1;
/// Inventory type of a block.
pub const INV_BLOCK: u32 = 2;

/// Encodes an `inv` payload.
pub fn encode_inv(items: &[InvItem]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + 36 * items.len());
    write_compact_size(&mut out, items.len() as u64);
    for item in items {
        out.extend_from_slice(&item.kind.to_le_bytes());
        out.extend_from_slice(&item.hash.0);
    }
    out
}

/// Parses exactly one `inv` payload of at most 50,000 entries.
pub fn decode_inv(bytes: &[u8]) -> Result<Vec<InvItem>, DecodeError> {
    let mut r = Reader::new(bytes);
    let count = read_length(&mut r, "inv count", MAX_INV_ENTRIES)?;
    let mut items = Vec::with_capacity(r.capacity_for(count, 36));
    for _ in 0..count {
        items.push(InvItem {
            kind: r.u32_le()?,
            hash: Hash256(r.array()?),
        });
    }
    r.finish()?;
    Ok(items)
}

/// A payload decoded according to its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `version`
    Version(VersionMessage),
    /// `inv`
    Inv(Vec<InvItem>),
    /// `tx`
    Tx(Transaction),
    /// Any other command; payload kept opaque.
    Other(Vec<u8>),
}

impl Payload {
    /// Decodes `bytes` as the payload of `command`.
    pub fn decode(command: &str, bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(match command {
            "version" => Payload::Version(VersionMessage::decode(bytes)?),
            "inv" => Payload::Inv(decode_inv(bytes)?),
            "tx" => Payload::Tx(Transaction::decode(bytes)?),
            _ => Payload::Other(bytes.to_vec()),
        })
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Payload::Version(v) => v.encode(),
            Payload::Inv(items) => encode_inv(items),
            Payload::Tx(tx) => tx.encode(),
            Payload::Other(bytes) => bytes.clone(),
        }
    }

    /// The command this payload travels under (`None` for opaque payloads).
    pub fn command(&self) -> Option<&'static str> {
        match self {
            Payload::Version(_) => Some("version"),
            Payload::Inv(_) => Some("inv"),
            Payload::Tx(_) => Some("tx"),
            Payload::Other(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use proptest::prelude::*;

    #[test]
    fn version_round_trip_and_relay_byte() {
        let v = fixture::sample_version();
        let mut bytes = v.encode();
        assert_eq!(VersionMessage::decode(&bytes), Ok(v));
        *bytes.last_mut().unwrap() = 2;
        assert_eq!(
            VersionMessage::decode(&bytes),
            Err(DecodeError::InvalidValue { field: "relay" })
        );
    }

    #[test]
    fn oversized_inv_is_rejected_before_allocating() {
        let bytes = [0xfe, 0xff, 0xff, 0xff, 0x00];
        assert!(matches!(
            decode_inv(&bytes),
            Err(DecodeError::LengthOverLimit { .. })
        ));
    }

    proptest! {
        #[test]
        fn inv_round_trip(items in proptest::collection::vec((any::<u32>(), any::<[u8; 32]>()), 0..20)) {
            let items: Vec<InvItem> = items.into_iter().map(|(kind, h)| InvItem { kind, hash: Hash256(h) }).collect();
            prop_assert_eq!(decode_inv(&encode_inv(&items)), Ok(items));
        }

        #[test]
        fn version_round_trip(agent in proptest::collection::vec(any::<u8>(), 0..=256), nonce in any::<u64>(), relay in any::<bool>()) {
            let v = VersionMessage { user_agent: agent, nonce, relay, ..fixture::sample_version() };
            prop_assert_eq!(VersionMessage::decode(&v.encode()), Ok(v));
        }
    }
}
