// Transaction parsing of arbitrary bytes.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    consensus::Tx tx;
    consensus::parse_tx(data, size, &tx);
    return 0;
}
