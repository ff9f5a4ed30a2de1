// Validation agrees with parsing.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    std::string s(reinterpret_cast<const char *>(data), size);
    addr::Address a;
    if (addr::is_valid(s) != addr::parse(s, &a)) std::abort();
    return 0;
}
