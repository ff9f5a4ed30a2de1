// CompactSize decoding: what decodes re-encodes to the same bytes.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    size_t pos = 0;
    uint64_t n = 0;
    if (consensus::read_compact_size(data, size, &pos, &n) && consensus::compact_size_len(n) != pos) std::abort();
    return 0;
}
