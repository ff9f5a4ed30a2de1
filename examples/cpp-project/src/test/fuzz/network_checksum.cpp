// The message checksum is a function of the payload.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (net::checksum(data, size) != net::checksum(data, size)) std::abort();
    return 0;
}
