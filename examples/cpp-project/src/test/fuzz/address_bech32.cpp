// Bech32-style checksum of lowercase text.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    addr::bech32_checksum(std::string(reinterpret_cast<const char *>(data), size));
    return 0;
}
