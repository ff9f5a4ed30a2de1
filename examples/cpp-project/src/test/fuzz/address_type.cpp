// The type byte of a parsed address is one of the known types.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    addr::Address a;
    if (addr::parse(std::string(reinterpret_cast<const char *>(data), size), &a) && a.type != addr::Type::P2PKH && a.type != addr::Type::P2SH) std::abort();
    return 0;
}
