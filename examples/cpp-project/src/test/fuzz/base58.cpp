// Base58: what decodes re-encodes to the same text.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    std::string s(reinterpret_cast<const char *>(data), size);
    std::vector<uint8_t> bytes;
    if (addr::base58_decode(s, &bytes) && addr::base58_encode(bytes) != s) std::abort();
    return 0;
}
