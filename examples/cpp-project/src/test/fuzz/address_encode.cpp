// Encoding a 20-byte payload gives an address that parses back to it.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (size < 20) return 0;
    addr::Address a{addr::Type::P2PKH, std::vector<uint8_t>(data, data + 20)};
    addr::Address b;
    if (!addr::parse(addr::encode(a), &b) || b.payload != a.payload) std::abort();
    return 0;
}
