// Command names: printable ASCII, at most 12 bytes.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    net::valid_command(std::string(reinterpret_cast<const char *>(data), size));
    return 0;
}
