// The hash of the same bytes is the same.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (consensus::hash(data, size) != consensus::hash(data, size)) std::abort();
    return 0;
}
