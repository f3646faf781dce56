//! Maps a job key to its partition with a hash whose definition is published.
//!
//! The hash is 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`)
//! over the key's UTF-8 bytes; the partition is `hash % partitions`. It never changes
//! between versions or processes, unlike `std`'s `DefaultHasher`, so every receiver
//! routes one key to the same queue.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    })
}

/// The partition of `key` among `partitions` (which must be at least 1).
pub fn partition_of(key: &str, partitions: u16) -> u16 {
    let p = u64::from(partitions.max(1));
    // The remainder is below `partitions`, so it always fits.
    u16::try_from(fnv1a64(key.as_bytes()) % p).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // Vectors from the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_key_always_lands_in_the_same_partition_within_range() {
        for n in [1u16, 2, 7, 32, 1000] {
            for key in ["default/user/1", "default/group/x", ""] {
                let p = partition_of(key, n);
                assert!(p < n);
                assert_eq!(p, partition_of(key, n));
            }
        }
    }

    #[test]
    fn keys_spread_over_partitions() {
        let mut seen = [0u32; 32];
        for i in 0..3200 {
            seen[usize::from(partition_of(&format!("default/user/{i}"), 32))] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "uneven spread: {seen:?}");
    }
}
