// Adding then spending an output leaves the set as it was.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    consensus::UtxoSet set;
    std::string key(reinterpret_cast<const char *>(data), size);
    set.add(key, size);
    if (!set.spend(key) || !set.empty()) std::abort();
    return 0;
}
