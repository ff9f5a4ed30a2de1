//! BIP-173 / BIP-350 test vectors and round-trip properties for the codec.

use super::*;
use proptest::prelude::*;

const VALID_BECH32: &[&str] = &[
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
];

const VALID_BECH32M: &[&str] = &[
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
];

const INVALID: &[&str] = &[
    "\u{20}1nwldj5",
    "\u{7f}1axkwrx",
    "\u{80}1eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    "de1lg7wt\u{ff}",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
    "M1VUXWEZ",
    "16plkw9",
    "1p2gdwpf",
];

/// The 90-character vectors, built so their length is exact.
fn long_vectors() -> [(String, Variant); 2] {
    [
        (format!("11{}c8247j", "q".repeat(82)), Variant::Bech32),
        (format!("11{}ludsr8", "l".repeat(82)), Variant::Bech32m),
    ]
}

#[test]
fn bip173_bip350_longest_strings() {
    for (s, variant) in long_vectors() {
        assert_eq!(s.len(), 90);
        let d = decode(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(d.variant, variant);
        assert_eq!(encode(&d.hrp, &d.data, variant).unwrap(), s);
    }
}

#[test]
fn bip173_valid_checksums() {
    for s in VALID_BECH32 {
        let d = decode(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(d.variant, Variant::Bech32, "{s}");
        assert_eq!(
            encode(&d.hrp, &d.data, d.variant).unwrap(),
            s.to_ascii_lowercase()
        );
    }
}

#[test]
fn bip350_valid_checksums() {
    for s in VALID_BECH32M {
        let d = decode(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(d.variant, Variant::Bech32m, "{s}");
        assert_eq!(
            encode(&d.hrp, &d.data, d.variant).unwrap(),
            s.to_ascii_lowercase()
        );
    }
}

#[test]
fn bip173_bip350_invalid_strings() {
    for s in INVALID {
        assert!(decode(s).is_err(), "{s:?} should be invalid");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn bip350_valid_witness_addresses() {
    let cases = [
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            0,
            "751e76e8199196d454941c45d1b3a323f1433bd6",
        ),
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            0,
            "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        ),
        (
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            1,
            "751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
        ),
        ("BC1SW50QGDZ25J", 16, "751e"),
        (
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
            2,
            "751e76e8199196d454941c45d1b3a323",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            1,
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        ),
    ];
    for (s, version, program) in cases {
        let a = WitnessAddress::decode(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(a.version, version);
        assert_eq!(a.program, unhex(program));
        assert_eq!(a.encode().unwrap(), s.to_ascii_lowercase());
    }
}

#[test]
fn bip350_invalid_witness_addresses() {
    let cases = [
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "bc1pw5dgrnzv",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "bc1gmk9yu",
    ];
    // The first entry is only invalid for its unexpected hrp "tc"; the others fail the codec or the witness rules.
    assert!(WitnessAddress::decode(cases[0]).is_ok_and(|a| a.hrp == "tc"));
    for s in &cases[1..] {
        assert!(WitnessAddress::decode(s).is_err(), "{s} should be invalid");
    }
}

proptest! {
    #[test]
    fn encode_decode_round_trip(hrp in "[a-z0-9!-/]{1,10}", data in proptest::collection::vec(0u8..32, 0..60), m in any::<bool>()) {
        let variant = if m { Variant::Bech32m } else { Variant::Bech32 };
        let s = encode(&hrp, &data, variant).unwrap();
        let d = decode(&s).unwrap();
        prop_assert_eq!(d, Decoded { hrp, data, variant });
    }

    #[test]
    fn witness_round_trip(version in 0u8..=16, program in proptest::collection::vec(any::<u8>(), 2..=40)) {
        let program = if version == 0 { let mut p = program; p.resize(20, 7); p } else { program };
        let a = WitnessAddress { hrp: "dil".into(), version, program };
        prop_assert_eq!(WitnessAddress::decode(&a.encode().unwrap()).unwrap(), a);
    }

    #[test]
    fn bits_round_trip(data in proptest::collection::vec(any::<u8>(), 0..50)) {
        let five = convert_bits(&data, 8, 5, true).unwrap();
        prop_assert_eq!(convert_bits(&five, 5, 8, false).unwrap(), data);
    }
}
