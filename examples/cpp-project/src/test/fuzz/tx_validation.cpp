// A transaction's structure checks never accept outputs that sum past the money supply.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    consensus::Tx tx;
    if (consensus::parse_tx(data, size, &tx) && consensus::check_tx(tx) && consensus::tx_value(tx) > consensus::MAX_MONEY) std::abort();
    return 0;
}
