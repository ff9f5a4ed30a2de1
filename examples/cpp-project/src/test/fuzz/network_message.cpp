// A network message header: magic, command, length, checksum.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    net::Message m;
    net::parse_message(data, size, &m);
    return 0;
}
