// Address parsing of arbitrary text.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    addr::Address a;
    addr::parse(std::string(reinterpret_cast<const char *>(data), size), &a);
    return 0;
}
