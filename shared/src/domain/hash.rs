//! A stable hash for ids and tokens derived from names (idempotency tokens, rule names, jitter seeds).

/// FNV-1a, 128 bits: stable across builds and platforms, which is all a derived id or token needs.
pub fn fnv128(parts: &[&str]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u128::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}
