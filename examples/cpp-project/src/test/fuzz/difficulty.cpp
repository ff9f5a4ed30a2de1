// Compact difficulty bits to a target: every 32-bit value is either refused or decoded.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint64_t target = 0;
    if (consensus::compact_to_target(read_le32(data), &target)) consensus::target_to_compact(target);
    return 0;
}
