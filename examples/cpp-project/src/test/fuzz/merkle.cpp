// The merkle root of the input's 32-byte leaves is deterministic.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    std::vector<consensus::Hash> leaves;
    for (size_t i = 0; i + 32 <= size; i += 32) leaves.push_back(consensus::hash(data + i, 32));
    if (consensus::merkle_root(leaves) != consensus::merkle_root(leaves)) std::abort();
    return 0;
}
