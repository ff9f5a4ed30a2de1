// The block subsidy never grows with height.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (size < 8) return 0;
    uint32_t h = read_le32(data) % 10000000;
    if (consensus::subsidy(h + 1) > consensus::subsidy(h)) std::abort();
    return 0;
}
